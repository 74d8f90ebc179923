package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// target is the bound on the cutover's overhead over its limit.
const target = 100 * time.Millisecond

// stats are the median, minimum and maximum of some durations.
type stats struct {
	med, min, max time.Duration
	n             int
}

// summarize returns the stats of ds (the median of an even count is the
// mean of the two middle values). ds is not modified.
func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{med: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

// startLimit is the tighter of the run's two measured unit starts.
func (r Run) startLimit() time.Duration { return min(r.StartDBus, r.StartSystemctl) }

// limit is the run's physical limit: the slowest exit plus the start.
func (r Run) limit() time.Duration { return r.StopPortsFree + r.startLimit() }

// overhead is what the cutover spent beyond its limit.
func (r Run) overhead() time.Duration { return r.Cutover - r.limit() }

// overheadWithoutModules is the overhead less the wait-modules step: the
// hub boots its modules after /health answers, and the limit, which ends
// at that answer, includes no such boot.
func (r Run) overheadWithoutModules() time.Duration {
	return r.overhead() - part(r, string(reconcile.WaitModules))
}

// Phase names that are not step actions.
const (
	phaseStartup = "exec → first step-start"
	phaseBetween = "between steps"
	phaseVerify  = "last step-done → exit"
)

// phaseOrder is the order phases are reported in; actions not listed
// follow in the order they first appear.
var phaseOrder = []string{phaseStartup,
	string(reconcile.WriteUnit), string(reconcile.DisableUnit), string(reconcile.Stop), string(reconcile.RemovePidfile),
	string(reconcile.WaitPortFree), string(reconcile.StartUnit), string(reconcile.WaitHealthy),
	string(reconcile.WaitModules), phaseBetween, phaseVerify}

// phases splits a run's wall time into what each part of it was spent on,
// from the arrival times of its events: the time up to a step-done (or
// step-failed) belongs to that step; up to a step-start that follows
// another step-start (the batched stops, all signalled before any is
// waited for) to that step's action; up to a step-start that follows a
// step-done to the bookkeeping between steps; before the first event to
// start-up (exec, flags, spec, lock, bus, observe, plan); after the last
// to the verifying observation and the result document. The parts add up
// to wall. steps counts the steps of each action.
func phases(events []Event, wall time.Duration) (parts map[string]time.Duration, steps map[string]int, order []string) {
	parts, steps = map[string]time.Duration{}, map[string]int{}
	add := func(name string, d time.Duration) {
		if _, ok := parts[name]; !ok {
			order = append(order, name)
		}
		parts[name] += d
	}
	var prev *Event
	for i := range events {
		ev := &events[i]
		d := ev.At
		if prev != nil {
			d = ev.At - prev.At
		}
		switch {
		case ev.Event != "step-start":
			add(string(ev.Action), d)
		case prev == nil:
			add(phaseStartup, d)
		case prev.Event == "step-start":
			add(string(ev.Action), d)
		default:
			add(phaseBetween, d)
		}
		if ev.Event == "step-start" {
			steps[string(ev.Action)]++
		}
		prev = ev
	}
	if prev == nil {
		add(phaseStartup, wall)
	} else {
		add(phaseVerify, wall-prev.At)
	}
	return parts, steps, order
}

// reported is the time the product's own step-done events report for an
// action: the sum of their elapsed values, except for the batched stops,
// whose elapsed all count from the same first signal (so the largest).
func reported(events []Event) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, ev := range events {
		if ev.Event != "step-done" {
			continue
		}
		d, err := time.ParseDuration(ev.Elapsed)
		if err != nil {
			continue
		}
		a := string(ev.Action)
		if ev.Action == reconcile.Stop {
			out[a] = max(out[a], d)
		} else {
			out[a] += d
		}
	}
	return out
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// each maps runs to one duration each.
func each(runs []Run, f func(Run) time.Duration) []time.Duration {
	out := make([]time.Duration, len(runs))
	for i, r := range runs {
		out[i] = f(r)
	}
	return out
}

// render writes the Markdown report of runs.
func render(w io.Writer, runs []Run) {
	cut := summarize(each(runs, func(r Run) time.Duration { return r.Cutover }))
	over := summarize(each(runs, Run.overhead))
	renderFigures(w, runs, cut, over)
	renderTarget(w, runs, over)
	renderPerRun(w, runs)
	renderPhases(w, runs, cut)
	renderOverheadSources(w, runs, over)
	notes(w, runs)
}

// statsRow writes one row of the figures table: what, then s.
func statsRow(w io.Writer, what string, s stats) {
	fmt.Fprintf(w, "| %s | %s | %s | %s |\n", what, ms(s.med), ms(s.min), ms(s.max))
}

// renderFigures writes the run count and the table of the median, minimum
// and maximum of every figure; cut and over are the cutover's and the
// overhead's stats.
func renderFigures(w io.Writer, runs []Run, cut, over stats) {
	var noop []time.Duration
	for _, r := range runs {
		noop = append(noop, r.Noop...)
	}
	noopS := summarize(noop)

	fmt.Fprintf(w, "%d runs, each on a fresh sandbox and a fresh box of ten modules.\n\n", len(runs))
	fmt.Fprintln(w, "| figure | median | min | max |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	statsRow(w, "**cutover**: `parachute reconcile --desired supervised`, exec to exit", cut)
	statsRow(w, "**limit** = stop + start", summarize(each(runs, Run.limit)))
	statsRow(w, "  stop: SIGTERM to every detached process → last declared port free", summarize(each(runs, func(r Run) time.Duration { return r.StopPortsFree })))
	statsRow(w, "  start: unit start → `/health` 2xx from the unit (the faster of the two below)", summarize(each(runs, Run.startLimit)))
	statsRow(w, "**overhead** = cutover − limit", over)
	statsRow(w, "stop, until every signalled process and group is gone", summarize(each(runs, func(r Run) time.Duration { return r.StopProcsGone })))
	statsRow(w, "start over D-Bus (`StartUnit`) → `/health` 2xx", summarize(each(runs, func(r Run) time.Duration { return r.StartDBus })))
	statsRow(w, "  of which the start job (until systemd reported it done)", summarize(each(runs, func(r Run) time.Duration { return r.StartDBusJob })))
	statsRow(w, "start with `systemctl start` → `/health` 2xx", summarize(each(runs, func(r Run) time.Duration { return r.StartSystemctl })))
	statsRow(w, "  of which `systemctl start` (until it exited)", summarize(each(runs, func(r Run) time.Duration { return r.StartSystemctlExit })))
	statsRow(w, fmt.Sprintf("**no-op rerun** on the converged box (%d runs in all, exit 0, zero steps)", noopS.n), noopS)
	fmt.Fprintln(w)
}

// renderTarget writes the verdict on the overhead's median against target,
// and what the overhead would be without the wait-healthy step. The
// verdict leaves out the wait-modules step: the limit ends when the hub
// answers /health, and the boot of its modules that follows is in no limit
// here (section 3 measures it at scale).
func renderTarget(w io.Writer, runs []Run, over stats) {
	bare := summarize(each(runs, Run.overheadWithoutModules))
	verdict := "**met**"
	if bare.med > target {
		verdict = "**missed**"
	}
	fmt.Fprintf(w, "Target: the cutover within %s of its limit. ", ms(target))
	median := "Median"
	if wm := summarize(each(runs, func(r Run) time.Duration { return part(r, string(reconcile.WaitModules)) })); wm.med > 0 {
		fmt.Fprintf(w, "The limit ends when the hub answers `/health`; the hub then boots its modules, and the run waits for them "+
			"(wait-modules, %s median), a boot no limit here includes. Overhead with it: median %s (min %s, max %s). Without it: ",
			ms(wm.med), ms(over.med), ms(over.min), ms(over.max))
		median = "median"
	}
	fmt.Fprintf(w, "%s overhead %s (min %s, max %s): %s.\n\n", median, ms(bare.med), ms(bare.min), ms(bare.max), verdict)
	// What the other parts cost beyond the limit, however long
	// wait-healthy took: a floor for the overhead of a faster wait-healthy.
	rest := summarize(each(runs, func(r Run) time.Duration {
		return r.overheadWithoutModules() - part(r, string(reconcile.WaitHealthy))
	}))
	if wh := summarize(each(runs, func(r Run) time.Duration { return part(r, string(reconcile.WaitHealthy)) })); wh.med > 0 {
		than := "still over"
		if rest.med <= target {
			than = "within"
		}
		fmt.Fprintf(w, "Without its wait-healthy step (%s median), the overhead would be %s (median; min %s, max %s), %s the target.\n\n",
			ms(wh.med), ms(rest.med), ms(rest.min), ms(rest.max), than)
	}
}

// renderPerRun writes the table of each run's own figures.
func renderPerRun(w io.Writer, runs []Run) {
	fmt.Fprintln(w, "Per run:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | cutover | stop | start (D-Bus / systemctl) | limit | overhead | slowest port | steps | no-op (median) | processes |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, r := range runs {
		fmt.Fprintf(w, "| %d | %s | %s | %s / %s | %s | %s | %d | %d | %s | %d |\n", i+1, ms(r.Cutover), ms(r.StopPortsFree),
			ms(r.StartDBus), ms(r.StartSystemctl), ms(r.limit()), ms(r.overhead()), r.SlowestPort, r.Applied, ms(summarize(r.Noop).med), r.Processes)
	}
	fmt.Fprintln(w)
}

// phaseFigures are the phases of every run, gathered for renderPhases.
type phaseFigures struct {
	// order is phaseOrder, then the actions it does not list in the order
	// they first appear.
	order []string
	// parts are each run's time in a phase; reported the time the run's
	// step events report for it (see reported).
	parts, reported map[string][]time.Duration
	// steps is the most steps of an action in any run.
	steps map[string]int
}

// gatherPhases splits every run's cutover into its phases.
func gatherPhases(runs []Run) phaseFigures {
	f := phaseFigures{parts: map[string][]time.Duration{}, reported: map[string][]time.Duration{}, steps: map[string]int{}}
	seen := map[string]bool{}
	var order []string
	for _, p := range phaseOrder {
		seen[p] = true
	}
	for _, r := range runs {
		parts, steps, ord := phases(r.Events, r.Cutover)
		for _, p := range ord {
			f.parts[p] = append(f.parts[p], parts[p])
			if !seen[p] {
				seen[p] = true
				order = append(order, p)
			}
		}
		for a, d := range reported(r.Events) {
			f.reported[a] = append(f.reported[a], d)
		}
		for a, n := range steps {
			f.steps[a] = max(f.steps[a], n)
		}
	}
	f.order = append(slices.Clone(phaseOrder), order...)
	return f
}

// renderPhases writes the table of where the cutover's time goes, each
// phase also as a share of cut's median.
func renderPhases(w io.Writer, runs []Run, cut stats) {
	f := gatherPhases(runs)
	fmt.Fprintln(w, "Where the cutover's time goes (from the arrival of its `--output json` step events; the parts add up to the wall time):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| part | steps | median | min | max | share of median cutover | the step events' own `elapsed` (median) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, p := range f.order {
		ds := f.parts[p]
		if len(ds) == 0 {
			continue
		}
		s := summarize(ds)
		steps := ""
		if n := f.steps[p]; n > 0 {
			steps = fmt.Sprint(n)
		}
		rep := ""
		if rs := f.reported[p]; len(rs) > 0 {
			rep = ms(summarize(rs).med)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.0f%% | %s |\n", p, steps, ms(s.med), ms(s.min), ms(s.max),
			100*float64(s.med)/float64(cut.med), rep)
	}
	fmt.Fprintln(w)
}

// renderOverheadSources writes the table of the overhead by source
// (overheadSources), closed by over, the overhead itself.
func renderOverheadSources(w io.Writer, runs []Run, over stats) {
	fmt.Fprintln(w, "The overhead by source (each run's parts minus their limit counterparts; the rows add up to the overhead of that run):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| source | median | min | max | for reference (median) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	reload := summarize(flatten(runs, func(r Run) []time.Duration { return r.Reload }))
	for _, src := range overheadSources {
		s := summarize(each(runs, func(r Run) time.Duration { return src.of(r) }))
		ref := ""
		if src.ref != nil {
			ref = src.ref(runs, reload)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", src.name, ms(s.med), ms(s.min), ms(s.max), ref)
	}
	fmt.Fprintf(w, "| **overhead** | %s | %s | %s | |\n", ms(over.med), ms(over.min), ms(over.max))
	fmt.Fprintln(w)
}

// overheadSource is one row of the overhead breakdown.
type overheadSource struct {
	name string
	of   func(Run) time.Duration
	ref  func(runs []Run, reload stats) string
}

// part is one phase of a run's cutover.
func part(r Run, names ...string) time.Duration {
	parts, _, _ := phases(r.Events, r.Cutover)
	var d time.Duration
	for _, n := range names {
		d += parts[n]
	}
	return d
}

// overheadSources split Run.overhead: every part of the cutover that has no
// counterpart in the limit, and the two that do minus that counterpart.
var overheadSources = []overheadSource{
	{"start-up: exec, spec, lock, bus, observe, plan (exec → first step-start)", func(r Run) time.Duration { return part(r, phaseStartup) },
		func(runs []Run, _ stats) string {
			return "`--plan` on the same box, exec to exit: " + ms(summarize(each(runs, func(r Run) time.Duration { return r.Plan })).med)
		}},
	{"write-unit: the file, then daemon-reload", func(r Run) time.Duration { return part(r, string(reconcile.WriteUnit)) },
		func(_ []Run, reload stats) string { return "one daemon-reload over D-Bus: " + ms(reload.med) }},
	{"stop beyond the slowest exit (stop − last port free)", func(r Run) time.Duration { return part(r, string(reconcile.Stop)) - r.StopPortsFree },
		func(runs []Run, _ stats) string {
			return "every signalled process gone: " + ms(summarize(each(runs, func(r Run) time.Duration { return r.StopProcsGone })).med)
		}},
	{"remove-pidfile, disable-unit, wait-port-free, between steps", func(r Run) time.Duration {
		return part(r, string(reconcile.RemovePidfile), string(reconcile.DisableUnit), string(reconcile.WaitPortFree), phaseBetween)
	}, nil},
	{"start-unit beyond a start job (start-unit − the limit's start job)", func(r Run) time.Duration {
		return part(r, string(reconcile.StartUnit)) - r.StartDBusJob
	}, func(runs []Run, reload stats) string {
		return "start-unit enables the unit, which daemon-reloads again: one daemon-reload " + ms(reload.med)
	}},
	{"wait-healthy beyond the rest of the start (wait-healthy + start job − start limit)", func(r Run) time.Duration {
		return part(r, string(reconcile.WaitHealthy)) + r.StartDBusJob - r.startLimit()
	}, func(runs []Run, _ stats) string {
		return "the limit's start job → /health 2xx: " + ms(summarize(each(runs, func(r Run) time.Duration { return r.StartDBus - r.StartDBusJob })).med)
	}},
	{"verify: observe again, print the document (last step-done → exit)", func(r Run) time.Duration { return part(r, phaseVerify) },
		func(runs []Run, _ stats) string {
			return "`parachute observe --output json` on the converged box, exec to exit: " + ms(summarize(flatten(runs, func(r Run) []time.Duration { return r.Observe })).med)
		}},
	{"wait-modules: the hub's boot of its modules, after `/health` (in no limit)", func(r Run) time.Duration { return part(r, string(reconcile.WaitModules)) }, nil},
	{"any other step", otherParts, nil},
}

// sourcePhases are the phases the rows of overheadSources name; otherParts
// is the time of every other one, so that the rows always add up.
var sourcePhases = map[string]bool{
	phaseStartup: true, phaseBetween: true, phaseVerify: true,
	string(reconcile.WriteUnit): true, string(reconcile.Stop): true, string(reconcile.RemovePidfile): true,
	string(reconcile.DisableUnit): true, string(reconcile.WaitPortFree): true, string(reconcile.StartUnit): true,
	string(reconcile.WaitHealthy): true, string(reconcile.WaitModules): true,
}

// otherParts is the time of r's phases that no row of overheadSources names.
func otherParts(r Run) time.Duration {
	parts, _, _ := phases(r.Events, r.Cutover)
	var d time.Duration
	for name, p := range parts {
		if !sourcePhases[name] {
			d += p
		}
	}
	return d
}

// flatten concatenates what f returns for each run.
func flatten(runs []Run, f func(Run) []time.Duration) []time.Duration {
	var out []time.Duration
	for _, r := range runs {
		out = append(out, f(r)...)
	}
	return out
}

// notes writes what the runs showed that a reader must know to read the
// figures: failed steps of runs that still exited 0, files left behind.
func notes(w io.Writer, runs []Run) {
	type failure struct {
		runs    int
		after   []time.Duration
		example string
	}
	failed := map[string]*failure{}
	var keys []string
	for _, r := range runs {
		for _, ev := range r.Events {
			if ev.Event != "step-failed" {
				continue
			}
			k := fmt.Sprintf("step %d %s (%s)", ev.N, ev.Action, ev.Target)
			f := failed[k]
			if f == nil {
				f = &failure{example: ev.Error}
				failed[k] = f
				keys = append(keys, k)
			}
			f.runs++
			if d, err := time.ParseDuration(ev.Elapsed); err == nil {
				f.after = append(f.after, d)
			}
		}
	}
	left := map[string]int{}
	var files []string
	for _, r := range runs {
		for _, f := range r.LeftPidfiles {
			if left[f] == 0 {
				files = append(files, f)
			}
			left[f]++
		}
	}
	if len(keys) == 0 && len(files) == 0 {
		return
	}
	fmt.Fprintln(w, "Seen in these runs:")
	fmt.Fprintln(w)
	for _, k := range keys {
		f := failed[k]
		fmt.Fprintf(w, "- In %d of %d runs %s failed after %s (median), e.g. %q. The run still exited 0: its verifying observation found the box converged.\n",
			f.runs, len(runs), k, ms(summarize(f.after).med), f.example)
	}
	if len(files) > 0 {
		slices.Sort(files)
		fmt.Fprintf(w, "- Pidfiles left in PARACHUTE_HOME after the cutover (their processes are gone): %s.\n", strings.Join(files, ", "))
	}
	fmt.Fprintln(w)
}
