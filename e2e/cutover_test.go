package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// TestCutoverRoot moves a detached-era box to a system unit and back, and
// to absent, checking ownership at each stop.
func TestCutoverRoot(t *testing.T) {
	b := newBox(t)
	b.detachedEra()
	before := b.observe()
	sj, _ := os.ReadFile(filepath.Join(b.home, "services.json"))
	env, _ := os.ReadFile(filepath.Join(b.home, "vault", ".env"))

	plan := b.parachute("reconcile", "--plan")
	if plan.code != 2 {
		t.Fatalf("--plan exit %d, want 2\n%s\n%s", plan.code, plan.stderr, plan.stdout)
	}
	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 0 {
		t.Fatalf("cutover exit %d\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
	}
	if !r.doc.Converged || r.doc.Error != "" {
		t.Fatalf("not converged cleanly: error %q, outcome %s", r.doc.Error, r.doc.Outcome)
	}
	for _, ev := range r.events {
		if ev["event"] == "step-failed" {
			t.Errorf("step failed during the cutover: %v", ev)
		}
	}
	if got := b.systemctl("is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("unit %s", got)
	}
	cg := b.prop("parachute-hub.service", "ControlGroup")
	h := r.doc.Snapshot.Health
	if !h.OK || h.AnsweredBy == 0 {
		t.Fatalf("health %+v", h)
	}
	if got := b.procCgroup(h.AnsweredBy); got != cg {
		t.Fatalf("/health answered by pid %d in %q, want the unit's %q", h.AnsweredBy, got, cg)
	}
	for _, pf := range before.Pidfiles {
		if pf.Pid > 0 && b.alive(pf.Pid) {
			t.Errorf("detached pid %d (%s) survived", pf.Pid, pf.Path)
		}
	}
	sj2, _ := os.ReadFile(filepath.Join(b.home, "services.json"))
	env2, _ := os.ReadFile(filepath.Join(b.home, "vault", ".env"))
	if string(sj) != string(sj2) || string(env) != string(env2) {
		t.Error("services.json or .env changed")
	}

	unitPath := "/etc/systemd/system/parachute-hub.service"
	st1, err := os.Stat(b.in.HostPath(unitPath))
	if err != nil {
		t.Fatalf("unit file: %v", err)
	}
	t0 := time.Now()
	again := b.parachute("reconcile", "--desired", "supervised")
	took := time.Since(t0)
	if again.code != 0 || len(again.doc.Applied) != 0 || len(again.doc.Steps) != 0 {
		t.Fatalf("second run: exit %d, applied %d, steps %d", again.code, len(again.doc.Applied), len(again.doc.Steps))
	}
	st2, _ := os.Stat(b.in.HostPath(unitPath))
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the second run touched the unit file")
	}
	t.Logf("second run took %s", took)

	// Module ports come up under the hub's process tree.
	deadline := time.Now().Add(20 * time.Second)
	for {
		obs := b.observe()
		held := 0
		for _, p := range obs.Ports {
			if p.Owner == "hub" {
				continue
			}
			for _, l := range p.Listeners {
				for _, pid := range l.Pids {
					if strings.HasPrefix(b.procCgroup(pid), cg) {
						held++
					}
				}
			}
		}
		if held >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("module ports not held from the unit after 20s: %+v", obs.Ports)
		}
		time.Sleep(200 * time.Millisecond)
	}

	back := b.parachute("reconcile", "--desired", "detached")
	if back.code != 0 {
		t.Fatalf("rollback exit %d\n%s\n%s", back.code, back.stderr, back.stdout)
	}
	if _, err := os.Stat(b.in.HostPath(unitPath)); !os.IsNotExist(err) {
		t.Errorf("unit file still there after rollback: %v", err)
	}
	pid, _ := os.ReadFile(filepath.Join(b.home, "hub", "run", "hub.pid"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if back.doc.Snapshot.Health.AnsweredBy != n {
		t.Errorf("detached hub.pid %d, /health answered by %d", n, back.doc.Snapshot.Health.AnsweredBy)
	}

	gone := b.parachute("reconcile", "--desired", "absent")
	if gone.code != 0 || gone.doc.Outcome != reconcile.OutcomeConverged {
		t.Fatalf("absent exit %d: %s\n%s", gone.code, gone.stderr, gone.stdout)
	}
}
