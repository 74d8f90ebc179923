//go:build linux

package observe

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// TestLiveSystemdUnits observes a real hub unit and a stale module unit
// through the production observer (NewUnitObserver: sdbus, the linger file)
// against the real manager of this process's scope. Like sdbus's live
// tests it runs only when OBSERVE_LIVE names this machine's hostname, i.e.
// inside a throwaway systemd sandbox, never against the host's manager:
//
//	go test -c -o observe.test ./observe
//	OBSERVE_LIVE=$(hostname) ./observe.test -test.run Live -test.v
func TestLiveSystemdUnits(t *testing.T) {
	host, _ := os.Hostname()
	if v := os.Getenv("OBSERVE_LIVE"); v == "" || v != host {
		t.Skipf("OBSERVE_LIVE is not this machine's hostname %q: not touching its service manager", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(me.Uid)
	d := spec.Desired{Manager: spec.ManagerAuto, Scope: spec.ScopeAuto, User: spec.User{Name: me.Username, UID: uid, Home: me.HomeDir},
		Manifest: spec.Manifest{Modules: []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}}}}
	q := LocateUnit("linux")(d)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "hub", "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	hub, err := unitfile.RenderSystemd(unitfile.Hub{Home: home, Port: 1939, Command: []string{"/bin/sleep", "300"}, User: d.User,
		SystemUnit: q.Scope == "system", GOOS: "linux", GOARCH: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(q.Path)
	vaultPath := filepath.Join(dir, "parachute-vault.service")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, content := range map[string]string{q.Path: string(hub), vaultPath: "[Service]\nExecStart=/bin/sleep 300\n"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists already: not ours to overwrite", p)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := sdbus.Dial(ctx, q.Scope, uid, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		for _, n := range []string{unitfile.SystemdName, "parachute-vault.service"} {
			_ = c.Stop(context.Background(), n)
		}
		_ = c.Disable(context.Background(), []string{unitfile.SystemdName})
		os.Remove(q.Path)
		os.Remove(vaultPath)
		_ = c.Reload(context.Background())
	}()
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Enable(ctx, []string{unitfile.SystemdName}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{unitfile.SystemdName, "parachute-vault.service"} {
		if _, err := c.Start(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	t0 := time.Now()
	rep, err := NewUnitObserver(os.Getenv).ObserveUnit(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("observed in %v: %+v", time.Since(t0), rep)
	u := rep.Unit
	if !u.Available || u.LoadState != "loaded" || u.ActiveState != "active" || u.UnitFileState != "enabled" || u.MainPID <= 0 ||
		!strings.HasSuffix(u.ControlGroup, "/"+unitfile.SystemdName) || u.NeedDaemonReload || u.File.ParseError != "" || u.File.Content != string(hub) {
		t.Errorf("hub unit %+v", u)
	}
	var vault *StaleUnit
	for i := range rep.Stale {
		if rep.Stale[i].Name == "parachute-vault.service" && rep.Stale[i].Scope == q.Scope {
			vault = &rep.Stale[i]
		}
	}
	if vault == nil || vault.ActiveState != "active" || vault.MainPID <= 0 || !vault.Manageable {
		t.Errorf("stale vault unit %+v in %+v", vault, rep.Stale)
	}
	if q.Scope == "user" && rep.Linger == nil {
		t.Errorf("linger unknown for a user unit: %q", rep.Problems)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems %q", rep.Problems)
	}
}
