// Package metrics writes the outcome of a run for node_exporter's textfile
// collector: a file of gauges, replaced atomically after every run, that a
// Prometheus server scrapes through node_exporter
// (--collector.textfile.directory). The exposition is produced by
// client_golang's registry, never by hand.
//
// Every series carries the box's home as the label "home", so one
// node_exporter can serve the files of several boxes (one file each).
package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parachute/reconcile/internal/boxfs"
	"github.com/parachute/reconcile/reconcile"
)

// Run is what one run of the reconciler ended with.
type Run struct {
	Home    string
	Desired string
	Outcome reconcile.Outcome
	// Converged and Changed are the result document's fields: the box
	// matches the model; the run applied at least one step.
	Converged, Changed bool
	Blockers           int
	StepsApplied       int
	ExitCode           int
	Duration           time.Duration
	// Finished is when the run ended (the last-run timestamp).
	Finished time.Time
	// Modules is each module's state under the running hub.
	Modules []reconcile.ModuleReport
}

// outcomes are every outcome a run can end with, so that a dashboard sees
// the ones not taken as 0 rather than as missing.
var outcomes = []reconcile.Outcome{reconcile.OutcomeConverged, reconcile.OutcomeChanges,
	reconcile.OutcomePending, reconcile.OutcomeBlocked, reconcile.OutcomeFailed}

// moduleStates are every module state, for the same reason.
var moduleStates = []reconcile.ModuleState{reconcile.ModuleUp, reconcile.ModuleBooting,
	reconcile.ModuleUnstartable, reconcile.ModuleGivenUp, reconcile.ModuleDown}

// maxTextfile bounds the read of the previous file: ours is a few KiB.
const maxTextfile = 1 << 20

// lastConverged is the one series carried over from the previous file.
const lastConverged = "parachute_reconcile_last_converged_timestamp_seconds"

// WriteTextfile writes r's gauges to path atomically (a temporary file in
// the same directory, then a rename), so node_exporter never reads half a
// file. The last-converged timestamp is now when r converged, else the one
// the previous file at path recorded (absent when never).
func WriteTextfile(path string, r Run) error {
	reg := prometheus.NewRegistry()
	home := prometheus.Labels{"home": r.Home}
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: home})
		g.Set(v)
		reg.MustRegister(g)
	}
	gauge("parachute_reconcile_blockers", "Blockers in the last run's plan: what needs a person.", float64(r.Blockers))
	gauge("parachute_reconcile_steps_applied", "Steps the last run applied.", float64(r.StepsApplied))
	gauge("parachute_reconcile_changed", "1 when the last run changed the box.", b2f(r.Changed))
	gauge("parachute_reconcile_exit_code", "The last run's exit code (0 converged, 1 failed, 3 blocked, …).", float64(r.ExitCode))
	gauge("parachute_reconcile_duration_seconds", "How long the last run took.", r.Duration.Seconds())
	gauge("parachute_reconcile_last_run_timestamp_seconds", "When the last run ended, in seconds since the epoch.", unix(r.Finished))
	last, err := previousConverged(path, r.Home)
	if err != nil {
		return err
	}
	if r.Converged {
		last = unix(r.Finished)
	}
	if last > 0 {
		gauge(lastConverged, "When a run last found or left the box converged, in seconds since the epoch.", last)
	}

	converged := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parachute_reconcile_converged",
		Help: "1 when the box matches the desired model.", ConstLabels: home}, []string{"desired"})
	converged.WithLabelValues(r.Desired).Set(b2f(r.Converged))
	outcome := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parachute_reconcile_outcome",
		Help: "1 for the last run's outcome, 0 for the others.", ConstLabels: home}, []string{"outcome"})
	for _, o := range outcomes {
		outcome.WithLabelValues(string(o)).Set(b2f(o == r.Outcome))
	}
	module := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parachute_reconcile_module_state",
		Help: "1 for each module's state under the running hub, 0 for its other states.", ConstLabels: home}, []string{"module", "state"})
	for _, m := range r.Modules {
		for _, st := range moduleStates {
			module.WithLabelValues(m.Short, string(st)).Set(b2f(st == m.State))
		}
	}
	reg.MustRegister(converged, outcome, module)
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	return nil
}

// previousConverged reads the last-converged timestamp of home from the
// file at path: 0 when there is none. A file that does not parse is not an
// error (it is replaced); one that cannot be read is.
func previousConverged(path, home string) (float64, error) {
	// Bounded, non-blocking, and never through a FIFO or device: the
	// directory is node_exporter's, not ours.
	data, _, err := boxfs.ReadFile(path, maxTextfile, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("metrics: read %s: %w", path, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return 0, nil
	}
	fam := families[lastConverged]
	if fam == nil {
		return 0, nil
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "home" && l.GetValue() == home && m.GetGauge() != nil {
				return m.GetGauge().GetValue(), nil
			}
		}
	}
	return 0, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
