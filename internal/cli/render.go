package cli

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// renderPlan prints a plan the way a person reads it: one summary line, the
// box, numbered steps with their reasons, blockers with evidence and a fix,
// notes, and the next command to run.
func renderPlan(w io.Writer, p reconcile.Plan, s observe.Snapshot, applyHint string) {
	pf(w, "%s\n", summary(p))
	pf(w, "%s\n", boxLine(s))
	if len(p.Steps) > 0 {
		fmt.Fprintln(w)
		if p.Outcome == reconcile.OutcomeBlocked {
			fmt.Fprintln(w, "Would write (shown only; a blocked run changes nothing):")
		}
		renderSteps(w, p.Steps, "  ")
	}
	if len(p.Blockers) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Blocked — nothing will be stopped or started until a person resolves:")
		for _, b := range p.Blockers {
			pf(w, "  %s %s\n", marks().bad, b.Reason)
			if b.Pid > 0 || len(b.Argv) > 0 {
				pf(w, "      pid %d, user %s, port %s: %s\n", b.Pid, cmp.Or(b.User, "?"), portOrDash(b.Port), argvString(b.Argv))
			}
			if b.Fix != "" {
				pf(w, "      fix: %s\n", b.Fix)
			}
		}
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Notes:")
		for _, n := range p.Notes {
			pf(w, "  - %s\n", n)
		}
	}
	renderModules(w, p.Modules)
	renderFailure(w, p.Failure)
	if p.Outcome == reconcile.OutcomeChanges || p.Outcome == reconcile.OutcomePending {
		if applyHint != "" {
			fmt.Fprintln(w)
			pf(w, "Run `%s` to apply.\n", applyHint)
		}
	}
}

func renderSteps(w io.Writer, steps []reconcile.Step, indent string) {
	width := len(strconv.Itoa(len(steps)))
	for _, st := range steps {
		pf(w, "%s%*d. %-14s %s\n", indent, width, st.N, st.Action, stepTarget(st))
		pad := indent + strings.Repeat(" ", width+2+15)
		pf(w, "%s%s\n", pad, st.Reason)
		switch st.Action {
		case reconcile.WriteUnit:
			pf(w, "%s→ %s (%d bytes)\n", pad, st.Path, len(st.Content))
		case reconcile.StartDetached:
			pf(w, "%s→ %s >> %s\n", pad, argvString(st.Argv), st.Log)
		case reconcile.RemovePidfile, reconcile.RemoveUnit:
			pf(w, "%s→ %s\n", pad, st.Path)
		case reconcile.Stop, reconcile.DisableUnit, reconcile.WaitPortFree, reconcile.StartUnit,
			reconcile.WaitHealthy, reconcile.StopUnit, reconcile.WaitModules:
			// The target and reason say it all.
		}
	}
}

func stepTarget(st reconcile.Step) string {
	switch st.Action {
	case reconcile.Stop:
		if st.Pgid > 0 {
			return fmt.Sprintf("%s (pid %d, group %d)", st.Target, st.Pid, st.Pgid)
		}
		return fmt.Sprintf("%s (pid %d)", st.Target, st.Pid)
	case reconcile.WriteUnit, reconcile.RemovePidfile, reconcile.DisableUnit, reconcile.WaitPortFree,
		reconcile.StartUnit, reconcile.WaitHealthy, reconcile.StopUnit, reconcile.RemoveUnit,
		reconcile.StartDetached, reconcile.WaitModules:
	}
	return st.Target
}

