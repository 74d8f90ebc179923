package sdbustest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/parachute/reconcile/internal/sdbus"
)

// TestLifecycle walks a unit through what actuate does to the hub unit and
// checks the fake answers as systemd would at each step.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	m := New("/user.slice/user-1000.slice/user@1000.service/app.slice")
	const hub = "parachute-hub.service"

	p, err := m.UnitProps(ctx, hub)
	if err != nil || p.LoadState != "not-found" {
		t.Fatalf("before the file: %+v, %v", p, err)
	}
	m.AddFile(hub, "v1")
	if p, _ := m.UnitProps(ctx, hub); p.LoadState != "not-found" {
		t.Errorf("a not-found unit loaded without daemon-reload: %+v", p)
	}
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ = m.UnitProps(ctx, hub)
	if p.LoadState != "loaded" || p.UnitFileState != "disabled" || p.NeedDaemonReload {
		t.Errorf("after reload: %+v", p)
	}
	if err := m.Enable(ctx, []string{hub}); err != nil {
		t.Fatal(err)
	}
	if r, err := m.Start(ctx, hub); r != "done" || err != nil {
		t.Fatalf("Start = %q, %v", r, err)
	}
	p, _ = m.UnitProps(ctx, hub)
	if p.ActiveState != "active" || p.SubState != "running" || p.MainPID == 0 || !strings.HasSuffix(p.ControlGroup, "/"+hub) || p.UnitFileState != "enabled" {
		t.Errorf("after enable+start: %+v", p)
	}
	m.AddFile(hub, "v2")
	if p, _ := m.UnitProps(ctx, hub); !p.NeedDaemonReload {
		t.Errorf("changed file without NeedDaemonReload: %+v", p)
	}
	if err := m.Stop(ctx, hub); err != nil {
		t.Fatal(err)
	}
	m.FailStart(hub, "failed")
	if r, err := m.Start(ctx, hub); r != "failed" || err == nil {
		t.Errorf("failing start = %q, %v", r, err)
	}
	if p, _ := m.UnitProps(ctx, hub); p.ActiveState != "failed" {
		t.Errorf("after a failed start: %+v", p)
	}
	if err := m.ResetFailed(ctx, hub); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.UnitProps(ctx, hub); p.ActiveState != "inactive" {
		t.Errorf("after reset-failed: %+v", p)
	}
	m.RemoveFile(hub)
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.UnitProps(ctx, hub); p.LoadState != "not-found" {
		t.Errorf("after removing the file: %+v", p)
	}
	boom := errors.New("boom")
	m.FailNext("UnitProps", boom)
	if _, err := m.UnitProps(ctx, hub); !errors.Is(err, boom) {
		t.Errorf("FailNext: %v", err)
	}
	if _, err := m.UnitProps(ctx, hub); err != nil {
		t.Errorf("FailNext failed twice: %v", err)
	}
	if err := m.Enable(ctx, []string{"nope.service"}); err == nil {
		t.Error("enabled a unit without a file")
	}
	want := []string{"UnitProps parachute-hub.service", "UnitProps parachute-hub.service", "Reload "}
	if got := m.Calls()[:3]; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q", got)
	}
}

// DisableFiles answers as systemd does: NoSuchUnit for a name with no file
// and no link when nothing else was removed; a dangling link is removed.
func TestDisableFilesNoSuchUnit(t *testing.T) {
	ctx := context.Background()
	m := New("/system.slice")
	if err := m.DisableFiles(ctx, []string{"gone.timer"}); !sdbus.IsNoSuchUnit(err) {
		t.Errorf("no file, no link: %v, want NoSuchUnit", err)
	}
	m.AddFile("x.timer", "x")
	if _, err := m.EnableFiles(ctx, []string{"x.timer"}); err != nil {
		t.Fatal(err)
	}
	m.RemoveFile("x.timer")
	if err := m.DisableFiles(ctx, []string{"x.timer", "gone.timer"}); err != nil {
		t.Errorf("a dangling link beside a missing name: %v, want success (a link went)", err)
	}
	if m.Links("x.timer") {
		t.Error("the dangling link is still there")
	}
	if err := m.DisableFiles(ctx, []string{"x.timer"}); !sdbus.IsNoSuchUnit(err) {
		t.Errorf("once its link went: %v, want NoSuchUnit", err)
	}
}
