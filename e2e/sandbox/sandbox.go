package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options configures Boot.
type Options struct {
	// WorkDir is an absolute directory that belongs to the calling test; it
	// is created if missing. It stays visible at the same path inside the
	// instance (even under /tmp, /var/tmp or /home, which are otherwise
	// private there), so the binary under test, its PARACHUTE_HOME and its
	// fixtures belong here. It must not lie under /proc, /sys, /dev, /run or
	// systemd's own directories. Boot sets its mode to 0755 so that the
	// instance's non-root users can reach what lies below it. The harness
	// keeps its own files (the init log) in WorkDir/.sandbox/NAME.
	WorkDir string
	// Log receives one line per harness event (boot, shutdown, timings).
	// Nil discards them.
	Log io.Writer
	// BootTimeout bounds the wait for `systemctl is-system-running` to say
	// running or degraded. Zero means DefaultBootTimeout.
	BootTimeout time.Duration
	// StopTimeout is how long Shutdown waits after asking systemd to power
	// off before it SIGKILLs the instance. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Defaults for Options.
const (
	// DefaultBootTimeout is generous: a boot takes 0.5–1 s on an idle
	// machine, more on a loaded CI runner.
	DefaultBootTimeout = 30 * time.Second
	// DefaultStopTimeout bounds a polite poweroff (usually well under 2 s).
	DefaultStopTimeout = 15 * time.Second
)

// instanceBase is what an Instance holds on every platform: what the
// accessors below and the test helpers read. Instance itself is declared
// per platform (instance_linux.go, instance_other.go).
type instanceBase struct {
	name    string
	workDir string
	logPath string
	cgDir   string // host directory of the instance cgroup
	pid     int    // host pid of the instance's systemd (its PID 1)

	stopTimeout time.Duration
	bootTime    time.Duration
}

// Pid is the host pid of the instance's systemd, its PID 1.
func (in *Instance) Pid() int { return in.pid }

// Name is the instance's unique name: its hostname inside and the last
// element of its cgroup.
func (in *Instance) Name() string { return in.name }

// WorkDir is Options.WorkDir, cleaned.
func (in *Instance) WorkDir() string { return in.workDir }

// CgroupDir is the host directory of the instance's cgroup; every process
// of the instance is in it or below it.
func (in *Instance) CgroupDir() string { return in.cgDir }

// LogPath is the file that holds the init script's output.
func (in *Instance) LogPath() string { return in.logPath }

// BootTime is how long Boot took from starting unshare to systemd saying
// running or degraded.
func (in *Instance) BootTime() time.Duration { return in.bootTime }

// HostPath maps an absolute path inside the instance to one the host can
// open (through /proc/PID/root), such as /etc/systemd/system/x.service. It
// is valid while the instance runs.
//
// It maps only a path in one of the instance's private trees (Private).
// Any other path inside is the host's own file, seen through the mounts
// the instance shares with it, and a write there lands on the host: on
// such a path HostPath panics, so that no test reaches the host by
// mistake.
func (in *Instance) HostPath(inside string) string {
	p := filepath.Clean("/" + inside)
	if !in.Private(p) {
		panic(fmt.Sprintf("sandbox: %s inside the instance is the host's own file, not a private one (see privateTrees)", p))
	}
	return in.rootPath(p)
}

func (in *Instance) rootPath(inside string) string {
	return fmt.Sprintf("/proc/%d/root%s", in.pid, filepath.Clean("/"+inside))
}

// privateTrees are the paths init.sh gives the instance a copy of its own:
// a tmpfs, or a file bound from one. /etc/polkit-1/rules.d only when the
// host has that directory.
var privateTrees = []string{
	"/run", "/tmp", "/var/tmp", "/home", "/dev",
	"/etc/systemd", "/var/lib/systemd", "/etc/polkit-1/rules.d",
	"/etc/machine-id", "/etc/hostname", "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow",
}

// Private reports whether the absolute path inside is in one of the
// instance's private trees: one privateTrees names, that the running
// instance has a copy of, not the host's (a different file system, or a
// different file, from the host's at the same path), and reached from it
// through real directories of that copy only (no symbolic link, no other
// mount on the way, either of which could lead back to the host).
//
// A final component that is a symbolic link is private as the link:
// Lstat, Readlink and Remove act on the link itself, but opening it
// follows it, possibly out of the instance, so no test writes through one.
func (in *Instance) Private(inside string) bool {
	p := filepath.Clean("/" + inside)
	for _, tree := range privateTrees {
		if p != tree && !strings.HasPrefix(p, tree+"/") {
			continue
		}
		var mine, host unix.Stat_t
		if unix.Stat(in.rootPath(tree), &mine) != nil {
			return false
		}
		switch err := unix.Stat(tree, &host); {
		case err == unix.ENOENT:
			// The host has no such path: the instance's is its own.
		case err != nil, mine.Dev == host.Dev && mine.Ino == host.Ino:
			return false
		}
		return in.plainBelow(tree, p, mine)
	}
	return false
}

// plainBelow reports whether every existing component of p below tree
// (whose stat is root) is a directory on root's file system, the last one
// allowed to be anything but another file system's directory. A component
// that does not exist yet ends the check: whatever a test makes there is
// made inside.
func (in *Instance) plainBelow(tree, p string, root unix.Stat_t) bool {
	rest := strings.TrimPrefix(strings.TrimPrefix(p, tree), "/")
	if rest == "" {
		return true
	}
	parts := strings.Split(rest, "/")
	cur := tree
	for i, part := range parts {
		cur += "/" + part
		var st unix.Stat_t
		switch err := unix.Lstat(in.rootPath(cur), &st); {
		case err == unix.ENOENT:
			return true
		case err != nil:
			return false
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		last := i == len(parts)-1
		if isDir && st.Dev != root.Dev || !isDir && !last {
			return false
		}
	}
	return true
}

// Systemctl runs `systemctl ARGS...` inside as root and returns its standard
// output with surrounding space trimmed. A non-zero exit is an error that
// carries the exit status and standard error; the output is returned too,
// since `is-active` and `is-system-running` answer through both.
func (in *Instance) Systemctl(ctx context.Context, args ...string) (string, error) {
	return in.output(ctx, in.Command(ctx, append([]string{"systemctl"}, args...)...))
}

// output runs cmd and returns its trimmed standard output; a failure names
// the command and carries its standard error.
func (in *Instance) output(ctx context.Context, cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	if err != nil {
		argv := cmd.Args
		if i := slices.Index(argv, "--"); i >= 0 {
			argv = argv[i+1:]
		}
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return out, fmt.Errorf("run %q in sandbox %s: %w: %s", strings.Join(argv, " "), in.name, err, msg)
		}
		return out, fmt.Errorf("run %q in sandbox %s: %w", strings.Join(argv, " "), in.name, err)
	}
	return out, nil
}

// checkWorkDir validates Options.WorkDir and returns it cleaned.
func checkWorkDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("sandbox work dir: empty (set Options.WorkDir)")
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("sandbox work dir %s: not absolute", dir)
	}
	dir = filepath.Clean(dir)
	for _, bad := range []string{"/proc", "/sys", "/dev", "/run", "/etc/systemd", "/var/lib/systemd", "/var/log/journal"} {
		if dir == bad || strings.HasPrefix(dir, bad+"/") {
			return "", fmt.Errorf("sandbox work dir %s: under %s, which the instance replaces", dir, bad)
		}
	}
	for _, private := range []string{"/tmp", "/var/tmp", "/home"} {
		if dir == private {
			return "", fmt.Errorf("sandbox work dir %s: is a tree the instance makes private; use a directory below it", dir)
		}
	}
	if strings.ContainsAny(dir, "\n") {
		return "", fmt.Errorf("sandbox work dir %q: contains a newline", dir)
	}
	return dir, nil
}
