package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// A view is what a run shows on its way, in one output format. The run
// decides; the view only renders. Diagnostics that are the same in every
// format (a run that cannot start, --verbose) go to stderr without it.
type view interface {
	// Snapshot shows what observe saw.
	Snapshot(s observe.Snapshot) error
	// Plan shows a plan that --plan will not apply; applyHint is the
	// command that would.
	Plan(p reconcile.Plan, s observe.Snapshot, applyHint string) error
	// Attempt shows the plan attempt n is about to apply.
	Attempt(n int, p reconcile.Plan, s observe.Snapshot)
	// Event shows one step's progress while applying.
	Event(ev actuate.Event)
	// Result shows how an applying run ended.
	Result(r result) error
}

// result is how an applying run ended.
type result struct {
	Plan     reconcile.Plan   // the last plan: what the box still needs
	Snapshot observe.Snapshot // the observation it was computed from
	Applied  []reconcile.Step // the steps completed, over all attempts
	Err      error            // the last apply's error, or what cut the run short
	Took     time.Duration
}

func newView(output, title string, stdout, stderr io.Writer) view {
	if output == "json" {
		return &jsonView{stdout: stdout}
	}
	text := &textView{stdout: stdout, stderr: stderr, tty: isTerminal(stdout), title: title}
	if useJournal() {
		return &journalView{text: text, send: journal.Send}
	}
	return text
}

var (
	_ view = (*textView)(nil)
	_ view = (*jsonView)(nil)
)

// jsonView prints one JSON object per line (docs/json.md): while applying,
// the events, then the result document. The documents and events are
// encoded by jsongen's functions (zz_json.go), byte for byte what
// json.NewEncoder(w).Encode prints, without the 1.1-1.5 ms of CPU
// encoding/json spends building its encoders by reflection in every
// process.
type jsonView struct {
	stdout io.Writer
}

// docBuffer is the room a document is encoded into: a two-module box's
// is about 10 KB (testdata/golden); a larger one grows it. Growing from
// nothing cost about 0.2 ms of CPU in a fresh process, as much as the
// encoding itself.
const docBuffer = 16 << 10

func (v *jsonView) Snapshot(s observe.Snapshot) error {
	doc := reconcile.ObserveDocument{Schema: reconcile.Schema, Snapshot: s}
	return v.line(appendObserveDocument(make([]byte, 0, docBuffer), &doc))
}

func (v *jsonView) Plan(p reconcile.Plan, s observe.Snapshot, _ string) error {
	doc := reconcile.NewDocument(p, s)
	return v.line(appendDocument(make([]byte, 0, docBuffer), &doc))
}

// Attempt shows nothing: the events and the result document carry it.
func (v *jsonView) Attempt(int, reconcile.Plan, observe.Snapshot) {}

func (v *jsonView) Event(ev actuate.Event) { _ = v.line(appendEvent(nil, &ev), nil) }

func (v *jsonView) Result(r result) error {
	doc := reconcile.NewDocument(r.Plan, r.Snapshot)
	doc.Applied, doc.Changed = r.Applied, len(r.Applied) > 0
	if r.Err != nil {
		doc.Error = r.Err.Error()
	}
	return v.line(appendDocument(make([]byte, 0, docBuffer), &doc))
}

// line prints an encoded document or event as one line, in one Write, as
// json.Encoder.Encode does: every line of --output json is one JSON object
// (events, then the result), for line-oriented consumers. When the
// encoding failed it prints nothing and returns the error.
func (v *jsonView) line(b []byte, err error) error {
	if err != nil {
		return err
	}
	_, err = v.stdout.Write(append(b, '\n'))
	return err
}

// textView prints for a person: every string from the box escaped (pf),
// a failed run's account on stderr, and on a terminal a progress line
// rewritten in place.
type textView struct {
	stdout, stderr io.Writer
	tty            bool
	title          string // the command, as messages on stderr name it

	mu            sync.Mutex // Event runs on the actuator's goroutine, the ticker on its own
	progressShown bool
	current       string        // the step in progress, as its line shows it
	progress      string        // its latest step-progress text
	started       time.Time     // when it started
	stopTick      chan struct{} // closes the ticker of the step in progress
}

func (v *textView) Snapshot(s observe.Snapshot) error {
	renderSnapshot(v.stdout, s)
	return nil
}

func (v *textView) Plan(p reconcile.Plan, s observe.Snapshot, applyHint string) error {
	renderPlan(v.stdout, p, s, applyHint)
	return nil
}

