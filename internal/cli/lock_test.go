package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestLockNeverCreatesThroughSymlink pins a defect in lock (lock.go):
// flock.New opens <home>/.reconcile.lock with O_CREATE and follows a
// symlink, so whoever can write PARACHUTE_HOME can make the reconciler
// create a file anywhere it may write. Run as root for a box whose home a
// user owns (a system unit, --home /home/op/.parachute, or the boot unit),
// a planted `.reconcile.lock -> /etc/nologin` creates /etc/nologin and locks
// every non-root user out. README: "It never writes through a symlink it did
// not create". The lock must be opened with O_NOFOLLOW (and refuse a link).
func TestLockNeverCreatesThroughSymlink(t *testing.T) {
	home := t.TempDir()
	elsewhere := t.TempDir()
	target := filepath.Join(elsewhere, "nologin")
	if err := os.Symlink(target, filepath.Join(home, ".reconcile.lock")); err != nil {
		t.Fatal(err)
	}
	unlock, code := lock(context.Background(), "parachute reconcile", home, 0, io.Discard)
	if unlock != nil {
		defer unlock()
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock followed the planted symlink and created %s (exit code %d, err %v)", target, code, err)
	}
}

// TestAbsentRunDoesNotCreateHome pins a defect in lock (lock.go):
// every applying run does os.MkdirAll(home, 0o755) to hold
// <home>/.reconcile.lock, before it has observed anything. So
// `parachute reconcile --desired absent` on a box that has no
// PARACHUTE_HOME at all (already uninstalled, or a mistyped --home) reports
// "the box is absent; nothing to do" and exits 0, yet leaves a new home
// directory with a lock file behind; run by root with --home for a user's
// box it leaves a root-owned ~/.parachute the user's hub cannot write.
// README: "a run on a box that is already right does nothing".
func TestAbsentRunDoesNotCreateHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "no-such-box")
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"reconcile", "--desired", "absent", "--home", home, "--port", strconv.Itoa(port)}, &out, &errb)
	if code != ExitConverged {
		t.Fatalf("reconcile --desired absent exited %d: %s%s", code, out.String(), errb.String())
	}
	if _, err := os.Lstat(home); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a converged absent run created %s (err %v); output: %s", home, err, out.String())
	}
}
