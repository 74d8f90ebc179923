// Package metrics writes the outcome of a run for node_exporter's textfile
// collector: a file of gauges, replaced atomically after every run, that a
// Prometheus server scrapes through node_exporter
// (--collector.textfile.directory).
//
// The file is the text exposition format 0.0.4, written here rather than
// through client_golang: that library (with protobuf, procfs and expvar
// behind it) cost every run about 4.5 ms of package initialisation — a
// third of a converged cron tick's budget — whether or not --textfile was
// given (bench/README.md, issue 11). Ten gauge families need none of its
// machinery. The file is replaced through internal/boxfs, like every file
// the reconciler writes. The tests check the output byte for byte against what
// client_golang writes for the same gauges and parse it with its parser
// (expfmt); the end-to-end suite has a real node_exporter read it.
//
// Every series carries the box's home as the label "home", so one
// node_exporter can serve the files of several boxes (one file each).
package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// A family is one metric name with its help text and samples.
type family struct {
	name, help string
	samples    []sample
}

// A sample is one series: its labels (other than home, in writeFamily's
// input) and its value.
type sample struct {
	labels [][2]string
	value  float64
}

// WriteTextfile writes r's gauges to path atomically (a temporary file in
// the same directory, synced, then renamed over path, mode 0644), so
// node_exporter never reads half a file. The last-converged timestamp is
// now when r converged, else the one the previous file at path recorded
// (absent when never).
func WriteTextfile(path string, r Run) error {
	// The directory is the operator's (node_exporter's textfile directory):
	// opened once, as configured; the file in it is read and replaced
	// through boxfs, never through a link.
	dir, err := boxfs.OpenDir(filepath.Dir(path), "", nil)
	if err != nil {
		return fmt.Errorf("metrics: %s: %w", filepath.Dir(path), err)
	}
	defer dir.Close()
	name := filepath.Base(path)
	last, err := previousConverged(dir, name, r.Home)
	if err != nil {
		return fmt.Errorf("metrics: read %s: %w", path, err)
	}
	if r.Converged {
		last = unix(r.Finished)
	}
	var buf bytes.Buffer
	for _, f := range families(r, last) {
		writeFamily(&buf, r.Home, f)
	}
	// A temporary file beside it, synced, renamed over it, mode 0644
	// exactly (no umask): node_exporter reads it as another user.
	if _, err := dir.WriteFile(name, buf.Bytes(), 0o644, -1, -1); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	return nil
}

// families are r's gauges, sorted by name as an exposition is; last is the
// last-converged timestamp (0 leaves the family out).
func families(r Run, last float64) []family {
	one := func(name, help string, v float64) family {
		return family{name: name, help: help, samples: []sample{{value: v}}}
	}
	fams := []family{
		one("parachute_reconcile_blockers", "Blockers in the last run's plan: what needs a person.", float64(r.Blockers)),
		one("parachute_reconcile_steps_applied", "Steps the last run applied.", float64(r.StepsApplied)),
		one("parachute_reconcile_changed", "1 when the last run changed the box.", b2f(r.Changed)),
		one("parachute_reconcile_exit_code", "The last run's exit code (0 converged, 1 failed, 3 blocked, …).", float64(r.ExitCode)),
		one("parachute_reconcile_duration_seconds", "How long the last run took.", r.Duration.Seconds()),
		one("parachute_reconcile_last_run_timestamp_seconds", "When the last run ended, in seconds since the epoch.", unix(r.Finished)),
		{name: "parachute_reconcile_converged", help: "1 when the box matches the desired model.",
			samples: []sample{{labels: [][2]string{{"desired", r.Desired}}, value: b2f(r.Converged)}}},
	}
	if last > 0 {
		fams = append(fams, one(lastConverged, "When a run last found or left the box converged, in seconds since the epoch.", last))
	}
	outcome := family{name: "parachute_reconcile_outcome", help: "1 for the last run's outcome, 0 for the others."}
	for _, o := range outcomes {
		outcome.samples = append(outcome.samples, sample{labels: [][2]string{{"outcome", string(o)}}, value: b2f(o == r.Outcome)})
	}
	module := family{name: "parachute_reconcile_module_state", help: "1 for each module's state under the running hub, 0 for its other states."}
	seen := map[string]bool{}
	for _, m := range r.Modules {
		// Two rows may share a short (one module mounted twice): one
		// series each, the first row's, or the file would repeat a series
		// and node_exporter would reject it.
		if seen[m.Short] {
			continue
		}
		seen[m.Short] = true
		for _, st := range moduleStates {
			module.samples = append(module.samples, sample{labels: [][2]string{{"module", m.Short}, {"state", string(st)}}, value: b2f(st == m.State)})
		}
	}
	fams = append(fams, outcome)
	if len(module.samples) > 0 {
		fams = append(fams, module)
	}
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })
	return fams
}

