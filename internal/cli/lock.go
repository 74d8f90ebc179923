package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// lock takes <home>/.reconcile.lock. It returns the unlock function, or nil
// and the exit code; its messages start with title (the command's).
func lock(ctx context.Context, title, home string, wait time.Duration, stderr io.Writer) (func(), int) {
	if err := os.MkdirAll(home, 0o755); err != nil {
		pf(stderr, "%s: create %s: %v\n", title, home, err)
		return nil, ExitFailed
	}
	path := filepath.Join(home, ".reconcile.lock")
	// O_NOFOLLOW: a planted .reconcile.lock symlink must not make a root run
	// create (or truncate) a file elsewhere.
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW), flock.SetPermissions(0o644))
	var ok bool
	var err error
	if wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = fl.TryLockContext(wctx, 50*time.Millisecond)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	} else {
		ok, err = fl.TryLock()
	}
	switch {
	case err != nil && errors.Is(err, syscall.EROFS):
		pf(stderr, "%s: lock %s: %v\nfix: the box's home is on a read-only file system, where neither the hub nor parachute can keep their files; mount it read-write, then run again\n", title, path, err)
		return nil, ExitBlocked
	case err != nil && lockNeedsPerson(err):
		pf(stderr, "%s: lock %s: %v\nfix: %s is not a lock file this user can create: remove or fix it (it must be a plain file, or absent), then run again\n", title, path, err, path)
		return nil, ExitBlocked
	case err != nil:
		pf(stderr, "%s: lock %s: %v\n", title, path, err)
		return nil, ExitFailed
	case !ok:
		pf(stderr, "%s: another run holds %s; exiting (use --wait-lock DURATION to wait)\n", title, path)
		return nil, ExitLocked
	}
	return func() { _ = fl.Unlock() }, 0
}

// lockNeedsPerson reports whether taking the lock failed for a reason no
// rerun can pass: the path is a directory or a link, a component is not a
// directory, or the user may not create or open it.
func lockNeedsPerson(err error) bool {
	for _, e := range []error{syscall.EISDIR, syscall.ELOOP, syscall.ENOTDIR, syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENXIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
