package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/internal/sdbus/sdbustest"
	"github.com/parachute/reconcile/unitfile"
)

// diskManager is sdbustest's manager reading the timer's unit directory
// as systemd reads its own: the files it loads are the ones on disk when it
// loads them.
type diskManager struct {
	*sdbustest.Manager
	dir string
}

func (m diskManager) sync() {
	for _, name := range []string{unitfile.TimerName, unitfile.TimerServiceName} {
		if b, err := os.ReadFile(filepath.Join(m.dir, name)); err == nil {
			m.AddFile(name, string(b))
		} else {
			m.RemoveFile(name)
		}
	}
}

func (m diskManager) Reload(ctx context.Context) error {
	m.sync()
	return m.Manager.Reload(ctx)
}

func (m diskManager) UnitProps(ctx context.Context, name string) (sdbus.Props, error) {
	m.sync()
	return m.Manager.UnitProps(ctx, name)
}

func (m diskManager) EnableFiles(ctx context.Context, names []string) (bool, error) {
	m.sync()
	return m.Manager.EnableFiles(ctx, names)
}

// timerRig is a timer's unit directory, the manager over it, and what a
// command printed.
type timerRig struct {
	t      *testing.T
	place  timerPlace
	mgr    diskManager
	stderr bytes.Buffer
}

func newTimerRig(t *testing.T) *timerRig {
	root := t.TempDir()
	dir := filepath.Join(root, "systemd", "system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &timerRig{t: t, place: timerPlace{scope: "system", dir: dir, root: root},
		mgr: diskManager{Manager: sdbustest.New("/system.slice"), dir: dir}}
}

func (r *timerRig) inv(words string) *invocation {
	r.stderr.Reset()
	return &invocation{env: &env{stdout: &bytes.Buffer{}, stderr: &r.stderr}, cmd: &command{UsageLine: "parachute " + words}}
}

// install writes the units as installTimer does (writeTimerFiles) and
// enables the timer through the fake.
func (r *timerRig) install(svc, tim string) (bool, int) {
	changed, err := writeTimerFiles(r.place, []byte(svc), []byte(tim))
	if err != nil {
		r.t.Fatal(err)
	}
	return enableTimer(context.Background(), r.inv("timer install"), r.mgr, changed)
}

func (r *timerRig) remove() (bool, int) {
	present, err := presentTimerFiles(r.place)
	if err != nil {
		r.t.Fatal(err)
	}
	return disableTimer(context.Background(), r.inv("timer remove"), r.mgr, r.place, present)
}

