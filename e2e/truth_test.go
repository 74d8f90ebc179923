package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// addRow appends a services.json row to the box, as `bun add -g` of a
// third-party module would register it.
func (b *box) addRow(row map[string]any) {
	b.t.Helper()
	path := filepath.Join(b.home, "services.json")
	data, err := os.ReadFile(path)
	if err != nil {
		b.t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		b.t.Fatal(err)
	}
	doc["services"] = append(doc["services"].([]any), row)
	out, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// After a cutover the run waits for the modules the hub boots and reports
// each one: the three stand-in modules up, and a third-party module whose
// installDir has no .parachute/module.json unstartable, with the hub's
// reason — never "degraded … the supervisor restarts it".
func TestCutoverReportsModuleStates(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	widget := filepath.Join(b.dir, "lib", "node_modules", "parachute-widget")
	if err := os.MkdirAll(widget, 0o755); err != nil {
		t.Fatal(err)
	}
	b.addRow(map[string]any{"name": "parachute-widget", "port": 1990, "paths": []string{"/widget"},
		"health": "/widget/health", "version": "1.0.0", "installDir": widget})

	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 0 || !r.doc.Converged {
		t.Fatalf("cutover: %s", describe(r))
	}
	states := map[string]reconcile.ModuleReport{}
	for _, m := range r.doc.Modules {
		states[m.Short] = m
		t.Logf("module %s: %s — %s", m.Short, m.State, m.Evidence)
	}
	for _, short := range []string{"vault", "scribe", "surface"} {
		if states[short].State != reconcile.ModuleUp {
			t.Errorf("%s = %+v, want up right after the cutover", short, states[short])
		}
	}
	if w := states["parachute-widget"]; w.State != reconcile.ModuleUnstartable || !strings.Contains(w.Evidence, "module.json") {
		t.Errorf("widget = %+v, want unstartable naming module.json", w)
	}
	for _, n := range r.doc.Notes {
		if strings.Contains(n, "restarts it") {
			t.Errorf("note: %s", n)
		}
	}
	progress := 0
	for _, ev := range r.events {
		if ev["event"] == "step-progress" && ev["action"] == string(reconcile.WaitModules) {
			progress++
		}
	}
	if progress == 0 {
		t.Errorf("no step-progress event from wait-modules: %v", r.events)
	}
}

// A hub that exits at once makes the unit crash-loop: the run fails (exit
// 1) with the manager's own account and the hub's last lines; the next run
// says so again at once instead of waiting; once the spec is corrected one
// run rewrites and restarts the unit and converges.
func TestCrashLoopingUnitFailsWithCause(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout("  env: {STANDIN_HUB_FAIL: \"1\"}\n" + fastTimeouts)

	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 1 || r.doc.Failure == nil {
		t.Fatalf("first run: want exit 1 with a failure: %s", describe(r))
	}
	f := r.doc.Failure
	t.Logf("failure: %s; manager: %s; hub log %q; journal %q", f.Reason, f.Manager, f.HubLog, f.Journal)
	if !strings.Contains(f.Manager, "status 1") || !strings.Contains(strings.Join(f.HubLog, "\n"), "STANDIN_HUB_FAIL") {
		t.Errorf("the failure does not carry the cause: %+v", f)
	}

	t0 := time.Now()
	r = b.parachute("reconcile", "--desired", "supervised")
	if r.code != 1 || r.doc.Outcome != reconcile.OutcomeFailed || r.doc.Failure == nil || len(r.doc.Applied) != 0 {
		t.Fatalf("second run: want failed at once, nothing applied: %s", describe(r))
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("a crash loop with nothing to change took %s to report", took)
	}

	b.layout(fastTimeouts) // the spec without the failing environment
	r = b.parachute("reconcile", "--desired", "supervised")
	if r.code != 0 || !r.doc.Converged {
		t.Fatalf("after the fix: %s", describe(r))
	}
	if a := r.doc.Applied; len(a) == 0 || a[0].Action != reconcile.WriteUnit {
		t.Errorf("after the fix applied %v, want the unit rewritten first", stepNames(a))
	}
}

// A drop-in whose ExecStartPre= always fails is a blocker before the
// detached box is stopped: no downtime for a start bound to fail.
func TestBreakingDropInBlocksBeforeStopping(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	dir := b.in.HostPath("/etc/systemd/system/" + hubUnit + ".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "override.conf"), []byte("[Service]\nExecStartPre=/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := boxPids(b.observe())
	procs := b.procs(before...)
	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 3 || r.doc.Outcome != reconcile.OutcomeBlocked {
		t.Fatalf("want blocked: %s", describe(r))
	}
	named := false
	for _, bl := range r.doc.Blockers {
		named = named || strings.Contains(bl.Reason, "override.conf") && strings.Contains(bl.Reason, "/bin/false")
	}
	if !named {
		t.Errorf("no blocker names the drop-in: %+v", r.doc.Blockers)
	}
	b.untouched(t, procs, "a start bound to fail")
	if err := os.Remove(filepath.Join(dir, "override.conf")); err != nil {
		t.Fatal(err)
	}
	if r := b.parachute("reconcile", "--desired", "supervised"); r.code != 0 || !r.doc.Converged {
		t.Fatalf("without the drop-in: %s", describe(r))
	}
}

// A user's box next to root's own parachute-vault.service, enabled and
// running: the user's run asks the system manager (read only) and reports
// it with the exact command that disables it, instead of nothing.
func TestOtherScopeStaleUnitReported(t *testing.T) {
	t.Parallel()
	b := newUserBox(t)
	b.layout(fastTimeouts)
	script := b.in.HostPath("/run/parachute-vault/serve.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := "[Unit]\nDescription=an old per-module unit\n[Service]\nExecStart=/run/parachute-vault/serve.sh\n[Install]\nWantedBy=multi-user.target\n"
	if err := os.WriteFile(b.in.HostPath("/etc/systemd/system/parachute-vault.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	b.mustRun("systemctl", "daemon-reload")
	b.mustRun("systemctl", "enable", "--now", "parachute-vault.service")

	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 0 || !r.doc.Converged {
		t.Fatalf("cutover: %s", describe(r))
	}
	fix := "sudo systemctl disable --now parachute-vault.service"
	found := false
	for _, n := range r.doc.Notes {
		found = found || strings.Contains(n, fix) && strings.Contains(n, "active/enabled")
	}
	if !found {
		t.Errorf("no note with %q: %q; stale units %+v", fix, r.doc.Notes, r.doc.Snapshot.StaleUnits)
	}
	if state := strings.TrimSpace(b.mustRun("systemctl", "is-active", "parachute-vault.service")); state != "active" {
		t.Errorf("root's unit was changed by the user's run: %s", state)
	}
}

// A home on a read-only file system (mounted so inside the sandbox only:
// its mounts are private) blocks the run at its lock: exit 3, with the
// read-only mount named and its fix, nothing installed and nothing of the
// detached box stopped.
func TestReadOnlyHomeIsBlocked(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	before := b.boxProcs()
	b.mustRun("mount", "--bind", b.home, b.home)
	b.mustRun("mount", "-o", "remount,bind,ro", b.home)

	r := b.parachute("reconcile", "--desired", "supervised")
	if r.code != 3 || !strings.Contains(r.stderr, "read-only file system") || !strings.Contains(r.stderr, "mount it read-write") {
		t.Fatalf("want exit 3 naming the read-only file system and its fix: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if _, err := os.Lstat(b.in.HostPath(b.unitPath(hubUnit))); !os.IsNotExist(err) {
		t.Errorf("the blocked run installed the hub unit: %v", err)
	}
	b.untouched(t, before, "a blocked run")
}
