package observe

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parachute/reconcile/unitfile"
)

// TestSystemdDropInIsObserved pins a drift false negative in
// SystemdUnits.ObserveUnit (unit_systemd.go): only the unit's main file is
// read, never its drop-ins. `systemctl --user edit parachute-hub` writes
// ~/.config/systemd/user/parachute-hub.service.d/override.conf, which
// systemd applies on top of our file; here it re-opens pitfall #7
// (PARACHUTE_BIND_HOST=0.0.0.0, the hub on every interface) and replaces
// ExecStart. Nothing in the report mentions it (no path, no content, no
// problem; sdbus.Props.FragmentPath/DropInPaths are not carried either),
// so CompareSystemd sees our file unchanged, no drift is noted and the box
// is reported converged while the manager runs a different command line
// and environment. The observation must at least record the drop-ins so
// the planner can compare them (or name them as drift).
func TestSystemdDropInIsObserved(t *testing.T) {
	ctx := context.Background()
	b := newSystemdBox(t)
	b.write(t, b.userDir, unitfile.SystemdName, hubUnit(t))
	dropDir := filepath.Join(b.userDir, unitfile.SystemdName+".d")
	if err := os.MkdirAll(dropDir, 0o755); err != nil {
		t.Fatal(err)
	}
	override := "[Service]\nEnvironment=PARACHUTE_BIND_HOST=0.0.0.0\nExecStart=\nExecStart=/tmp/other-hub serve\n"
	if err := os.WriteFile(filepath.Join(dropDir, "override.conf"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	b.linger["op"] = true
	if err := b.mgr.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.mgr.Enable(ctx, []string{unitfile.SystemdName}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mgr.Start(ctx, unitfile.SystemdName); err != nil {
		t.Fatal(err)
	}

	rep, err := b.observer().ObserveUnit(ctx, b.query())
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), "override.conf") && !strings.Contains(string(js), "0.0.0.0") {
		t.Errorf("the drop-in %s/override.conf (PARACHUTE_BIND_HOST=0.0.0.0, another ExecStart) is invisible to the observation: %s", dropDir, js)
	}
}