func (r *timerRig) props(name string) sdbus.Props {
	p, err := r.mgr.UnitProps(context.Background(), name)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

var errInjected = errors.New("injected")

// A failure at any step of an install leaves what the next install
// finishes: the manager running the files on disk, the timer linked and
// active.
func TestTimerInstallResumesAfterAFailure(t *testing.T) {
	for _, method := range []string{"EnableFiles", "UnitProps", "Reload", "Start"} {
		t.Run(method, func(t *testing.T) {
			r := newTimerRig(t)
			if _, code := r.install("svc v1\n", "timer v1\n"); code != ExitConverged {
				t.Fatalf("first install: exit %d: %s", code, r.stderr.String())
			}
			if method == "Start" {
				// Start is asked of a timer that is not running.
				if err := r.mgr.Stop(context.Background(), unitfile.TimerName); err != nil {
					t.Fatal(err)
				}
			}
			r.mgr.FailNext(method, errInjected)
			if _, code := r.install("svc v2\n", "timer v2\n"); code != ExitFailed {
				t.Fatalf("install with %s failing: exit %d, want %d", method, code, ExitFailed)
			}
			changed, code := r.install("svc v2\n", "timer v2\n")
			if code != ExitConverged || !changed {
				t.Fatalf("the next install: changed %t, exit %d: %s", changed, code, r.stderr.String())
			}
			p := r.props(unitfile.TimerName)
			if p.NeedDaemonReload || p.ActiveState != "active" || p.UnitFileState != "enabled" || !r.mgr.Links(unitfile.TimerName) {
				t.Errorf("after the next install: %+v, links %t", p, r.mgr.Links(unitfile.TimerName))
			}
			if p := r.props(unitfile.TimerServiceName); p.NeedDaemonReload {
				t.Error("the service's file on disk is not what the manager loaded")
			}
			if changed, code := r.install("svc v2\n", "timer v2\n"); code != ExitConverged || changed {
				t.Errorf("a third install: changed %t, exit %d, want nothing to do", changed, code)
			}
		})
	}
}

// A failure at any step of a removal leaves what the next removal
// finishes: no files, no links, the manager forgetting the timer.
func TestTimerRemoveResumesAfterAFailure(t *testing.T) {
	for _, method := range []string{"UnitProps", "Stop", "DisableFiles", "Reload", "ResetFailed"} {
		t.Run(method, func(t *testing.T) {
			r := newTimerRig(t)
			if _, code := r.install("svc\n", "timer\n"); code != ExitConverged {
				t.Fatalf("install: exit %d: %s", code, r.stderr.String())
			}
			if method == "ResetFailed" {
				// Only a failed timer is reset: one that failed, then lost its
				// file to a removal interrupted before the service's.
				ctx := context.Background()
				r.mgr.FailStart(unitfile.TimerName, "resources")
				if _, err := r.mgr.Restart(ctx, unitfile.TimerName); err == nil {
					t.Fatal("the timer did not fail")
				}
				if err := os.Remove(filepath.Join(r.place.dir, unitfile.TimerName)); err != nil {
					t.Fatal(err)
				}
				if err := r.mgr.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				if p := r.props(unitfile.TimerName); p.ActiveState != "failed" || p.LoadState != "not-found" {
					t.Fatalf("the timer before the removal: %+v", p)
				}
			}
			r.mgr.FailNext(method, errInjected)
			if _, code := r.remove(); code != ExitFailed {
				t.Fatalf("remove with %s failing: exit %d, want %d", method, code, ExitFailed)
			}
			if _, code := r.remove(); code != ExitConverged {
				t.Fatalf("the next remove: exit %d: %s", code, r.stderr.String())
			}
			for _, name := range []string{unitfile.TimerName, unitfile.TimerServiceName} {
				if _, err := os.Lstat(filepath.Join(r.place.dir, name)); !os.IsNotExist(err) {
					t.Errorf("%s still on disk: %v", name, err)
				}
			}
			if r.mgr.Links(unitfile.TimerName) {
				t.Error("the timer's install links are still there")
			}
			if p := r.props(unitfile.TimerName); p.LoadState != "not-found" || p.ActiveState != "inactive" {
				t.Errorf("the manager still has the timer: %+v", p)
			}
		})
	}
}

// A timer whose file was removed by hand, links and all, while the
// manager still runs it: remove stops it and goes on past the manager's
// NoSuchUnit (nothing left to disable). When only the file went and the
// links stayed, any other failure to disable is a failure, and the next
// remove takes the links away.
func TestTimerRemoveWithTheFileGone(t *testing.T) {
	rmTimerFile := func(r *timerRig) {
		if err := os.Remove(filepath.Join(r.place.dir, unitfile.TimerName)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("links gone too", func(t *testing.T) {
		r := newTimerRig(t)
		if _, code := r.install("svc\n", "timer\n"); code != ExitConverged {
			t.Fatalf("install: exit %d: %s", code, r.stderr.String())
		}
		rmTimerFile(r)
		if err := r.mgr.Manager.DisableFiles(context.Background(), []string{unitfile.TimerName}); err != nil {
			t.Fatal(err)
		}
		if removed, code := r.remove(); code != ExitConverged || !removed {
			t.Fatalf("remove: removed %t, exit %d: %s", removed, code, r.stderr.String())
		}
		if p := r.props(unitfile.TimerName); p.LoadState != "not-found" || p.ActiveState != "inactive" {
			t.Errorf("the manager still has the timer: %+v", p)
		}
	})
	t.Run("file there, NoSuchUnit", func(t *testing.T) {
		// With the file on disk the answer cannot mean "nothing left".
		r := newTimerRig(t)
		if _, code := r.install("svc\n", "timer\n"); code != ExitConverged {
			t.Fatalf("install: exit %d: %s", code, r.stderr.String())
		}
		r.mgr.FailNext("DisableFiles", godbus.Error{Name: sdbus.NoSuchUnit, Body: []any{"Unit file parachute-reconcile.timer does not exist."}})
		if _, code := r.remove(); code != ExitFailed {
			t.Fatalf("remove: exit %d, want %d", code, ExitFailed)
		}
		if _, err := os.Lstat(filepath.Join(r.place.dir, unitfile.TimerName)); err != nil {
			t.Errorf("the timer's file went although its disable failed: %v", err)
		}
	})
	t.Run("links left, disable fails", func(t *testing.T) {
		r := newTimerRig(t)
		if _, code := r.install("svc\n", "timer\n"); code != ExitConverged {
			t.Fatalf("install: exit %d: %s", code, r.stderr.String())
		}
		rmTimerFile(r)
		r.mgr.FailNext("DisableFiles", errInjected)
		if _, code := r.remove(); code != ExitFailed {
			t.Fatalf("remove with DisableFiles failing: exit %d, want %d", code, ExitFailed)
		}
		if !r.mgr.Links(unitfile.TimerName) {
			t.Fatal("the links went although DisableFiles failed")
		}
		if _, code := r.remove(); code != ExitConverged {
			t.Fatalf("the next remove: exit %d: %s", code, r.stderr.String())
		}
		if r.mgr.Links(unitfile.TimerName) {
			t.Error("the timer's install links are still there")
		}
	})
}