func (v *textView) Attempt(n int, p reconcile.Plan, s observe.Snapshot) {
	if n > 1 {
		pf(v.stdout, "\nattempt %d:\n", n)
	}
	renderPlan(v.stdout, p, s, "")
	fmt.Fprintln(v.stdout)
}

// Event shows each step as it ends; on a terminal, the step in progress is
// one line rewritten in place with its elapsed time (every second) and its
// latest progress, so a 15 s stop grace or a 30 s wait is never silent.
func (v *textView) Event(ev actuate.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ev.Event {
	case "step-start":
		if v.tty {
			v.stopTicker()
			v.current, v.progress, v.started = fmt.Sprintf("%d. %s %s", ev.N, ev.Action, esc(ev.Target)), "", time.Now()
			v.drawProgress()
			v.startTicker()
		}
	case "step-progress":
		if v.tty {
			v.progress = ev.Progress
			v.drawProgress()
		}
	case "step-done":
		v.stopTicker()
		v.clearProgress()
		pf(v.stdout, "  %s %d. %s %s (%s)\n", marks().ok, ev.N, string(ev.Action), ev.Target, ev.Elapsed)
	case "step-failed":
		v.stopTicker()
		v.clearProgress()
		pf(v.stdout, "  %s %d. %s %s: %s\n", marks().bad, ev.N, string(ev.Action), ev.Target, ev.Error)
	}
}

// drawProgress rewrites the progress line ("\r" and erase-line); v.mu held.
func (v *textView) drawProgress() {
	line := v.current + " (" + time.Since(v.started).Truncate(time.Second).String() + ")"
	if v.progress != "" {
		line += ": " + v.progress
	}
	pf(v.stdout, "\r\x1b[K  %s %s", marks().wait, line)
	v.progressShown = true
}

// startTicker redraws the progress line every second until stopTicker;
// v.mu held.
func (v *textView) startTicker() {
	stop := make(chan struct{})
	v.stopTick = stop
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				v.mu.Lock()
				if v.stopTick == stop {
					v.drawProgress()
				}
				v.mu.Unlock()
			}
		}
	}()
}

// stopTicker ends the ticker of the step in progress; v.mu held.
func (v *textView) stopTicker() {
	if v.stopTick != nil {
		close(v.stopTick)
		v.stopTick = nil
	}
}

func (v *textView) clearProgress() {
	if v.progressShown {
		fmt.Fprint(v.stdout, "\r\x1b[K")
		v.progressShown = false
	}
}

func (v *textView) Result(r result) error {
	v.mu.Lock()
	v.stopTicker()
	v.clearProgress()
	v.mu.Unlock()
	p := r.Plan
	switch {
	case p.Converged && len(r.Applied) == 0:
		renderPlan(v.stdout, p, r.Snapshot, "")
	case p.Converged:
		took := r.Took.Round(time.Millisecond)
		pf(v.stdout, "parachute: converged to %s in %s (%d %s applied).\n", string(p.Desired), took.String(), len(r.Applied), plural(len(r.Applied), "step", "steps"))
		if r.Err != nil {
			pf(v.stderr, "%s: warning: %s; the box verified converged all the same\n", v.title, r.Err)
		}
		for _, n := range p.Notes {
			pf(v.stdout, "  - %s\n", n)
		}
		renderModules(v.stdout, p.Modules)
	case p.Outcome == reconcile.OutcomeBlocked, p.Outcome == reconcile.OutcomeFailed && len(r.Applied) == 0 && r.Err == nil:
		renderPlan(v.stdout, p, r.Snapshot, "")
	default:
		v.notConverged(r)
	}
	return nil
}

// notConverged is the account of a run that changed the box but did not
// converge it, on stderr, ending with the next step to take.
func (v *textView) notConverged(r result) {
	took := r.Took.Round(time.Millisecond)
	if r.Err != nil {
		pf(v.stderr, "%s: %s\n", v.title, r.Err)
	}
	if len(r.Plan.Steps) > 0 {
		pf(v.stderr, "%s: not converged after %s; the box now needs:\n", v.title, took.String())
		renderSteps(v.stderr, r.Plan.Steps, "  ")
	} else {
		pf(v.stderr, "%s: not converged after %s\n", v.title, took.String())
	}
	renderFailure(v.stderr, r.Plan.Failure)
	pf(v.stderr, "nothing is lost: run %s again (or use --until-converged) to resume\n", v.title)
}

// isTerminal reports whether w is a terminal (a character device): only
// then is a progress line rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
