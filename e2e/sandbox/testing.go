package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// WorkRootDir is the directory, relative to the module root, under which
// NewWorkDir makes test work directories. It is git-ignored.
const WorkRootDir = ".e2e-work"

var probe struct {
	once sync.Once
	err  error
}

// Require makes the test fail or skip unless this machine can boot the
// sandbox. It checks the prerequisites (Linux, root, cgroup2, util-linux,
// systemd) and, once per test binary, boots and shuts down a probe instance
// (about a second). When it cannot: with CI=true in the environment the
// test fails with the reason and the boot log, since a broken harness must
// never pass as green; otherwise the test is skipped with the reason.
func Require(t testing.TB) {
	t.Helper()
	probe.once.Do(func() { probe.err = probeBoot() })
	if probe.err != nil {
		cannotBoot(t, probe.err)
	}
}

// cannotBoot applies Require's policy to err.
func cannotBoot(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("systemd sandbox cannot boot (CI=true: never skipped): %v", err)
		return
	}
	t.Skipf("systemd sandbox cannot boot on this machine: %v", err)
}

// probeBoot checks the prerequisites, then boots and stops one instance.
func probeBoot() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("needs Linux, this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (namespaces, mounts, cgroups)")
	}
	var missing []string
	for _, bin := range []string{"unshare", "nsenter", "setpriv", "mountpoint", "ip", "systemctl", "journalctl", "loginctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	for _, f := range []string{"/lib/systemd/systemd", "/usr/bin/dbus-daemon"} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s (apt-get install -y systemd dbus dbus-user-session util-linux iproute2)", strings.Join(missing, ", "))
	}
	dir, err := makeWorkDir("probe")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultBootTimeout+DefaultStopTimeout)
	defer cancel()
	in, err := Boot(ctx, Options{WorkDir: dir})
	if err != nil {
		return err // kept: dir holds the boot log
	}
	if err := in.Shutdown(ctx); err != nil {
		return fmt.Errorf("probe instance: %w", err)
	}
	return os.RemoveAll(dir)
}

// New is the usual way for a test to get an instance: it calls Require,
// fills in a default WorkDir (NewWorkDir) and Log (the test log), boots,
// and registers Shutdown as a cleanup that fails the test if stopping does
// not go cleanly. A boot failure fails the test with CI=true and skips it
// otherwise, with the boot log either way.
func New(t testing.TB, opts Options) *Instance {
	t.Helper()
	Require(t)
	if opts.WorkDir == "" {
		opts.WorkDir = NewWorkDir(t)
	}
	if opts.Log == nil {
		opts.Log = testLog{t}
	}
	in, err := Boot(context.Background(), opts)
	if err != nil {
		cannotBoot(t, err)
		return nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), in.stopTimeout+15*time.Second)
		defer cancel()
		if err := in.Shutdown(ctx); err != nil {
			t.Errorf("shut down sandbox %s: %v", in.Name(), err)
		}
	})
	return in
}

// testLog forwards harness events to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// NewWorkDir makes a fresh work directory (mode 0755) for t under
// <module root>/.e2e-work (WorkRootDir), or under the system temporary
// directory when no module root is found. It is removed when the test
// ends, unless the test failed: then it is kept, with its boot logs, and
// its path is logged.
func NewWorkDir(t testing.TB) string {
	t.Helper()
	dir, err := makeWorkDir(t.Name())
	if err != nil {
		t.Fatalf("make sandbox work dir: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keeping sandbox work dir %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove sandbox work dir: %v", err)
		}
	})
	return dir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// makeWorkDir creates a 0755 directory named after name under the work root.
func makeWorkDir(name string) (string, error) {
	base := os.TempDir()
	if root, err := moduleRoot(); err == nil {
		base = filepath.Join(root, WorkRootDir)
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
	}
	prefix := unsafeName.ReplaceAllString(name, "_")
	if len(prefix) > 60 {
		prefix = prefix[:60]
	}
	dir, err := os.MkdirTemp(base, prefix+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
