package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// staleUnitText is a per-module unit as older installs left them, started
// by hand: the vault module on its own port, restarted by the manager
// whenever it dies, so only stopping and disabling the unit ends it.
const staleUnitText = `[Unit]
Description=Parachute vault (stale per-module unit, started by hand)

[Service]
Environment=PORT=%d
Environment=PARACHUTE_HOME=%s
WorkingDirectory=%s
ExecStart=%s serve --health /vault/default/health
Restart=always
RestartSec=100ms

[Install]
WantedBy=%s
`

// startStaleVaultUnit kills the detached vault of a detached-era box and
// starts parachute-vault.service with Restart=always on vault's port, in
// the box's scope (system for root, the user manager for b.as).
func (b *box) startStaleVaultUnit(sum layoutSummary) {
	b.t.Helper()
	vault := moduleOf(b.t, sum, "vault")
	b.killPid(vault.Pid)
	b.waitFree(vault.Port)
	installDir := filepath.Join(b.dir, "lib", "@openparachute", "vault")
	wanted := "multi-user.target"
	if b.as != nil {
		wanted = "default.target"
	}
	text := fmt.Sprintf(staleUnitText, vault.Port, b.home, installDir, filepath.Join(installDir, "bin", "parachute-vault"), wanted)
	path := b.unitPath("parachute-vault.service")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := b.cmd(ctx, "sh", "-c", `mkdir -p "${1%/*}" && cat >"$1"`, "write-unit", path)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("write %s: %v\n%s", path, err, out)
	}
	b.systemctl("daemon-reload")
	if out := b.systemctl("enable", "--now", "parachute-vault.service"); b.systemctl("is-active", "parachute-vault.service") != "active" {
		b.t.Fatalf("the stale vault unit did not start: %s\n%s", out, b.systemctl("status", "parachute-vault.service"))
	}
	b.waitListening(vault.Port)
}

// checkStaleVaultUnitGone asserts that parachute-vault.service is stopped
// and disabled, and stays stopped past its RestartSec.
func (b *box) checkStaleVaultUnitGone() {
	b.t.Helper()
	time.Sleep(300 * time.Millisecond) // three times its RestartSec
	if got := b.systemctl("is-active", "parachute-vault.service"); got != "inactive" {
		b.t.Errorf("stale vault unit is %q after the cutover, want inactive", got)
	}
	if got := b.systemctl("is-enabled", "parachute-vault.service"); got != "disabled" {
		b.t.Errorf("stale vault unit is %q after the cutover, want disabled", got)
	}
}

// TestStaleModuleUnit starts a hand-written parachute-vault.service with
// Restart=always on vault's port (as root: a system unit): the cutover must
// stop and disable it, and vault's port must end up held from the hub unit.
func TestStaleModuleUnit(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	b.startStaleVaultUnit(sum)
	old := boxPids(b.observe())
	data := b.dataFiles()
	r := b.converge("supervised")
	disabled := false
	for _, st := range r.doc.Applied {
		if st.Action == reconcile.DisableUnit && st.Unit == "parachute-vault.service" {
			disabled = true
		}
	}
	if !disabled {
		t.Errorf("no disable-unit step for parachute-vault.service: %v", stepNames(r.doc.Applied))
	}
	b.checkStaleVaultUnitGone()
	b.checkSupervised(old)
	b.sameData(data)
	b.noTwoHubs(0)
}