func summary(p reconcile.Plan) string {
	switch p.Outcome {
	case reconcile.OutcomeConverged:
		return fmt.Sprintf("parachute: the box is %s; nothing to do.", p.Desired)
	case reconcile.OutcomeBlocked:
		return fmt.Sprintf("parachute: blocked — %d %s a person before the box can be %s.", len(p.Blockers), plural(len(p.Blockers), "problem needs", "problems need"), p.Desired)
	case reconcile.OutcomePending:
		return fmt.Sprintf("parachute: the hub unit is starting; %d %s to confirm it is %s.", len(p.Steps), plural(len(p.Steps), "wait", "waits"), p.Desired)
	case reconcile.OutcomeFailed:
		return fmt.Sprintf("parachute: failed — the box is not %s, and no step can make it so now (see below).", p.Desired)
	case reconcile.OutcomeChanges:
	}
	counts := map[reconcile.Action]int{}
	for _, st := range p.Steps {
		counts[st.Action]++
	}
	var parts []string
	for _, a := range reconcile.Actions() {
		if n := counts[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	return fmt.Sprintf("parachute: %d %s to %s (%s).", len(p.Steps), plural(len(p.Steps), "step", "steps"), p.Desired, strings.Join(parts, ", "))
}

func boxLine(s observe.Snapshot) string {
	var mods []string
	for _, m := range s.Modules {
		mods = append(mods, fmt.Sprintf("%s :%d", m.Short, m.Port))
	}
	line := fmt.Sprintf("box: %s — hub :%d", s.Home, s.HubPort)
	if len(mods) > 0 {
		line += fmt.Sprintf(", %d %s (%s)", len(mods), plural(len(mods), "module", "modules"), strings.Join(mods, ", "))
	}
	if len(s.Skipped) > 0 {
		line += fmt.Sprintf("; %d services.json %s skipped", len(s.Skipped), plural(len(s.Skipped), "row", "rows"))
	}
	return line
}

// renderSnapshot prints what observe saw.
func renderSnapshot(w io.Writer, s observe.Snapshot) {
	pf(w, "%s\n", boxLine(s))
	for _, sk := range s.Skipped {
		pf(w, "  skipped row %d (%s): %s\n", sk.Index, shortName(cmp.Or(sk.Name, "unnamed")), sk.Reason)
	}
	renderPorts(w, s)
	if len(s.Pidfiles) > 0 {
		fmt.Fprintln(w, "\npidfiles:")
		for _, f := range s.Pidfiles {
			extra := ""
			if f.Reason != "" {
				extra = " — " + f.Reason
			}
			pf(w, "  %s: pid %d %s%s\n", f.Path, f.Pid, string(f.State), extra)
		}
	}
	renderUnit(w, s)
	h := s.Health
	fmt.Fprintln(w, "\nhealth:")
	if h.Status == 0 {
		pf(w, "  %s: no answer (%s)\n", h.URL, cmp.Or(h.Error, "nothing listening"))
	} else {
		pf(w, "  %s: %d %s %s instance=%s answered by pid %d\n", h.URL, h.Status, cmp.Or(h.Service, "-"), cmp.Or(h.Version, "-"), cmp.Or(h.Instance, "-"), h.AnsweredBy)
	}
	if len(s.Idle) > 0 {
		fmt.Fprintln(w, "\nmodules not listening:")
		for _, m := range s.Idle {
			state := "startable: " + argvString(m.StartCmd)
			if m.Unstartable != "" {
				state = "unstartable: " + m.Unstartable
			}
			pf(w, "  %s :%d %s\n", m.Short, m.Port, state)
			if m.LastLog != "" {
				pf(w, "    last supervisor line: %s\n", m.LastLog)
			}
		}
	}
	for _, p := range s.Problems {
		pf(w, "  problem: %s\n", p)
	}
}

// renderPorts prints who holds each declared port.
func renderPorts(w io.Writer, s observe.Snapshot) {
	procs := map[int]observe.Process{}
	for _, p := range s.Processes {
		procs[p.Pid] = p
	}
	fmt.Fprintln(w, "\nports:")
	for _, p := range s.Ports {
		if len(p.Listeners) == 0 {
			pf(w, "  :%-5d %-10s free\n", p.Port, p.Label())
			continue
		}
		for _, l := range p.Listeners {
			if len(l.Pids) == 0 {
				pf(w, "  :%-5d %-10s %s held by uid %d, owner unknown\n", p.Port, p.Label(), l.Addr, l.UID)
				continue
			}
			for _, pid := range l.Pids {
				pr := procs[pid]
				pf(w, "  :%-5d %-10s %s pid %d (%s) %s\n", p.Port, p.Label(), l.Addr, pid, userOf(pr), argvString(pr.Argv))
			}
		}
	}
}

// renderUnit prints the hub unit as the manager sees it, the stale module
// units and linger.
func renderUnit(w io.Writer, s observe.Snapshot) {
	u := s.Unit
	fmt.Fprintln(w, "\nunit:")
	if !u.Available {
		pf(w, "  %s: manager unavailable: %s\n", cmp.Or(u.Name, "hub unit"), cmp.Or(u.Problem, "none"))
	}
	state := "not on disk"
	if u.File.Exists {
		state = "on disk"
	}
	pf(w, "  %s (%s) %s: %s\n", cmp.Or(u.Name, "?"), cmp.Or(u.Scope, "?"), cmp.Or(u.File.Path, ""), state)
	if u.Available {
		pf(w, "  load=%s active=%s/%s file=%s mainpid=%d", cmp.Or(u.LoadState, "-"), cmp.Or(u.ActiveState, "-"), cmp.Or(u.SubState, "-"), cmp.Or(u.UnitFileState, "-"), u.MainPID)
		if u.NeedDaemonReload {
			pf(w, " (needs daemon-reload)")
		}
		fmt.Fprintln(w)
	}
	for _, su := range s.StaleUnits {
		pf(w, "  stale %s (%s): %s/%s\n", su.Name, su.Scope, cmp.Or(su.ActiveState, "-"), cmp.Or(su.UnitFileState, "-"))
	}
	if s.Linger != nil {
		pf(w, "  linger: %v\n", *s.Linger)
	}
}

func userOf(p observe.Process) string {
	if p.User != "" {
		return p.User
	}
	return "uid " + strconv.Itoa(p.UID)
}

// argvString quotes arguments that need it, so the line can be pasted.
func argvString(argv []string) string {
	if len(argv) == 0 {
		return "(command line unavailable)"
	}
	return state.CommandLine(argv)
}

func portOrDash(p int) string {
	if p == 0 {
		return "-"
	}
	return strconv.Itoa(p)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// renderModules lists each module's state under the running hub.
func renderModules(w io.Writer, mods []reconcile.ModuleReport) {
	if len(mods) == 0 {
		return
	}
	width := 0
	for _, m := range mods {
		width = max(width, len(esc(m.Short)))
	}
	pf(w, "\nModules:\n")
	for _, m := range mods {
		mark := marks().bad
		switch m.State {
		case reconcile.ModuleUp:
			mark = marks().ok
		case reconcile.ModuleBooting:
			mark = marks().wait
		case reconcile.ModuleUnstartable, reconcile.ModuleGivenUp, reconcile.ModuleDown:
		}
		pf(w, "  %s %-*s :%-5d %s — %s\n", mark, width, m.Short, m.Port, string(m.State), m.Evidence)
	}
}

// renderFailure prints why the box failed, with the manager's account and
// the last lines of the hub's output and journal.
func renderFailure(w io.Writer, f *reconcile.Failure) {
	if f == nil {
		return
	}
	pf(w, "\nFailed — %s\n", f.Reason)
	if f.Manager != "" {
		pf(w, "  manager: %s\n", f.Manager)
	}
	for _, part := range []struct {
		title string
		lines []string
	}{{"hub output (hub/logs/hub.log)", f.HubLog}, {"journal", f.Journal}} {
		if len(part.lines) == 0 {
			continue
		}
		pf(w, "  %s, last lines:\n", part.title)
		for _, l := range part.lines {
			pf(w, "    | %s\n", l)
		}
	}
	if f.Fix != "" {
		pf(w, "  fix: %s\n", f.Fix)
	}
}

// shortName cuts a name from the box to 64 bytes (at a rune boundary) and
// says how long it was: a 4 MB row name is one short line.
func shortName(name string) string {
	const max = 64
	if len(name) <= max {
		return name
	}
	return fmt.Sprintf("%s… (%d bytes)", spec.CutAtRune(name, max), len(name))
}

// pf is fmt.Fprintf for text meant for a terminal: every string argument
// (and error) is escaped with esc, since names, paths, argv and log lines
// come from the box and may hold escape sequences or line breaks.
func pf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = esc(v)
		case error:
			args[i] = esc(v.Error())
		}
	}
	fmt.Fprintf(w, format, args...)
}

// esc makes a string from the box safe to print: control characters (C0,
// DEL, C1), Unicode format characters such as the bidirectional overrides,
// and invalid UTF-8 are written as Go escapes (\x1b, \n, \u202e, \xff);
// everything else, non-ASCII letters included, is kept as it is.
func esc(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r, size):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func unsafeRune(r rune, size int) bool {
	return (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r)
}
