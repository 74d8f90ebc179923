package e2e

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// TestCutoverUser is TestCutoverRoot for a non-root user: a user unit in
// ~/.config/systemd/user, linger enabled by the reconciler, the user's own
// manager. Before the cutover, with the user manager stopped and linger
// off, the run must be blocked and stop nothing. After the round trip, a
// hand-started stale user unit for vault must be stopped and disabled by
// the next cutover.
func TestCutoverUser(t *testing.T) {
	t.Parallel()
	b := newUserBox(t)
	uid := strconv.Itoa(b.as.UID)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	before := b.observe()
	old := boxPids(before)
	if len(old) < 5 {
		t.Fatalf("detached-era box has %d pids, want hub, 3 modules and scribe's child: %v", len(old), old)
	}
	data := b.dataFiles()
	if got := b.lingerOn(); got {
		t.Fatal("linger is on before the cutover; the test needs it off")
	}

	t.Run("user-manager-unreachable", func(t *testing.T) {
		b := b.on(t)
		b.mustRun("systemctl", "stop", "user@"+uid+".service")
		defer b.mustRun("systemctl", "start", "user@"+uid+".service")
		start := b.procs(old...)
		r := b.parachute("reconcile", "--desired", "supervised")
		if r.code != 3 {
			t.Fatalf("exit %d, want 3 (blocked)\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
		}
		found := false
		for _, bl := range r.doc.Blockers {
			if strings.Contains(bl.Reason, "user manager unreachable") {
				found = true
				t.Logf("blocker: %s (fix: %s)", bl.Reason, bl.Fix)
			}
		}
		if !found {
			t.Errorf("no blocker says \"user manager unreachable\": %+v (unit problem %q)", r.doc.Blockers, r.doc.Snapshot.Unit.Problem)
		}
		if len(r.doc.Applied) != 0 {
			t.Errorf("a blocked run applied %v", stepNames(r.doc.Applied))
		}
		b.untouched(t, start, "a blocked run")
		if _, err := os.Lstat(b.in.HostPath(b.unitPath(hubUnit))); !os.IsNotExist(err) {
			t.Errorf("a blocked run wrote the unit: %v", err)
		}
		if b.lingerOn() {
			t.Error("a blocked run enabled linger")
		}
	})
	if t.Failed() {
		return
	}

	plan := b.parachute("reconcile", "--plan")
	if plan.code != 2 || len(plan.doc.Steps) == 0 || plan.doc.Steps[0].Action != reconcile.WriteUnit {
		t.Fatalf("--plan: exit %d, steps %v", plan.code, stepNames(plan.doc.Steps))
	}
	if st := plan.doc.Steps[0]; !st.Linger || st.Scope != "user" || st.Path != b.unitPath(hubUnit) {
		t.Errorf("write-unit step: linger %v, scope %q, path %q; want linger, user scope, %s", st.Linger, st.Scope, st.Path, b.unitPath(hubUnit))
	}

	b.converge("supervised")
	if !b.lingerOn() {
		t.Error("linger is still off after the cutover")
	}
	b.checkSupervised(old)
	b.sameData(data)
	b.noTwoHubs(0)
	unit := b.in.HostPath(b.unitPath(hubUnit))
	content, err := os.ReadFile(unit)
	if err != nil {
		t.Fatalf("user unit: %v", err)
	}
	if strings.Contains(string(content), "\nUser=") || !strings.Contains(string(content), "WantedBy=default.target") {
		t.Errorf("user unit has User= or lacks WantedBy=default.target:\n%s", content)
	}
	st1, _ := os.Stat(unit)

	t0 := time.Now()
	again := b.parachute("reconcile", "--desired", "supervised")
	took := time.Since(t0)
	if again.code != 0 || len(again.doc.Applied) != 0 || len(again.doc.Steps) != 0 {
		t.Fatalf("second run: exit %d, applied %v, steps %v", again.code, stepNames(again.doc.Applied), stepNames(again.doc.Steps))
	}
	st2, _ := os.Stat(unit)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the second run touched the unit file")
	}
	t.Logf("second run took %s (through nsenter and setpriv)", took)

	underUnit := boxPids(b.observe())
	b.converge("detached")
	b.checkDetached(underUnit)
	b.sameData(data)

	detached := boxPids(b.observe())
	b.converge("absent")
	b.checkAbsent(detached)
	b.sameData(data)
	b.noTwoHubs(0)

	t.Run("stale-user-unit", func(t *testing.T) {
		b := b.on(t)
		sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
		b.startStaleVaultUnit(sum)
		old := boxPids(b.observe())
		b.converge("supervised")
		b.checkStaleVaultUnitGone()
		b.checkSupervised(old)
		b.sameData(data)
		b.noTwoHubs(0)
	})
}

// lingerOn reports whether logind has linger on for the box's user.
func (b *box) lingerOn() bool {
	_, err := os.Stat(b.in.HostPath("/var/lib/systemd/linger/" + b.as.Name))
	return err == nil
}

// on returns a copy of b that reports to t (for subtests).
func (b *box) on(t *testing.T) *box {
	c := *b
	c.t = t
	return &c
}

// TestLingerRefusedUser: polkit refuses the user their own linger (a rule
// in the sandbox's private rules directory, as a site policy or a session
// that is not local and active would). The cutover tries once, ends
// blocked (exit 3) with the root command as its fix, and stops nothing of
// the detached box.
func TestLingerRefusedUser(t *testing.T) {
	t.Parallel()
	b := newUserBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	old := boxPids(b.observe())
	start := b.procs(old...)
	// The sandbox's own copy of the directory (HostPath refuses a path the
	// host shares): the rule must never reach the host's polkit.
	const rules = "/etc/polkit-1/rules.d"
	if !b.in.Private(rules) {
		t.Skipf("the host has no %s, so the sandbox has no private copy to refuse linger in", rules)
	}
	rule := b.in.HostPath(rules + "/10-no-self-linger.rules")
	js := `polkit.addRule(function(action, subject) { if (action.id == "org.freedesktop.login1.set-self-linger" && subject.user == "` +
		b.as.Name + `") { return polkit.Result.NO; } });` + "\n"
	if err := os.WriteFile(rule, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	// polkitd would read the rules again when it notices the change; a
	// restart makes sure it has them before the run (try-restart: a
	// polkitd not running yet reads them when the bus starts it).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := b.in.Systemctl(ctx, "try-restart", "polkit.service"); err != nil {
		t.Fatalf("restart polkit: %v\n%s", err, out)
	}
	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 3 || !slices.ContainsFunc(r.doc.Blockers, func(bl reconcile.Blocker) bool {
		return strings.Contains(bl.Reason, "not permitted") && strings.Contains(bl.Fix, "loginctl enable-linger "+b.as.Name)
	}) {
		t.Fatalf("want blocked (exit 3) naming the refusal and the root command: %s\nblockers %+v", describe(r), r.doc.Blockers)
	}
	if b.lingerOn() {
		t.Error("linger is on")
	}
	b.untouched(t, start, "a blocked run")
}
