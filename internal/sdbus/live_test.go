package sdbus

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/spec"
)

// liveEnv gates the tests that drive a real systemd: they run only when
// SDBUS_LIVE names this machine's hostname, which is how a person (or the
// e2e harness) says "this is a throwaway systemd sandbox" — never the
// host's own manager. Run by hand inside a sandbox instance:
//
//	go test -c -o sdbus.test ./internal/sdbus
//	# inside the instance, as root and as a user with a session:
//	SDBUS_LIVE=$(hostname) ./sdbus.test -test.run Live -test.v
const liveEnv = "SDBUS_LIVE"

func requireLive(t *testing.T) {
	t.Helper()
	host, _ := os.Hostname()
	if v := os.Getenv(liveEnv); v == "" || v != host {
		t.Skipf("%s is not this machine's hostname %q: not touching its service manager", liveEnv, host)
	}
	if comm, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(comm)) != "systemd" {
		t.Skip("PID 1 is not systemd")
	}
}

// TestLiveConn walks a throwaway unit through every Conn method against the
// real manager of this process's scope (system as root, user otherwise):
// not-found, reload, enable, start (MainPID in its cgroup), stop, a failing
// start and reset-failed, disable, removal.
func TestLiveConn(t *testing.T) {
	requireLive(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	scope, dir, wanted := string(spec.ScopeSystem), "/etc/systemd/system", "multi-user.target"
	if os.Geteuid() != 0 {
		home, _ := os.UserHomeDir()
		scope, dir, wanted = string(spec.ScopeUser), filepath.Join(home, ".config/systemd/user"), "default.target"
	}
	t0 := time.Now()
	c, err := Dial(ctx, scope, os.Geteuid(), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("dialled %s manager at %s in %v", scope, c.Endpoint().Address, time.Since(t0))

	name := fmt.Sprintf("sdbus-live-%d.service", os.Getpid())
	bad := fmt.Sprintf("sdbus-live-bad-%d.service", os.Getpid())
	path, badPath := filepath.Join(dir, name), filepath.Join(dir, bad)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.Stop(context.Background(), name)
		_ = c.Disable(context.Background(), []string{name})
		os.Remove(path)
		os.Remove(badPath)
		_ = c.Reload(context.Background())
	}()

	p, err := c.UnitProps(ctx, name)
	if err != nil || p.LoadState != "not-found" {
		t.Fatalf("before: %+v, %v", p, err)
	}
	unit := "[Service]\nExecStart=/bin/sleep 300\n\n[Install]\nWantedBy=" + wanted + "\n"
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPath, []byte("[Service]\nType=oneshot\nExecStart=/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	p, err = c.UnitProps(ctx, name)
	if err != nil || p.LoadState != "loaded" || p.UnitFileState != "disabled" || p.FragmentPath != path || p.NeedDaemonReload {
		t.Fatalf("after reload: %+v, %v", p, err)
	}
	if err := c.Enable(ctx, []string{name}); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	r, err := c.Start(ctx, name)
	if err != nil || r != "done" {
		t.Fatalf("start: %q, %v", r, err)
	}
	t.Logf("start job done in %v", time.Since(t0))
	p, err = c.UnitProps(ctx, name)
	if err != nil || p.ActiveState != "active" || p.SubState != "running" || p.UnitFileState != "enabled" || p.MainPID <= 0 || p.ControlGroup == "" {
		t.Fatalf("after start: %+v, %v", p, err)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.MainPID))
	if !strings.Contains(string(cg), p.ControlGroup) {
		t.Errorf("MainPID %d is in %q, not %s", p.MainPID, cg, p.ControlGroup)
	}
	if err := os.WriteFile(path, []byte(unit+"# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.UnitProps(ctx, name); !p.NeedDaemonReload {
		t.Errorf("edited file without NeedDaemonReload: %+v", p)
	}
	if err := c.Stop(ctx, name); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.UnitProps(ctx, name); p.ActiveState != "inactive" || p.MainPID != 0 {
		t.Errorf("after stop: %+v", p)
	}
	r, err = c.Start(ctx, bad)
	if r != "failed" || err == nil || err.Error() != "start "+bad+": job failed" {
		t.Errorf("failing start: %q, %v", r, err)
	}
	if p, _ := c.UnitProps(ctx, bad); p.ActiveState != "failed" || p.Result != "exit-code" {
		t.Errorf("after failing start: %+v", p)
	}
	if err := c.ResetFailed(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.UnitProps(ctx, bad); p.ActiveState != "inactive" {
		t.Errorf("after reset-failed: %+v", p)
	}
	if err := c.Disable(ctx, []string{name}); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.UnitProps(ctx, name); p.UnitFileState != "disabled" {
		t.Errorf("after disable: %+v", p)
	}
	if _, err := c.Start(ctx, "sdbus-live-missing.service"); err == nil || !strings.Contains(err.Error(), "sdbus-live-missing.service") {
		t.Errorf("start of a missing unit: %v", err)
	}
}

// TestLiveLinger enables linger for this (non-root) user through logind and
// checks that the linger file, our source of truth, then says so.
func TestLiveLinger(t *testing.T) {
	requireLive(t)
	if os.Geteuid() == 0 {
		t.Skip("linger is for a non-root user")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnableLinger(ctx, os.Geteuid(), os.Getenv); err != nil {
		t.Fatal(err)
	}
	on, err := Linger(ctx, u.Username)
	if err != nil || !on {
		t.Errorf("Linger(%s) = %v, %v after EnableLinger", u.Username, on, err)
	}
}

// TestLiveDialFromCron dials the user manager with an empty environment, as
// cron and `su` leave it: the bus is found from the uid alone.
func TestLiveDialFromCron(t *testing.T) {
	requireLive(t)
	if os.Geteuid() == 0 {
		t.Skip("the derivation is for a user's manager")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, string(spec.ScopeUser), os.Geteuid(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p, err := c.UnitProps(ctx, "default.target"); err != nil || p.LoadState != "loaded" {
		t.Errorf("default.target: %+v, %v", p, err)
	}
}
