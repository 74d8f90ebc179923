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
// a link changed, and starts the timer. It reports whether anything
// changed.
func installTimer(ctx context.Context, inv *invocation, place timerPlace, uid int, svc, tim []byte) (bool, int) {
	changed := false
	for _, f := range []struct {
		name string
		data []byte
	}{{unitfile.TimerServiceName, svc}, {unitfile.TimerName, tim}} {
		rel, err := relTo(place.root, filepath.Join(place.dir, f.name))
		if err != nil {
			pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
			return false, ExitBlocked
		}
		c, err := boxfs.WriteFile(place.root, rel, f.data, 0o644, &boxfs.Mkdir{Perm: 0o755, UID: -1, GID: -1}, -1, -1)
		if err != nil {
			pf(inv.stderr, "%s: %v\nnothing was enabled\n", inv.cmd.title(), err)
			return false, ExitBlocked
		}
		changed = changed || c
	}
	conn, code := dialTimer(ctx, inv, place.scope, uid)
	if conn == nil {
		return false, code
	}
	defer conn.Close()
	// The links are made every time (systemd makes none that are there)
	// rather than trusted from UnitFileState, which a manager not reloaded
	// since the links changed still reports as before; then one reload for
	// the files and the links together.
	linked, err := conn.EnableFiles(ctx, []string{unitfile.TimerName})
	if err == nil && (changed || linked) {
		err = conn.Reload(ctx)
	}
	if err != nil {
		pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
		return false, ExitFailed
	}
	changed = changed || linked
	p, err := conn.UnitProps(ctx, unitfile.TimerName)
	if err != nil {
		pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
		return false, ExitFailed
	}
	if p.ActiveState != "active" || changed {
		start := conn.Start
		if p.ActiveState == "active" {
			start = conn.Restart // a changed timer is re-armed with its new schedule
		}
		if _, err := start(ctx, unitfile.TimerName); err != nil {
			pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
			return false, ExitFailed
		}
		changed = true
	}
	return changed, ExitConverged
}

// removeTimer stops the timer (when the manager has it loaded), removes its
// install links (when its file is there to name them), deletes both units
// and reloads the manager. Once the links may have changed, the reload is
// made whatever fails after it, so that the manager never keeps reporting
// links that are gone. It reports whether there was anything to remove.
func removeTimer(ctx context.Context, inv *invocation, place timerPlace, uid int) (bool, int) {
	present, err := presentTimerFiles(place)
	if err != nil {
		// Before anything is stopped: a link on the way (or at a unit
		// file) would make the removal below fail half done.
		pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
		return false, ExitBlocked
	}
	if len(present) == 0 {
		return false, ExitConverged
	}
	conn, code := dialTimer(ctx, inv, place.scope, uid)
	if conn == nil {
		return false, code
	}
	defer conn.Close()
	fail := func(err error) (bool, int) {
		pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
		return false, ExitFailed
	}
	p, err := conn.UnitProps(ctx, unitfile.TimerName)
	if err != nil {
		return fail(err)
	}
	// A timer whose file went earlier (a remove that failed half way) is
	// not loaded after any reload: stopping it would fail, and there is
	// nothing to stop.
	if p.LoadState != "not-found" && p.LoadState != "" {
		if err := conn.Stop(ctx, unitfile.TimerName); err != nil {
			return fail(err)
		}
	}
	if slices.Contains(present, unitfile.TimerName) {
		if err := conn.DisableFiles(ctx, []string{unitfile.TimerName}); err != nil {
			return fail(err)
		}
	}
	removeErr := removeTimerFiles(place, present)
	if err := conn.Reload(ctx); err != nil {
		return fail(errors.Join(removeErr, err))
	}
	if removeErr != nil {
		return fail(removeErr)
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

// dialTimer connects to the manager of scope: no manager is blocked (3), a
// failed connection to one that exists is a failure (1).
func dialTimer(ctx context.Context, inv *invocation, scope string, uid int) (*sdbus.Conn, int) {
	conn, err := sdbus.Dial(ctx, scope, uid, os.Getenv)
	if err != nil {
		pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
		if _, ok := errors.AsType[*sdbus.MissingError](err); ok {
			return nil, ExitBlocked
		}
		return nil, ExitFailed
	}
	return conn, ExitConverged
}

// relTo is path relative to root, for the boxfs calls.
func relTo(root, path string) (string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is not below %s", path, root)
	}
	return rel, nil
}
