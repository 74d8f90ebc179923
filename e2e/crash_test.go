package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// TestCrashEveryStep SIGKILLs the reconciler at every step of each
// direction (the main one also as a non-root user), once when the step's step-start is printed and once when its
// step-done (or step-failed) is, then runs it once more: that run must
// converge with the direction's invariants, services.json and every .env
// byte-identical, and the hub log must never show a hub or a supervised
// module that found its port already held.
func TestCrashEveryStep(t *testing.T) {
	for _, dir := range []struct {
		name, from, to string
		user           bool
	}{
		{"detached-era-to-supervised", "detached-era", "supervised", false},
		{"supervised-to-detached", "supervised", "detached", false},
		{"supervised-to-absent", "supervised", "absent", false},
		// The main job once more as a non-root user: a user unit, linger
		// and the user manager, killed at every step.
		{"user-detached-era-to-supervised", "detached-era", "supervised", true},
	} {
		t.Run(dir.name, func(t *testing.T) {
			t.Parallel()
			var b *box
			if dir.user {
				b = newUserBox(t)
			} else {
				b = newBox(t)
			}
			b.prepare(dir.from)
			plan := b.parachute("reconcile", "--plan", "--desired", dir.to)
			if plan.code != 2 || len(plan.doc.Steps) == 0 {
				t.Fatalf("--plan from %s to %s: exit %d, %d steps\n%s", dir.from, dir.to, plan.code, len(plan.doc.Steps), plan.stderr)
			}
			steps := plan.doc.Steps
			t.Logf("%d steps: %s", len(steps), strings.Join(stepNames(steps), ", "))
			first := true
			var lags []string
			stoppedAt := map[string]bool{}
			paused := true
			var took []string
			for _, st := range steps {
				for _, kind := range []string{"step-start", "step-end"} {
					name := fmt.Sprintf("%02d-%s-%s", st.N, st.Action, strings.TrimPrefix(kind, "step-"))
					ok := t.Run(name, func(t *testing.T) {
						b := b.on(t)
						if !first {
							b.prepare(dir.from)
						}
						first = false
						pre := b.observe()
						old := boxPids(pre)
						data := b.dataFiles()
						logOff := len(b.hubLog())

						cr := b.parachuteKilledAt(kind, st.N, "reconcile", "--desired", dir.to)
						if !cr.killed {
							t.Fatalf("step %d never printed its %s; events: %v", st.N, kind, cr.events)
						}
						lags = append(lags, fmt.Sprintf("%s:%d", name, lag(cr.events, kind, st.N)))
						took = append(took, cr.took.Round(time.Millisecond).String())
						stoppedAt[point(cr.events[cr.last])] = true
						paused = paused && cr.paused

						if dir.to == "supervised" && st.N == 1 && kind == "step-end" && lag(cr.events, kind, st.N) == 0 {
							// The unit is written and step 2 never began
							// (its step-start is printed before it
							// signals): the detached hub still answers
							// /health beside the installed unit.
							b.detachedHubBesideUnit()
						}

						r := b.reconcileTo(dir.to)
						if r.code != 0 || !r.doc.Converged {
							t.Fatalf("the run after the kill did not converge\nkilled run: %s\nrun after: %s", eventTrail(cr.events), describe(r))
						}
						b.noFailedStep(r)
						switch dir.to {
						case "supervised":
							b.checkSupervised(old)
						case "detached":
							b.checkDetached(old)
						case "absent":
							b.checkAbsent(old)
						}
						b.sameData(data)
						b.noTwoHubs(logOff)
					})
					if !ok {
						// The box is in an unknown state: later cases
						// would only repeat the failure.
						t.FailNow()
					}
				}
			}
			t.Logf("events printed after the one that triggered the kill: %s", strings.Join(lags, " "))
			t.Logf("killed runs took %s", strings.Join(took, " "))
			var missed []string
			for _, st := range steps {
				for _, e := range []string{"start", "end"} {
					if p := fmt.Sprintf("%d-%s", st.N, e); !stoppedAt[p] {
						missed = append(missed, p)
					}
				}
			}
			t.Logf("the reconciler died right after %d of the %d events; never right after: %v", 2*len(steps)-len(missed), 2*len(steps), missed)
			if hard := notBackToBack(steps, missed); paused && len(hard) > 0 {
				// Held after every write, the reconciler cannot outrun the
				// kill: each case must have stopped exactly at its event.
				t.Errorf("with strace pausing every write, the reconciler still ran past %v", hard)
			}
		})
	}
}

