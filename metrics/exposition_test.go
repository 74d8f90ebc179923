package metrics

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"pgregory.net/rapid"

	"github.com/parachute/reconcile/internal/boxfs"
	"github.com/parachute/reconcile/reconcile"
)

// clientGolang renders r as client_golang's registry does: the reference
// the hand-written exposition must match byte for byte.
func clientGolang(t *rapid.T, r Run, last float64) []byte {
	reg := prometheus.NewRegistry()
	home := prometheus.Labels{"home": r.Home}
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: home})
		g.Set(v)
		reg.MustRegister(g)
	}
	for _, f := range families(r, last) {
		if len(f.samples) == 1 && len(f.samples[0].labels) == 0 {
			gauge(f.name, f.help, f.samples[0].value)
			continue
		}
		var names []string
		for _, l := range f.samples[0].labels {
			names = append(names, l[0])
		}
		vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.name, Help: f.help, ConstLabels: home}, names)
		for _, s := range f.samples {
			var values []string
			for _, l := range s.labels {
				values = append(values, l[1])
			}
			vec.WithLabelValues(values...).Set(s.value)
		}
		reg.MustRegister(vec)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func runGen() *rapid.Generator[Run] {
	return rapid.Custom(func(t *rapid.T) Run {
		shorts := rapid.SliceOfDistinct(rapid.StringMatching(`[a-z][a-z0-9-]{0,12}`), rapid.ID).Draw(t, "modules")
		var mods []reconcile.ModuleReport
		for _, s := range shorts {
			mods = append(mods, reconcile.ModuleReport{Short: s, State: rapid.SampledFrom(moduleStates).Draw(t, "state")})
		}
		return Run{
			// Paths are bytes: quotes, backslashes, newlines and
			// non-ASCII all occur.
			Home:         "/" + rapid.StringOf(rapid.SampledFrom([]rune{'a', 'Z', '/', '"', '\\', '\n', ' ', 'é', '{', '}', '=', ','})).Draw(t, "home"),
			Desired:      rapid.SampledFrom([]string{"supervised", "detached", "absent"}).Draw(t, "desired"),
			Outcome:      rapid.SampledFrom(outcomes).Draw(t, "outcome"),
			Converged:    rapid.Bool().Draw(t, "converged"),
			Changed:      rapid.Bool().Draw(t, "changed"),
			Blockers:     rapid.IntRange(0, 20).Draw(t, "blockers"),
			StepsApplied: rapid.IntRange(0, 2000).Draw(t, "steps"),
			ExitCode:     rapid.SampledFrom([]int{0, 1, 2, 3, 65, 75}).Draw(t, "exit"),
			Duration:     time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(t, "duration")),
			Finished:     time.Unix(rapid.Int64Range(1, 4_000_000_000).Draw(t, "sec"), rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")),
			Modules:      mods,
		}
	})
}

// The exposition is byte for byte what client_golang writes for the same
// gauges, for any home, module list and values.
func TestExpositionMatchesClientGolang(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := runGen().Draw(t, "run")
		last := 0.0
		if rapid.Bool().Draw(t, "converged before") {
			last = float64(rapid.Int64Range(1, 4_000_000_000).Draw(t, "last"))
		}
		var ours bytes.Buffer
		for _, f := range families(r, last) {
			writeFamily(&ours, r.Home, f)
		}
		if want := clientGolang(t, r, last); !bytes.Equal(ours.Bytes(), want) {
			t.Fatalf("exposition differs from client_golang's\nours:\n%s\nclient_golang:\n%s", ours.Bytes(), want)
		}
	})
}

// Whatever the home, the file parses as the text format, and the
// last-converged time a run wrote is the one the next run carries over.
func TestTextfileParsesAndCarriesTheTimestamp(t *testing.T) {
	dir := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		r := runGen().Draw(t, "run")
		if rapid.Bool().Draw(t, "invalid UTF-8") {
			r.Home += "\xff\xfe"
		}
		r.Converged = true
		path := filepath.Join(dir, "p.prom")
		os.Remove(path)
		if err := WriteTextfile(path, r); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("the file does not parse: %v\n%s", err, data)
		}
		got := fams[lastConverged].GetMetric()[0]
		if home := got.GetLabel()[0].GetValue(); home != strings.ToValidUTF8(r.Home, "\uFFFD") {
			t.Fatalf("home label %q, want %q", home, r.Home)
		}
		next := r
		next.Converged, next.Finished = false, r.Finished.Add(time.Minute)
		if err := WriteTextfile(path, next); err != nil {
			t.Fatal(err)
		}
		v, err := readPrevious(t, path, r.Home)
		if err != nil {
			t.Fatal(err)
		}
		if want := unix(r.Finished); math.Abs(v-want) > 1e-6 {
			t.Fatalf("carried over %v, want %v", v, want)
		}
		// Another box's file says nothing of this one.
		if v, _ := readPrevious(t, path, r.Home+"x"); v != 0 {
			t.Fatalf("another home read this home's time: %v", v)
		}
	})
}

// readPrevious is previousConverged of the file at path.
func readPrevious(t *rapid.T, path, home string) (float64, error) {
	dir, err := boxfs.OpenDir(filepath.Dir(path), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	return previousConverged(dir, filepath.Base(path), home)
}