// writeFamily writes f's HELP, TYPE and samples, each sample with home
// among its labels in name order, the samples in the order of their label
// values (as client_golang sorts them).
func writeFamily(b *bytes.Buffer, home string, f family) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", f.name, escapeHelp(f.help), f.name)
	rows := make([]sample, len(f.samples))
	for i, s := range f.samples {
		labels := append(slices.Clone(s.labels), [2]string{"home", home})
		slices.SortFunc(labels, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		rows[i] = sample{labels: labels, value: s.value}
	}
	slices.SortStableFunc(rows, func(a, b sample) int {
		return slices.CompareFunc(a.labels, b.labels, func(x, y [2]string) int { return strings.Compare(x[1], y[1]) })
	})
	for _, s := range rows {
		b.WriteString(f.name)
		b.WriteByte('{')
		for i, l := range s.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l[0])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(l[1]))
			b.WriteByte('"')
		}
		b.WriteString("} ")
		b.WriteString(strconv.FormatFloat(s.value, 'g', -1, 64))
		b.WriteByte('\n')
	}
}

// escapeHelp escapes a HELP text: backslash and newline.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// escapeLabel escapes a label value: backslash, double quote and newline.
// Label values must be UTF-8; a home that is not (a path is bytes) has
// each run of invalid bytes replaced by U+FFFD, the only lossy step: the series
// still names the box to a person, and the file stays readable.
func escapeLabel(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// unescapeLabel reverses escapeLabel's escapes; false for an escape the
// format does not have.
func unescapeLabel(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch s[i] {
		case '\\', '"':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// previousConverged reads the last-converged timestamp of home from the
// file name in dir: 0 when there is none. A file that does not parse is not an
// error (it is replaced); one that cannot be read is.
func previousConverged(dir *boxfs.Dir, name, home string) (float64, error) {
	// Bounded, non-blocking, and never through a FIFO, a device or a link:
	// the directory is node_exporter's, not ours.
	data, _, err := dir.ReadFile(name, maxTextfile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxTextfile)
	for sc.Scan() {
		if v, ok := convergedSample(sc.Text(), home); ok {
			return v, nil
		}
	}
	return 0, nil
}

// convergedSample is the value of line when it is the last-converged
// sample of home as writeFamily writes it: lastConverged{home="…"} value.
func convergedSample(line, home string) (float64, bool) {
	rest, ok := strings.CutPrefix(line, lastConverged+`{home="`)
	if !ok {
		return 0, false
	}
	// The label value ends at the first quote not escaped.
	end := -1
	for i := 0; i < len(rest) && end < 0; i++ {
		switch rest[i] {
		case '\\':
			i++
		case '"':
			end = i
		}
	}
	if end < 0 {
		return 0, false
	}
	label, ok := unescapeLabel(rest[:end])
	if !ok || label != strings.ToValidUTF8(home, "\uFFFD") {
		return 0, false
	}
	num, ok := strings.CutPrefix(rest[end+1:], "} ")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
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