// notBackToBack drops from missed the ends of steps that finish together:
// all but the last of a run of stops (one grace period for all) or of
// wait-port-free steps (one wait for all ports). Their end events are
// written back to back, and on a loaded machine the kill after one lands
// after the next; the box is the same at both points but for which of the
// already signalled processes has exited, which the other cases cover.
func notBackToBack(steps []reconcile.Step, missed []string) []string {
	soft := map[string]bool{}
	for i := 0; i+1 < len(steps); i++ {
		a := steps[i].Action
		if (a == reconcile.Stop || a == reconcile.WaitPortFree) && steps[i+1].Action == a {
			soft[fmt.Sprintf("%d-end", steps[i].N)] = true
		}
	}
	var hard []string
	for _, m := range missed {
		if !soft[m] {
			hard = append(hard, m)
		}
	}
	return hard
}

// prepare brings the box to a starting state for a crash case:
// "detached-era" (whatever runs is removed with --desired absent, then the
// layout tool starts the box as the old hub did) or "supervised".
func (b *box) prepare(from string) {
	b.t.Helper()
	switch from {
	case "detached-era":
		if _, err := b.run("test", "-e", b.spec); err == nil {
			b.converge("absent")
		}
		b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	case "supervised":
		if _, err := b.run("test", "-e", b.spec); err != nil {
			b.layout(fastTimeouts, "--wrapper", "scribe")
		}
		b.converge("supervised")
	default:
		b.t.Fatalf("unknown starting state %q", from)
	}
}

// eventTrail renders events compactly: "3-start 3-done …".
func eventTrail(events []map[string]any) string {
	var out []string
	for _, ev := range events {
		e := strings.TrimPrefix(fmt.Sprint(ev["event"]), "step-")
		s := fmt.Sprintf("%d%s-%s", int(num(ev["n"])), ev["action"], e)
		if ev["error"] != nil {
			s += fmt.Sprintf("(%v)", ev["error"])
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// point names an event as "N-start" or "N-end".
func point(ev map[string]any) string {
	if ev["event"] == "step-start" {
		return fmt.Sprintf("%d-start", int(num(ev["n"])))
	}
	return fmt.Sprintf("%d-end", int(num(ev["n"])))
}

// lag counts the events a killed run printed after the one that triggered
// the kill: how far it got before SIGKILL landed.
func lag(events []map[string]any, kind string, n int) int {
	for i, ev := range events {
		if int(num(ev["n"])) != n {
			continue
		}
		e := ev["event"]
		if (kind == "step-start" && e == "step-start") || (kind == "step-end" && (e == "step-done" || e == "step-failed")) {
			return len(events) - i - 1
		}
	}
	return -1
}

// detachedHubBesideUnit checks a box whose hub unit is installed (not
// started) while the detached hub still answers /health: --plan must say
// it is not converged (exit 2) and change nothing.
func (b *box) detachedHubBesideUnit() {
	b.t.Helper()
	s := b.observe()
	if !s.Unit.File.Exists || !s.Health.OK {
		b.t.Fatalf("want the unit file written and the detached hub answering: file %+v, health %+v", s.Unit.File, s.Health)
	}
	before := b.procs(boxPids(s)...)
	t0 := time.Now()
	p := b.parachute("reconcile", "--plan", "--desired", "supervised")
	if p.code != 2 || p.doc.Converged {
		b.t.Errorf("--plan with a detached hub beside the installed unit: exit %d, converged %v; want 2, false", p.code, p.doc.Converged)
	}
	b.untouched(b.t, before, "--plan")
	b.t.Logf("--plan beside the installed unit: exit %d in %s", p.code, time.Since(t0))
}
