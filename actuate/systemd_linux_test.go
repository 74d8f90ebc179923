package actuate_test

import (
	"context"
	"testing"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/internal/sdbus/sdbustest"
)

// A unit whose file and install links were deleted by hand, the manager
// not reloaded since: it still reports the unit enabled, and refuses to
// disable it (NoSuchUnit). Stop stops it and makes the manager forget it,
// instead of failing on every run.
func TestStopAUnitDeletedByHand(t *testing.T) {
	ctx := context.Background()
	const name = "parachute-vault.service"
	m := sdbustest.New("/system.slice")
	m.AddFile(name, "[Service]\nExecStart=/usr/bin/parachute-vault serve\n\n[Install]\nWantedBy=multi-user.target\n")
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Enable(ctx, []string{name}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	// rm the file and its link; no daemon-reload.
	m.RemoveFile(name)
	if err := m.DisableFiles(ctx, []string{name}); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.UnitProps(ctx, name); p.UnitFileState != "enabled" || p.ActiveState != "active" {
		t.Fatalf("before the stop: %+v, want still enabled and active as of the last load", p)
	}
	u := &actuate.SystemdUnits{Manager: m}
	if err := u.Stop(ctx, name); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if p, _ := m.UnitProps(ctx, name); p.LoadState != "not-found" || p.ActiveState != "inactive" {
		t.Errorf("after the stop: %+v, want the manager to have forgotten it", p)
	}
}

// A unit the manager could not load and is not running is not an error
// to stop: systemd answers NoSuchUnit ("not loaded"), and Stop goes on to
// what is left (here nothing).
func TestStopAUnitNotLoaded(t *testing.T) {
	m := sdbustest.New("/system.slice")
	u := &actuate.SystemdUnits{Manager: m}
	if err := u.Stop(context.Background(), "parachute-hub.service"); err != nil {
		t.Errorf("stop: %v", err)
	}
}
