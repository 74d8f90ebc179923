package main

import (
	"fmt"
	"io"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// Issue 11's targets.
const (
	noopRatio      = 1.5                  // no-op reconcile ÷ systemctl is-active
	observeRatio   = 2.0                  // parachute observe ÷ ss -Hltnp
	cutoverSlack   = time.Second          // cutover − its limit
	perModuleBound = 2 * time.Millisecond // cost per extra module, end to end
	rssBound       = 20 << 10             // KiB: 20 MiB
)

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// pairStats are the medians of both sides of some pairs and their ratio.
func pairStats(ps []Pair) (ours, tool stats, ratio float64) {
	var o, t []time.Duration
	for _, p := range ps {
		o, t = append(o, p.Ours), append(t, p.Tool)
	}
	ours, tool = summarize(o), summarize(t)
	if tool.med > 0 {
		ratio = float64(ours.med) / float64(tool.med)
	}
	return ours, tool, ratio
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// renderScale writes section 3 of the report.
func renderScale(w io.Writer, r scaleReport) {
	fmt.Fprintf(w, "Inside the sandbox: %s. %d unrelated processes (`sleep`, each its own group) run beside every figure but the no-op ones, which were taken first, on an ordinary process table (%d processes).\n\n",
		r.Systemd, r.Unrelated, r.ProcessesNoop)
	renderNoop(w, r)
	renderQuietNoop(w, r)
	if len(r.Observe100) == 0 && len(r.Cutover500) == 0 {
		return // -noop-only
	}
	renderObserve(w, r)
	renderCutover(w, r)
	renderCutoverVerdicts(w, r)
	renderPeakRSS(w, r)
}

// largeModules is the module count of the large cutovers (0 without any).
func (r scaleReport) largeModules() int {
	if len(r.Cutover500) > 0 {
		return r.Cutover500[0].Modules
	}
	return 0
}

// renderNoop writes the table of the no-op reconcile (--output json)
// against systemctl is-active, for the system unit and the user unit.
func renderNoop(w io.Writer, r scaleReport) {
	fmt.Fprintf(w, "### The cron tick: a no-op reconcile on a converged three-module box\n\n")
	fmt.Fprintf(w, "Each pair is `parachute reconcile --spec spec.yaml --output json` (exit 0, zero steps) followed at once by the tool; medians of %d pairs.\n\n", len(r.NoopSystem))
	fmt.Fprintln(w, "| unit | `parachute reconcile` (no-op) | tool | tool's time | ratio | target | verdict |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---|")
	for _, row := range []struct {
		name, tool string
		ps         []Pair
	}{
		{"system (root)", "`systemctl is-active parachute-hub.service`", r.NoopSystem},
		{"user", "`systemctl --user is-active parachute-hub.service`", r.NoopUser},
	} {
		o, t, ratio := pairStats(row.ps)
		fmt.Fprintf(w, "| %s | %s (%s–%s) | %s | %s (%s–%s) | %.2f× | ≤ %.1f× | %s |\n", row.name, ms(o.med), ms(o.min), ms(o.max),
			row.tool, ms(t.med), ms(t.min), ms(t.max), ratio, noopRatio, verdict(ratio > 0 && ratio <= noopRatio))
	}
	fmt.Fprintln(w)
}

// renderQuietNoop writes the table of the no-op in its two other forms, as
// the timer unit runs it (--quiet) and as a person types it (the text
// report), against the same tool runs; a form a unit has no times for has
// no row.
func renderQuietNoop(w io.Writer, r scaleReport) {
	fmt.Fprintln(w, "The same pairs, with the no-op as the timer unit runs it (`parachute reconcile --spec spec.yaml --quiet`: exit 0 and no output on a converged box) and as a person types it (`parachute reconcile --spec spec.yaml`, exit 0, its text report), each timed right after the other:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| unit | form | no-op | tool | ratio | target | verdict |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---|")
	for _, row := range []struct {
		name string
		ps   []Pair
	}{{"system (root)", r.NoopSystem}, {"user", r.NoopUser}} {
		_, ts, _ := pairStats(row.ps)
		for _, form := range []struct {
			name string
			of   func(Pair) time.Duration
		}{{"`--quiet`", func(p Pair) time.Duration { return p.Quiet }}, {"text", func(p Pair) time.Duration { return p.Text }}} {
			var q []time.Duration
			for _, p := range row.ps {
				if d := form.of(p); d > 0 {
					q = append(q, d)
				}
			}
			if len(q) == 0 {
				continue
			}
			qs := summarize(q)
			var ratio float64
			if ts.med > 0 {
				ratio = float64(qs.med) / float64(ts.med)
			}
			fmt.Fprintf(w, "| %s | %s | %s (%s–%s) | %s | %.2f× | ≤ %.1f× | %s |\n", row.name, form.name, ms(qs.med), ms(qs.min), ms(qs.max), ms(ts.med), ratio, noopRatio, verdict(ratio > 0 && ratio <= noopRatio))
		}
	}
}

// renderObserve writes the table of parachute observe against ss -Hltnp,
// at 100 modules and on the large boxes.
func renderObserve(w io.Writer, r scaleReport) {
	fmt.Fprintf(w, "\n### Whole-process `parachute observe` against one `ss -Hltnp`\n\n")
	fmt.Fprintln(w, "Each module is its own process holding its port (a detached box laid out by `examples/layout`); each pair is `parachute observe --spec spec.yaml --output json` then `ss -Hltnp`.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| modules | pairs | `parachute observe` | `ss -Hltnp` | ratio | target | verdict | peak RSS |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---|---:|")
	var large []Pair
	for _, c := range r.Cutover500 {
		large = append(large, c.Observe...)
	}
	for _, row := range []struct {
		n  int
		ps []Pair
	}{{100, r.Observe100}, {r.largeModules(), large}} {
		o, t, ratio := pairStats(row.ps)
		var rss int64
		for _, p := range row.ps {
			rss = max(rss, p.OursRSS)
		}
		fmt.Fprintf(w, "| %d | %d | %s | %s | %.2f× | ≤ %.0f× | %s | %s |\n", row.n, len(row.ps), ms(o.med), ms(t.med), ratio, observeRatio,
			verdict(ratio > 0 && ratio <= observeRatio), mib(rss))
	}
}

// tenModule is run i's ten-module cutover and its wait-modules part (0
// where the run has none).
func (r scaleReport) tenModule(i int) (cutover, waitModules time.Duration) {
	if i < len(r.Cutover10) {
		cutover = r.Cutover10[i]
	}
	if i < len(r.Cutover10WaitModules) {
		waitModules = r.Cutover10WaitModules[i]
	}
	return cutover, waitModules
}

// renderCutover writes the table of each large cutover beside its limit.
func renderCutover(w io.Writer, r scaleReport) {
	fmt.Fprintf(w, "\n### The cutover of %d modules among %d unrelated processes\n\n", r.largeModules(), r.Unrelated)
	fmt.Fprintln(w, "Per run: box A (identical, detached) gets SIGTERM on every process at once, timed until every process and module group is gone (and, for reference, until the last port is free); box B is cut over with `parachute reconcile --desired supervised`, exec to exit; then B's unit is stopped and started over D-Bus (`StartUnit`) until `/health` answers 2xx from the unit. limit = gone + start; overhead = cutover − limit. `wait-port-free` is the time the step events attribute to the port waits. A ten-module cutover among the same processes runs in each run too, for the cost per extra module.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | cutover | limit | every process gone | last port free | start → healthy | overhead | wait-port-free | wait-modules (modules up) | cutover − wait-modules | overhead without wait-modules | steps | ten-module cutover (of which wait-modules) | processes |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, c := range r.Cutover500 {
		parts, _, _ := phases(c.Events, c.Cutover)
		d10, wm10 := r.tenModule(i)
		wm := parts[string(reconcile.WaitModules)]
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s (%d of %d) | %s | %s | %d | %s (%s) | %d |\n", i+1, ms(c.Cutover), ms(c.limit()), ms(c.StopProcsGone), ms(c.StopPortsFree),
			ms(c.Start), ms(c.Cutover-c.limit()), ms(parts[string(reconcile.WaitPortFree)]), ms(wm), c.ModulesUp, c.Modules,
			ms(c.Cutover-wm), ms(c.Cutover-wm-c.limit()), c.Applied, ms(d10), ms(wm10), c.Processes)
	}
}

// renderCutoverVerdicts writes the verdicts on the large cutovers: the
// overhead and the cost per extra module, with and without wait-modules,
// and how the port waits query.
func renderCutoverVerdicts(w io.Writer, r scaleReport) {
	modules := r.largeModules()
	var cut, lim, over, cutNW, overNW, tenNW []time.Duration
	for i, c := range r.Cutover500 {
		parts, _, _ := phases(c.Events, c.Cutover)
		d10, wm10 := r.tenModule(i)
		wm := parts[string(reconcile.WaitModules)]
		cut, lim, over = append(cut, c.Cutover), append(lim, c.limit()), append(over, c.Cutover-c.limit())
		cutNW, overNW, tenNW = append(cutNW, c.Cutover-wm), append(overNW, c.Cutover-wm-c.limit()), append(tenNW, d10-wm10)
	}
	ten := r.Cutover10
	so, s10, sc := summarize(over), summarize(ten), summarize(cut)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Cutover within %s of its limit: median overhead %s (min %s, max %s; cutover %s against a limit of %s): %s.\n",
		cutoverSlack, ms(so.med), ms(so.min), ms(so.max), ms(sc.med), ms(summarize(lim).med), verdict(len(over) > 0 && so.max <= cutoverSlack))
	if modules > 10 && len(ten) > 0 {
		per := (sc.med - s10.med) / time.Duration(modules-10)
		fmt.Fprintf(w, "- Cost per extra module, end to end: (%s − %s) ÷ %d = %.2f ms per module (target ≤ %s): %s. This includes the physical part (each module's own exit and the hub's start).\n",
			ms(sc.med), ms(s10.med), modules-10, float64(per)/float64(time.Millisecond), ms(perModuleBound), verdict(per <= perModuleBound))
	}
	if len(overNW) > 0 {
		sn, snc, s10n := summarize(overNW), summarize(cutNW), summarize(tenNW)
		fmt.Fprintf(w, "- Without `wait-modules` (the hub boots its modules one after another after `/health` answers, and the run waits for them, at most `timeouts.modules`; no limit above includes that boot): median overhead %s (min %s, max %s): %s; cost per extra module (%s − %s) ÷ %d = %.2f ms: %s.\n",
			ms(sn.med), ms(sn.min), ms(sn.max), verdict(sn.max <= cutoverSlack),
			ms(snc.med), ms(s10n.med), modules-10, float64((snc.med-s10n.med)/time.Duration(max(modules-10, 1)))/float64(time.Millisecond), verdict((snc.med-s10n.med)/time.Duration(max(modules-10, 1)) <= perModuleBound))
		if modules > 10 {
			renderOwnShare(w, r, (snc.med-s10n.med)/time.Duration(modules-10))
		}
	}
	renderModulesLimit(w, r)
	fmt.Fprintf(w, "- Every wait for free ports is one query for all ports per poll: by construction (`actuate` batches consecutive `wait-port-free` steps into one `Ports.Held` call per poll for every port still held; `observe.Observer.HeldPorts` asks sock_diag once and walks /proc only when a listener is left; `actuate` test `TestPortWaitsAreOneLookPerPoll` counts the looks). Its time is the `wait-port-free` column.\n")
}

