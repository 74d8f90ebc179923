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

// TestReview2SystemdDropInIsObserved pins a drift false negative in
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
func TestReview2SystemdDropInIsObserved(t *testing.T) {
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

// TestReview2AnsweredByIgnoresListenersThatCannotAnswer pins a
// misattribution in answeredByOf (observe.go): when the server side of our
// health connection shows no visible holder (not found, or found but held
// by another user's process whose fds a non-root run cannot read — the two
// are not told apart), the fallback takes "the hub port's listener owner"
// from every listener on the port, skipping the ones whose owner is
// unknown. Here another user's process holds 127.0.0.1:1939 (owner
// unreadable: it is the only listener a GET to 127.0.0.1 can reach, so it
// answered), and pid 4242 holds [::1]:1939, which cannot accept a
// connection to 127.0.0.1. AnsweredBy comes out 4242 instead of 0 (unknown).
// If 4242 is in the hub unit's cgroup the planner then counts a stranger's
// answer as "healthy from inside the unit". The fallback must be 0 when
// any listener on the port has unknown holders, and consider only
// listeners that can accept a v4 loopback connection.
func TestReview2AnsweredByIgnoresListenersThatCannotAnswer(t *testing.T) {
	ports := []Port{{Port: 1939, Owner: "hub", Short: "hub", Listeners: []Listener{
		{Addr: "127.0.0.1:1939", Inode: 100, UID: 1001, Pids: []int{}},
		{Addr: "[::1]:1939", Inode: 200, UID: 1000, Pids: []int{4242}},
	}}}
	parent := func(pid int) int { return map[int]int{4242: 1}[pid] }
	if got := answeredByOf(ports, 1939, nil, parent); got != 0 {
		t.Errorf("answeredBy = %d; want 0: the only listener that can answer 127.0.0.1:1939 has an unknown owner", got)
	}
}
