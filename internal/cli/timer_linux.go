package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/parachute/reconcile/internal/boxfs"
	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/unitfile"
)

// installTimer writes the two units (unchanged files are not rewritten),
// makes the timer's install links, reloads the manager once when a file or
// a link changed or the manager has either unit's file as out of date
// (a run that wrote a file and failed before its reload), and starts the
// timer. It reports whether anything changed.
func installTimer(ctx context.Context, inv *invocation, place timerPlace, uid int, svc, tim []byte) (bool, int) {
	changed, err := writeTimerFiles(place, svc, tim)
	if err != nil {
		pf(inv.stderr, "%s: %v\nnothing was enabled\n", inv.cmd.title(), err)
		return false, ExitBlocked
	}
	conn, err := sdbus.Dial(ctx, place.scope, uid, os.Getenv)
	if err != nil {
		return false, inv.failed(dialExit(err), err)
	}
	defer conn.Close()
	return enableTimer(ctx, inv, conn, changed)
}

// writeTimerFiles writes the service and the timer in place, each through
// boxfs from place.root (atomically, no link followed), leaving an
// identical file as it is; it reports whether it wrote either.
func writeTimerFiles(place timerPlace, svc, tim []byte) (bool, error) {
	changed := false
	for _, f := range []struct {
		name string
		data []byte
	}{{unitfile.TimerServiceName, svc}, {unitfile.TimerName, tim}} {
		rel, err := relTo(place.root, filepath.Join(place.dir, f.name))
		if err != nil {
			return false, err
		}
		c, err := boxfs.WriteFile(place.root, rel, f.data, 0o644, &boxfs.Mkdir{Perm: 0o755, UID: -1, GID: -1}, -1, -1)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

// timerManager is what the timer's install and removal ask of the service
// manager: an sdbus.Conn, or sdbustest's working fake in tests.
type timerManager interface {
	EnableFiles(ctx context.Context, names []string) (bool, error)
	DisableFiles(ctx context.Context, names []string) error
	Reload(ctx context.Context) error
	UnitProps(ctx context.Context, name string) (sdbus.Props, error)
	Start(ctx context.Context, name string) (string, error)
	Stop(ctx context.Context, name string) error
	ResetFailed(ctx context.Context, name string) error
}

var _ timerManager = (*sdbus.Conn)(nil)

// enableTimer is installTimer after the files: changed says whether it
// wrote one.
func enableTimer(ctx context.Context, inv *invocation, conn timerManager, changed bool) (bool, int) {
	fail := func(err error) (bool, int) { return false, inv.failed(ExitFailed, err) }
	// The links are made every time (systemd makes none that are there)
	// rather than trusted from UnitFileState, which a manager not reloaded
	// since the links changed still reports as before; then one reload for
	// the files and the links together. NeedDaemonReload is asked even
	// when this run changed something: it is the one sign a later run has
	// of a change an earlier run made and did not finish applying.
	linked, err := conn.EnableFiles(ctx, []string{unitfile.TimerName})
	if err != nil {
		return fail(err)
	}
	stale, err := needsReload(ctx, conn)
	if err != nil {
		return fail(err)
	}
	changed = changed || linked || stale
	if changed {
		if err := conn.Reload(ctx); err != nil {
			return fail(err)
		}
	}
	// A running timer needs no restart for a changed schedule: the reload
	// re-arms a waiting timer with what it loaded (systemd's
	// timer_coldplug enters the waiting state anew), and one whose service
	// is running at that moment is armed with it when the service ends.
	// So nothing is left undone for a later run to miss when this one
	// fails after the reload (e2e TestTimerReinstallReschedules).
	p, err := conn.UnitProps(ctx, unitfile.TimerName)
	if err != nil {
		return fail(err)
	}
	if p.ActiveState != "active" {
		if _, err := conn.Start(ctx, unitfile.TimerName); err != nil {
			return fail(err)
		}
		changed = true
	}
	return changed, ExitConverged
}

// needsReload reports whether the manager has the timer's or its service's
// file as changed since it loaded it (NeedDaemonReload).
func needsReload(ctx context.Context, conn timerManager) (bool, error) {
	for _, name := range []string{unitfile.TimerName, unitfile.TimerServiceName} {
		p, err := conn.UnitProps(ctx, name)
		if err != nil {
			return false, err
		}
		if p.NeedDaemonReload {
			return true, nil
		}
	}
	return false, nil
}

// removeTimer stops the timer (when it is running), removes its install
// links, deletes both units and reloads the manager. Once the links are
// gone the reload is made even when a file removal fails; a failure before
// that leaves the files in place, and the next remove starts over. It
// reports whether there was anything to remove.
func removeTimer(ctx context.Context, inv *invocation, place timerPlace, uid int) (bool, int) {
	present, err := presentTimerFiles(place)
	if err != nil {
		// Before anything is stopped: a link on the way (or at a unit
		// file) would make the removal below fail half done.
		return false, inv.failed(ExitBlocked, err)
	}
	conn, err := sdbus.Dial(ctx, place.scope, uid, os.Getenv)
	if err != nil {
		if _, missing := errors.AsType[*sdbus.MissingError](err); missing && len(present) == 0 {
			// Nothing on disk and no manager running to have the timer
			// loaded. A manager that exists but cannot be reached may
			// still have it (an earlier removal whose reload failed).
			return false, ExitConverged
		}
		return false, inv.failed(dialExit(err), err)
	}
	defer conn.Close()
	return disableTimer(ctx, inv, conn, place, present)
}

// disableTimer is removeTimer once the files present are known; with none,
// it only makes the manager forget a timer it still has loaded.
func disableTimer(ctx context.Context, inv *invocation, conn timerManager, place timerPlace, present []string) (bool, int) {
	fail := func(err error) (bool, int) { return false, inv.failed(ExitFailed, err) }
	p, err := conn.UnitProps(ctx, unitfile.TimerName)
	if err != nil {
		return fail(err)
	}
	if len(present) == 0 && p.LoadState == "not-found" && p.ActiveState == "inactive" {
		return false, ExitConverged // nothing on disk, nothing loaded
	}
	// Only a running timer is stopped: systemd refuses to stop an inactive
	// unit it cannot load (its file gone in a remove that failed half way,
	// or a file it cannot parse), and an inactive one has nothing to stop.
	switch p.ActiveState {
	case "inactive", "failed":
	default:
		if err := conn.Stop(ctx, unitfile.TimerName); err != nil {
			return fail(err)
		}
	}
	// The links are removed by name, also when the timer's file went
	// earlier (systemd still finds them then). Only with neither the file
	// nor a link left does systemd answer NoSuchUnit, and only then is
	// there nothing to disable; any other failure may have left links.
	if err := conn.DisableFiles(ctx, []string{unitfile.TimerName}); err != nil && (slices.Contains(present, unitfile.TimerName) || !sdbus.IsNoSuchUnit(err)) {
		return fail(err)
	}
	removeErr := removeTimerFiles(place, present)
	if err := conn.Reload(ctx); err != nil {
		return fail(errors.Join(removeErr, err))
	}
	if removeErr != nil {
		return fail(removeErr)
	}
	// A timer the manager could not load (its file gone, then a reload)
	// is left failed; clearing that lets the manager forget it.
	if p, err := conn.UnitProps(ctx, unitfile.TimerName); err != nil {
		return fail(err)
	} else if p.ActiveState == "failed" {
		if err := conn.ResetFailed(ctx, unitfile.TimerName); err != nil {
			return fail(err)
		}
	}
	return true, ExitConverged
}

// removeTimerFiles removes the timer's unit files named in present, each
// through boxfs from place.root; the first failure ends it.
func removeTimerFiles(place timerPlace, present []string) error {
	for _, name := range present {
		rel, err := relTo(place.root, filepath.Join(place.dir, name))
		if err == nil {
			err = boxfs.Remove(place.root, rel)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// presentTimerFiles lists the timer's unit files in place, looked at as the
// removal will remove them: through boxfs from place.root, so that a link
// on the way or at a file is refused before anything changes.
func presentTimerFiles(place timerPlace) ([]string, error) {
	rel, err := relTo(place.root, place.dir)
	if err != nil {
		return nil, err
	}
	dir, err := boxfs.OpenDir(place.root, rel, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	var present []string
	for _, name := range []string{unitfile.TimerName, unitfile.TimerServiceName} {
		_, link, err := dir.Lstat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		case link:
			return nil, fmt.Errorf("%s is a symlink: refusing to remove through it; remove it by hand", filepath.Join(place.dir, name))
		default:
			present = append(present, name)
		}
	}
	return present, nil
}

// dialExit is the exit code of a failed dial to the manager: no manager is
// blocked (3), a failed connection to one that exists is a failure (1).
func dialExit(err error) int {
	if _, ok := errors.AsType[*sdbus.MissingError](err); ok {
		return ExitBlocked
	}
	return ExitFailed
}

// relTo is path relative to root, for the boxfs calls.
func relTo(root, path string) (string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is not below %s", path, root)
	}
	return rel, nil
}
