package cli

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// renderPlan prints a plan the way a person reads it: one summary line, the
// box, numbered steps with their reasons, blockers with evidence and a fix,
// notes, and the next command to run.
func renderPlan(w io.Writer, p reconcile.Plan, s observe.Snapshot, applyHint string) {
	fmt.Fprintln(w, summary(p))
	fmt.Fprintln(w, boxLine(s))
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
			fmt.Fprintf(w, "  ✗ %s\n", b.Reason)
			if b.Pid > 0 || len(b.Argv) > 0 {
				fmt.Fprintf(w, "      pid %d, user %s, port %s: %s\n", b.Pid, cmp.Or(b.User, "?"), portOrDash(b.Port), argvString(b.Argv))
			}
			if b.Fix != "" {
				fmt.Fprintf(w, "      fix: %s\n", b.Fix)
			}
		}
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Notes:")
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	if p.Outcome == reconcile.OutcomeChanges || p.Outcome == reconcile.OutcomePending {
		if applyHint != "" {
			fmt.Fprintln(w)
			fmt.Fprintf(w, "Run `%s` to apply.\n", applyHint)
		}
	}
}

func renderSteps(w io.Writer, steps []reconcile.Step, indent string) {
	width := len(strconv.Itoa(len(steps)))
	for _, st := range steps {
		fmt.Fprintf(w, "%s%*d. %-14s %s\n", indent, width, st.N, st.Action, stepTarget(st))
		pad := indent + strings.Repeat(" ", width+2+15)
		fmt.Fprintf(w, "%s%s\n", pad, st.Reason)
		switch st.Action {
		case reconcile.WriteUnit:
			fmt.Fprintf(w, "%s→ %s (%d bytes)\n", pad, st.Path, len(st.Content))
		case reconcile.StartDetached:
			fmt.Fprintf(w, "%s→ %s >> %s\n", pad, argvString(st.Argv), st.Log)
		case reconcile.RemovePidfile, reconcile.RemoveUnit:
			fmt.Fprintf(w, "%s→ %s\n", pad, st.Path)
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
	}
	counts := map[reconcile.Action]int{}
	for _, st := range p.Steps {
		counts[st.Action]++
	}
	var parts []string
	for _, a := range []reconcile.Action{reconcile.WriteUnit, reconcile.StopUnit, reconcile.RemoveUnit, reconcile.DisableUnit, reconcile.Stop, reconcile.RemovePidfile, reconcile.WaitPortFree, reconcile.StartUnit, reconcile.StartDetached, reconcile.WaitHealthy} {
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
	fmt.Fprintln(w, boxLine(s))
	for _, sk := range s.Skipped {
		fmt.Fprintf(w, "  skipped row %d (%s): %s\n", sk.Index, cmp.Or(sk.Name, "unnamed"), sk.Reason)
	}
	procs := map[int]observe.Process{}
	for _, p := range s.Processes {
		procs[p.Pid] = p
	}
	fmt.Fprintln(w, "\nports:")
	for _, p := range s.Ports {
		if len(p.Listeners) == 0 {
			fmt.Fprintf(w, "  :%-5d %-10s free\n", p.Port, p.Label())
			continue
		}
		for _, l := range p.Listeners {
			if len(l.Pids) == 0 {
				fmt.Fprintf(w, "  :%-5d %-10s %s held by uid %d, owner unknown\n", p.Port, p.Label(), l.Addr, l.UID)
				continue
			}
			for _, pid := range l.Pids {
				pr := procs[pid]
				fmt.Fprintf(w, "  :%-5d %-10s %s pid %d (%s) %s\n", p.Port, p.Label(), l.Addr, pid, userOf(pr), argvString(pr.Argv))
			}
		}
	}
	if len(s.Pidfiles) > 0 {
		fmt.Fprintln(w, "\npidfiles:")
		for _, pf := range s.Pidfiles {
			extra := ""
			if pf.Reason != "" {
				extra = " — " + pf.Reason
			}
			fmt.Fprintf(w, "  %s: pid %d %s%s\n", pf.Path, pf.Pid, pf.State, extra)
		}
	}
	u := s.Unit
	fmt.Fprintln(w, "\nunit:")
	if !u.Available {
		fmt.Fprintf(w, "  %s: manager unavailable: %s\n", cmp.Or(u.Name, "hub unit"), cmp.Or(u.Problem, "none"))
	}
	state := "not on disk"
	if u.File.Exists {
		state = "on disk"
	}
	fmt.Fprintf(w, "  %s (%s) %s: %s\n", cmp.Or(u.Name, "?"), cmp.Or(u.Scope, "?"), cmp.Or(u.File.Path, ""), state)
	if u.Available {
		fmt.Fprintf(w, "  load=%s active=%s/%s file=%s mainpid=%d", cmp.Or(u.LoadState, "-"), cmp.Or(u.ActiveState, "-"), cmp.Or(u.SubState, "-"), cmp.Or(u.UnitFileState, "-"), u.MainPID)
		if u.NeedDaemonReload {
			fmt.Fprint(w, " (needs daemon-reload)")
		}
		fmt.Fprintln(w)
	}
	for _, su := range s.StaleUnits {
		fmt.Fprintf(w, "  stale %s (%s): %s/%s\n", su.Name, su.Scope, cmp.Or(su.ActiveState, "-"), cmp.Or(su.UnitFileState, "-"))
	}
	if s.Linger != nil {
		fmt.Fprintf(w, "  linger: %v\n", *s.Linger)
	}
	h := s.Health
	fmt.Fprintln(w, "\nhealth:")
	if h.Status == 0 {
		fmt.Fprintf(w, "  %s: no answer (%s)\n", h.URL, cmp.Or(h.Error, "nothing listening"))
	} else {
		fmt.Fprintf(w, "  %s: %d %s %s instance=%s answered by pid %d\n", h.URL, h.Status, cmp.Or(h.Service, "-"), cmp.Or(h.Version, "-"), cmp.Or(h.Instance, "-"), h.AnsweredBy)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
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
	return observe.CommandLine(argv)
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