// renderOwnShare splits the cost per extra module without wait-modules,
// per, into the modules' own exits (box A's, the same processes signalled
// the same way, none of the reconciler's doing) and the rest, which is the
// reconciler's: what the figure is when the machine's exits are set aside.
// Both parts are approximate: the exits' part is an average over box A's
// whole stop (its fixed part included, as box A is not measured at ten
// modules), and the rest is a difference of medians, not of paired runs.
func renderOwnShare(w io.Writer, r scaleReport, per time.Duration) {
	var gone []time.Duration
	for _, c := range r.Cutover500 {
		gone = append(gone, c.StopProcsGone)
	}
	modules := r.largeModules()
	g := summarize(gone).med
	exit := g / time.Duration(max(modules, 1))
	restMs := float64(per-exit) / float64(time.Millisecond)
	rest := fmt.Sprintf("the rest, about %.2f ms per extra module (a difference of medians, so approximate)", restMs)
	if per < exit {
		rest = fmt.Sprintf("none that shows: the rest, %.2f ms, is within the noise of the two medians", restMs)
	}
	fmt.Fprintf(w, "- Of that cost per extra module, the modules' own exits: box A's %d modules were all gone %s after SIGTERM (median), about %.2f ms a module (an average over the whole stop), which no reconciler can shorten; the reconciler's own share is %s.\n",
		modules, ms(g), float64(exit)/float64(time.Millisecond), rest)
}

