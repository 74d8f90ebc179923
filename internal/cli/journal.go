package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// journalView is the text view when stderr is the journal (the timer's
// service): each line is one journal entry with a priority and structured
// fields — PARACHUTE_OUTCOME, PARACHUTE_CHANGED, PARACHUTE_STEPS_APPLIED,
// PARACHUTE_BLOCKERS, PARACHUTE_HOME, PARACHUTE_DESIRED on the result;
// PARACHUTE_STEP and PARACHUTE_ACTION on a step — so `journalctl -p err`
// shows exactly the runs that need a person. A converged run that changed
// nothing is one entry (none with --quiet).
type journalView struct {
	text *textView // --plan and observe, which a person reads, stay text
	send func(msg string, p journal.Priority, vars map[string]string) error
}

var _ view = (*journalView)(nil)

// useJournal reports whether stderr is the journal (JOURNAL_STREAM names it).
func useJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return ok && err == nil
}

func (v *journalView) Snapshot(s observe.Snapshot) error { return v.text.Snapshot(s) }

func (v *journalView) Plan(p reconcile.Plan, s observe.Snapshot, hint string) error {
	return v.text.Plan(p, s, hint)
}

func (v *journalView) Attempt(n int, p reconcile.Plan, _ observe.Snapshot) {
	var acts []string
	for _, st := range p.Steps {
		acts = append(acts, string(st.Action))
	}
	v.emit(journal.PriNotice, fmt.Sprintf("attempt %d: %d %s to %s: %s", n, len(p.Steps), plural(len(p.Steps), "step", "steps"), p.Desired, strings.Join(acts, ", ")),
		map[string]string{"PARACHUTE_OUTCOME": string(p.Outcome), "PARACHUTE_ATTEMPT": strconv.Itoa(n)})
}

func (v *journalView) Event(ev actuate.Event) {
	vars := map[string]string{"PARACHUTE_STEP": strconv.Itoa(ev.N), "PARACHUTE_ACTION": string(ev.Action)}
	switch ev.Event {
	case "step-done":
		v.emit(journal.PriInfo, fmt.Sprintf("%d. %s %s (%s)", ev.N, ev.Action, esc(ev.Target), ev.Elapsed), vars)
	case "step-failed":
		v.emit(journal.PriErr, fmt.Sprintf("%d. %s %s failed: %s", ev.N, ev.Action, esc(ev.Target), esc(ev.Error)), vars)
	}
}

func (v *journalView) Result(r result) error {
	p := r.Plan
	vars := map[string]string{
		"PARACHUTE_OUTCOME":       string(p.Outcome),
		"PARACHUTE_DESIRED":       string(p.Desired),
		"PARACHUTE_CHANGED":       strconv.FormatBool(len(r.Applied) > 0),
		"PARACHUTE_STEPS_APPLIED": strconv.Itoa(len(r.Applied)),
		"PARACHUTE_BLOCKERS":      strconv.Itoa(len(p.Blockers)),
		"PARACHUTE_HOME":          esc(r.Snapshot.Home),
	}
	pri, msg := journal.PriInfo, summary(p)
	switch {
	case p.Converged && len(r.Applied) > 0:
		pri, msg = journal.PriNotice, fmt.Sprintf("parachute: converged to %s (%d %s applied)", p.Desired, len(r.Applied), plural(len(r.Applied), "step", "steps"))
	case p.Outcome == reconcile.OutcomeBlocked:
		pri = journal.PriErr
	case !p.Converged:
		pri = journal.PriWarning
		if r.Err != nil {
			msg += " " + esc(r.Err.Error())
		}
	}
	if err := v.send(esc(msg), pri, vars); err != nil {
		return err
	}
	for _, b := range p.Blockers {
		v.emit(journal.PriErr, "blocked: "+esc(b.Reason)+" — fix: "+esc(b.Fix), map[string]string{"PARACHUTE_OUTCOME": string(p.Outcome)})
	}
	if f := p.Failure; f != nil {
		v.emit(journal.PriWarning, "failed: "+esc(f.Reason)+"; "+esc(f.Manager), map[string]string{"PARACHUTE_OUTCOME": string(p.Outcome)})
	}
	for _, m := range p.Modules {
		if m.State != reconcile.ModuleUp {
			v.emit(journal.PriWarning, fmt.Sprintf("module %s: %s — %s", esc(m.Short), m.State, esc(m.Evidence)),
				map[string]string{"PARACHUTE_MODULE": esc(m.Short), "PARACHUTE_MODULE_STATE": string(m.State)})
		}
	}
	return nil
}

// emit sends one entry; a journal that went away falls back to stderr.
func (v *journalView) emit(p journal.Priority, msg string, vars map[string]string) {
	if err := v.send(msg, p, vars); err != nil {
		pf(v.text.stderr, "%s\n", msg)
	}
}