// TestStaleModuleUnitDeletedByHand: the stale vault unit runs, and its
// file and install link are then deleted by hand with no daemon-reload.
// The manager still has it loaded, running and (as it last worked out)
// enabled, and refuses to disable it: there is no file or link left
// (NoSuchUnit). The cutover must still stop it and leave the manager
// having forgotten it, not fail on every run.
func TestStaleModuleUnitDeletedByHand(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	b.startStaleVaultUnit(sum)
	path := b.unitPath("parachute-vault.service")
	link := filepath.Join(filepath.Dir(path), "multi-user.target.wants", "parachute-vault.service")
	// The manager works a unit's file state out when first asked and keeps
	// it until a reload; a reconciler's earlier runs have asked it.
	if got := b.prop("parachute-vault.service", "UnitFileState"); got != "enabled" {
		t.Fatalf("UnitFileState %q, want enabled", got)
	}
	if out, err := b.run("rm", path, link); err != nil {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	if got := b.prop("parachute-vault.service", "UnitFileState"); got != "enabled" {
		t.Fatalf("UnitFileState %q after the rm, want still enabled (as the manager worked it out)", got)
	}
	r := b.converge("supervised")
	if !r.doc.Converged {
		t.Fatalf("not converged: %v", stepNames(r.doc.Applied))
	}
	time.Sleep(300 * time.Millisecond) // three times its RestartSec
	for prop, want := range map[string]string{"ActiveState": "inactive", "LoadState": "not-found"} {
		if got := b.prop("parachute-vault.service", prop); got != want {
			t.Errorf("stale vault unit's %s is %q after the cutover, want %q", prop, got, want)
		}
	}
	if r := b.parachute("reconcile", "--desired", "supervised"); r.code != 0 || len(r.doc.Applied) != 0 {
		t.Errorf("the next run: exit %d, applied %v; want 0 and nothing\nstderr: %s", r.code, stepNames(r.doc.Applied), r.stderr)
	}
}

// TestRollbackOfABrokenUnit: a drop-in gives the supervised hub's unit a
// second ExecStart= (refused for Type=simple: the unit loads as
// bad-setting), and the unit is stopped. systemd then refuses to stop it
// ("not loaded", NoSuchUnit); the rollback to detached must still finish,
// not fail at stop-unit on every run. The supervised model is blocked with
// the manager's state named instead of failing its start on every run.
func TestRollbackOfABrokenUnit(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	b.converge("supervised")
	dropIn := b.in.HostPath(b.unitPath(hubUnit) + ".d/zz-broken.conf")
	if err := os.MkdirAll(filepath.Dir(dropIn), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dropIn, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.systemctl("stop", hubUnit)
	b.systemctl("daemon-reload")
	if got := b.prop(hubUnit, "LoadState"); got != "bad-setting" {
		t.Fatalf("LoadState %q with two ExecStart=, want bad-setting", got)
	}
	// Supervised cannot start it: blocked, naming the manager's state.
	if r := b.reconcileTo("supervised"); r.code != 3 || !slices.ContainsFunc(r.doc.Blockers, func(bl reconcile.Blocker) bool {
		return strings.Contains(bl.Reason, "LoadState=bad-setting")
	}) {
		t.Errorf("supervised with a bad-setting unit: %s\nsteps %+v\nnotes %q", describe(r), r.doc.Applied, r.doc.Notes)
	}
	r := b.reconcileTo("detached")
	if r.code != 0 || !r.doc.Converged {
		t.Fatalf("rollback of a broken unit: %s", describe(r))
	}
	if _, err := os.Lstat(b.in.HostPath(b.unitPath(hubUnit))); !os.IsNotExist(err) {
		t.Errorf("the hub unit's file is still there: %v", err)
	}
}

// TestDriftedUnit hand-edits the unit of a healthy supervised hub: the run
// must report the drift as a note, exit 0, leave the hub running (same
// MainPID, no restart) and not rewrite the file, before and after a
// daemon-reload.
func TestDriftedUnit(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	b.converge("supervised")
	mainPID := b.prop(hubUnit, "MainPID")
	unit := b.in.HostPath(b.unitPath(hubUnit))
	content, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(content), "[Service]\n", "[Service]\nEnvironment=HAND_EDITED=1\n", 1)
	if edited == string(content) {
		t.Fatalf("no [Service] section in the unit:\n%s", content)
	}
	if err := os.WriteFile(unit, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(unit)

	for _, reload := range []bool{false, true} {
		t.Run(fmt.Sprintf("daemon-reload=%v", reload), func(t *testing.T) {
			b := b.on(t)
			if reload {
				b.systemctl("daemon-reload")
			}
			r := b.parachute("reconcile", "--desired", "supervised")
			if r.code != 0 || !r.doc.Converged || len(r.doc.Applied) != 0 {
				t.Fatalf("exit %d, converged %v, applied %v; want 0, true, nothing\nstderr: %s", r.code, r.doc.Converged, stepNames(r.doc.Applied), r.stderr)
			}
			drift := false
			for _, n := range r.doc.Notes {
				if strings.Contains(n, "drift") {
					drift = true
					t.Logf("note: %s", n)
				}
			}
			if !drift {
				t.Errorf("no drift note: %q", r.doc.Notes)
			}
			if got := b.prop(hubUnit, "MainPID"); got != mainPID {
				t.Errorf("MainPID %s, was %s: the hub was restarted", got, mainPID)
			}
			if got := b.prop(hubUnit, "NRestarts"); got != "0" {
				t.Errorf("NRestarts %s", got)
			}
			now, _ := os.ReadFile(unit)
			st2, _ := os.Stat(unit)
			if string(now) != edited || !st2.ModTime().Equal(st1.ModTime()) {
				t.Errorf("the hand-edited unit was rewritten:\n%s", now)
			}
		})
	}
}

// TestDetachedHubBesideUnit installs the hub unit by hand (the exact file
// the plan would write, daemon-reloaded, not started) while the detached
// hub still answers /health: the upstream calls that migrated; --plan must
// say not converged (exit 2) and change nothing, and a run must converge.
func TestDetachedHubBesideUnit(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	old := boxPids(b.observe())
	data := b.dataFiles()
	plan := b.parachute("reconcile", "--plan", "--desired", "supervised")
	if len(plan.doc.Steps) == 0 || plan.doc.Steps[0].Action != reconcile.WriteUnit {
		t.Fatalf("first step %v, want write-unit", stepNames(plan.doc.Steps))
	}
	if err := os.WriteFile(b.in.HostPath(b.unitPath(hubUnit)), []byte(plan.doc.Steps[0].Content), 0o644); err != nil {
		t.Fatal(err)
	}
	b.systemctl("daemon-reload")
	b.detachedHubBesideUnit()
	b.converge("supervised")
	b.checkSupervised(old)
	b.sameData(data)
	b.noTwoHubs(0)
}

// TestPlanChangesNothing runs --plan (JSON and text) on a detached-era box:
// exit 2 both times, and afterwards the same files (names, modes, sizes,
// mtimes, contents) under PARACHUTE_HOME and the unit directory, no lock
// file, the same processes with the same start times, no unit known.
func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	s := b.observe()
	pids := boxPids(s)
	procs := b.procs(pids...)
	unitDir := b.in.HostPath(filepath.Dir(b.unitPath(hubUnit)))
	// Logs are the running box's own writing (the hub logs requests,
	// /health included); everything else must stay as it was.
	trees := func() map[string]string {
		out := fileTree(t, unitDir)
		for p, v := range fileTree(t, b.home) {
			if !strings.Contains(p, "/logs/") {
				out[p] = v
			}
		}
		return out
	}
	before := trees()
	units := b.systemctl("list-units", "--all", "--no-legend", "parachute*")

	r := b.parachute("reconcile", "--plan", "--desired", "supervised")
	if r.code != 2 || len(r.doc.Steps) == 0 || r.doc.Converged {
		t.Fatalf("--plan --output json: exit %d, %d steps, converged %v", r.code, len(r.doc.Steps), r.doc.Converged)
	}
	if len(r.events) != 0 || len(r.doc.Applied) != 0 {
		t.Errorf("--plan printed %d events, applied %d steps", len(r.events), len(r.doc.Applied))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	text, err := b.cmd(ctx, b.bins.parachute, "reconcile", "--plan", "--spec", b.spec).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(text), "write-unit") {
		t.Errorf("--plan (text): exit %d\n%s", code, text)
	}

	if d := diffTrees(before, trees()); len(d) > 0 {
		t.Errorf("--plan changed files:\n  %s", strings.Join(d, "\n  "))
	}
	b.untouched(t, procs, "--plan")
	if got := boxPids(b.observe()); fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Errorf("box pids %v, were %v", got, pids)
	}
	if got := b.systemctl("list-units", "--all", "--no-legend", "parachute*"); got != units {
		t.Errorf("units after --plan:\n%s\nbefore:\n%s", got, units)
	}
}

// exitCode is the exit status carried by err from exec (0 for nil, -1 when
// the program did not exit normally).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	return -1
}