// renderModulesLimit writes the verdict on the large cutovers against the
// limit of a cutover that waits for the modules, if any run measured it.
func renderModulesLimit(w io.Writer, r scaleReport) {
	// Only the runs that measured the modules' start have this limit.
	var overM, lm []time.Duration
	for _, c := range r.Cutover500 {
		if c.StartModules > 0 {
			overM = append(overM, c.Cutover-c.modulesLimit())
			lm = append(lm, c.modulesLimit())
		}
	}
	if len(overM) == 0 {
		return
	}
	sm := summarize(overM)
	fmt.Fprintf(w, "- With `wait-modules`, against the limit of a cutover that waits for the modules (every process gone + the unit's start until every module listens, measured by stopping and starting the converged unit again: %s median): median overhead %s (min %s, max %s): %s.\n",
		ms(summarize(lm).med), ms(sm.med), ms(sm.min), ms(sm.max), verdict(sm.max <= cutoverSlack))
}

// renderPeakRSS writes the largest peak RSS of any parachute run on the
// large boxes, and those of run 1.
func renderPeakRSS(w io.Writer, r scaleReport) {
	var peak int64
	for _, c := range r.Cutover500 {
		peak = max(peak, c.PlanRSS, c.CutoverRSS, c.AbsentRSS)
		for _, p := range c.Observe {
			peak = max(peak, p.OursRSS)
		}
	}
	fmt.Fprintf(w, "\n### Peak RSS\n\n")
	fmt.Fprintf(w, "The largest peak resident set (GNU time's %%M, the run started by fork(2): a Go parent's own rusage of its child includes the parent's high-water mark, see bench/README.md) of any parachute run on the %d-module boxes (observe, `--plan`, the cutover, the removal): %s (target ≤ %s): %s.\n",
		r.largeModules(), mib(peak), mib(rssBound), verdict(peak > 0 && peak <= rssBound))
	var c500 ScaleCutover
	if len(r.Cutover500) > 0 {
		c500 = r.Cutover500[0]
	}
	fmt.Fprintf(w, "Run 1: `--plan` %s, cutover %s, `--desired absent` %s.\n", mib(c500.PlanRSS), mib(c500.CutoverRSS), mib(c500.AbsentRSS))
}
