package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// systemdPath is where Debian installs the manager; init.sh execs it.
const systemdPath = "/lib/systemd/systemd"

// sigPoweroff is systemd's SIGRTMIN+4 ("halt and power off"). systemd is
// built against glibc, whose SIGRTMIN is 34 (the kernel's 32 plus two
// reserved for NPTL), so the number is 38, not unix.SIGRTMIN+4.
const sigPoweroff = unix.Signal(38)

// initScript is the inside half of the recipe; Boot passes it to /bin/sh.
//
//go:embed init.sh
var initScript string

// seq makes instance names unique within one process.
var seq atomic.Int64

// Instance is one booted systemd. Its methods may be called from several
// goroutines, except that Shutdown must not race with Command, CommandAs or
// the Start of a command they returned.
type Instance struct {
	instanceBase

	stateDir string
	log      io.Writer
	logMu    sync.Mutex

	cgPath  string   // the same cgroup as /proc/PID/cgroup names it
	leafDir string   // child cgroup that commands start in
	leaf    *os.File // open on leafDir, for clone3 CLONE_INTO_CGROUP

	nsenter string
	pidfd   int // -1 when not open
	unshare *exec.Cmd
	done    chan struct{} // closed when unshare has exited
	waitErr error         // unshare's exit, valid after done

	ready    atomic.Bool // PID 1 is systemd in its own namespaces
	closed   atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

// errClosed is returned by commands of an instance that is shut down or
// whose systemd has exited.
var errClosed = errors.New("instance is not running")

// errNotReady is returned by commands before the instance's PID 1 is
// systemd.
var errNotReady = errors.New("instance has not booted systemd yet")

// Boot starts a new instance and returns once its systemd says running or
// degraded. On any failure it stops what it started and returns an error
// that carries the boot log (the init script's output and, when systemd
// got that far, its jobs, failed units and journal).
func Boot(ctx context.Context, opts Options) (*Instance, error) {
	workDir, err := checkWorkDir(opts.WorkDir)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("boot sandbox: needs root (namespaces, mounts and cgroups)")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, fmt.Errorf("boot sandbox: nsenter (util-linux): %w", err)
	}
	unshareBin, err := exec.LookPath("unshare")
	if err != nil {
		return nil, fmt.Errorf("boot sandbox: unshare (util-linux): %w", err)
	}
	systemdExe, err := filepath.EvalSymlinks(systemdPath)
	if err != nil {
		return nil, fmt.Errorf("boot sandbox: systemd: %w", err)
	}

	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("boot sandbox: name: %w", err)
	}
	name := fmt.Sprintf("sbx-%d-%d-%s", os.Getpid(), seq.Add(1), hex.EncodeToString(rnd[:]))

	in := &Instance{
		instanceBase: instanceBase{name: name, workDir: workDir, stopTimeout: opts.StopTimeout},
		stateDir:     filepath.Join(workDir, ".sandbox", name),
		log:          opts.Log,
		nsenter:      nsenter,
		pidfd:        -1,
		done:         make(chan struct{}),
	}
	if in.stopTimeout <= 0 {
		in.stopTimeout = DefaultStopTimeout
	}
	in.logPath = filepath.Join(in.stateDir, "init.log")
	bootTimeout := opts.BootTimeout
	if bootTimeout <= 0 {
		bootTimeout = DefaultBootTimeout
	}

	if err := os.MkdirAll(in.stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("boot sandbox %s: %w", name, err)
	}
	// MkdirAll leaves existing directories alone; the work dir must be
	// traversable by the instance's non-root users.
	if err := os.Chmod(workDir, 0o755); err != nil {
		return nil, fmt.Errorf("boot sandbox %s: %w", name, err)
	}

	if err := in.makeCgroup(); err != nil {
		return nil, in.failBoot(fmt.Errorf("boot sandbox %s: %w", name, err))
	}
	start := time.Now()
	if err := in.start(unshareBin); err != nil {
		return nil, in.failBoot(fmt.Errorf("boot sandbox %s: %w", name, err))
	}
	in.logf("started: PID 1 of the instance is host pid %d, cgroup %s", in.pid, in.cgDir)
	if err := in.waitRunning(ctx, systemdExe, start.Add(bootTimeout)); err != nil {
		return nil, in.failBoot(fmt.Errorf("boot sandbox %s: %w", name, err))
	}
	in.bootTime = time.Since(start)
	in.logf("booted in %v", in.bootTime.Round(time.Millisecond))
	return in, nil
}

// makeCgroup creates the instance cgroup under the caller's own cgroup2
// cgroup, and the leaf that commands start in.
func (in *Instance) makeCgroup() error {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	m, err := findCgroup2Mount(mi)
	mi.Close()
	if err != nil {
		return err
	}
	pc, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return err
	}
	own, err := ownCgroup2Path(pc)
	pc.Close()
	if err != nil {
		return err
	}
	ownDir, err := cgroupDir(m, own)
	if err != nil {
		return err
	}
	in.cgPath = strings.TrimSuffix(own, "/") + "/" + in.name
	in.cgDir = filepath.Join(ownDir, in.name)
	if err := os.Mkdir(in.cgDir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	// The leaf is a sibling of systemd's init.scope and slices. Commands
	// must start inside the instance's cgroup namespace root, or systemd
	// and logind could not move what they start (a process outside the
	// namespace's root shows as "/.." to them).
	in.leafDir = filepath.Join(in.cgDir, "harness")
	if err := os.Mkdir(in.leafDir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	in.leaf, err = os.Open(in.leafDir)
	if err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	return nil
}

// start launches unshare on the init script and records systemd's pid.
func (in *Instance) start(unshareBin string) error {
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(unshareBin,
		"--fork", "--kill-child=SIGKILL",
		"--pid", "--mount-proc", "--mount", "--uts", "--ipc", "--net",
		"--propagation", "private",
		"--", "/bin/sh", "-c", initScript, "sandbox-init", "stage1", in.cgDir, in.workDir, in.name)
	hostMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	cmd.Env = []string{"PATH=" + defaultPath, "SANDBOX_INIT=" + initScript, "SANDBOX_HOST_MNTNS=" + hostMnt}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	// Setsid detaches it from the test's terminal and process group.
	// Pdeathsig (and unshare's --kill-child) end the whole instance if the
	// test process dies without calling Shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start unshare: %w", err)
	}
	in.unshare = cmd
	go func() {
		in.waitErr = cmd.Wait()
		close(in.done)
	}()

	// unshare forks once: its only child becomes PID 1 of the new pid
	// namespace and later execs systemd.
	upid := cmd.Process.Pid
	children := fmt.Sprintf("/proc/%d/task/%d/children", upid, upid)
	deadline := time.Now().Add(5 * time.Second)
	for in.pid == 0 {
		b, err := os.ReadFile(children)
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			pid, err := strconv.Atoi(f[0])
			if err != nil {
				return fmt.Errorf("read %s: %w", children, err)
			}
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				return fmt.Errorf("open pidfd of %d: %w", pid, err)
			}
			// The pidfd pins the process; check it is still unshare's child,
			// so a pid reused in between is never adopted.
			if ppid, err := parentPid(pid); err != nil || ppid != upid {
				unix.Close(fd)
				return fmt.Errorf("pid %d is not the child of unshare %d", pid, upid)
			}
			in.pid, in.pidfd = pid, fd
			break
		}
		select {
		case <-in.done:
			return fmt.Errorf("unshare exited before forking: %v", in.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("unshare %d forked no child within 5s", upid)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// parentPid reads PPid from /proc/PID/status.
func parentPid(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no PPid in /proc/%d/status", pid)
}

// waitRunning waits until PID 1 is systemd and is-system-running says
// running or degraded.
func (in *Instance) waitRunning(ctx context.Context, systemdExe string, deadline time.Time) error {
	ownMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	isSystemd := false
	last := "not started"
	for {
		select {
		case <-in.done:
			return fmt.Errorf("init exited before systemd was up (%v); last state %q", in.waitErr, last)
		case <-ctx.Done():
			return fmt.Errorf("wait for systemd: %w; last state %q", ctx.Err(), last)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("systemd not running within the boot timeout; last state %q", last)
		}
		if !isSystemd {
			// Until PID 1 has exec'd systemd, its mount namespace may still
			// show the host's /run: a systemctl run there could reach a
			// host manager. So nothing runs inside before this holds.
			exe, err1 := os.Readlink(fmt.Sprintf("/proc/%d/exe", in.pid))
			mnt, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", in.pid))
			if err1 == nil && err2 == nil && exe == systemdExe && mnt != ownMnt {
				isSystemd = true
				in.ready.Store(true)
				continue
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		state, _ := in.Systemctl(cctx, "is-system-running")
		cancel()
		if state != "" {
			last = state
		}
		switch state {
		case "running":
			return nil
		case "degraded":
			failed, _ := in.Systemctl(ctx, "list-units", "--failed", "--plain", "--no-legend")
			in.logf("degraded; failed units:\n%s", failed)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failBoot collects the boot log, stops the instance and returns err with
// the log attached.
func (in *Instance) failBoot(err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v\n--- init log %s ---\n%s", err, in.logPath, tailFile(in.logPath, 32<<10))
	if in.usable() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, argv := range [][]string{
			{"systemctl", "list-jobs", "--no-pager"},
			{"systemctl", "list-units", "--failed", "--no-pager"},
			{"journalctl", "-b", "--no-pager", "-n", "150"},
		} {
			out, err := in.output(ctx, in.Command(ctx, argv...))
			fmt.Fprintf(&b, "--- %s ---\n%s\n", strings.Join(argv, " "), out)
			if err != nil {
				fmt.Fprintf(&b, "(%v)\n", err)
			}
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), in.stopTimeout+15*time.Second)
	defer cancel()
	if serr := in.Shutdown(ctx); serr != nil {
		fmt.Fprintf(&b, "--- cleanup ---\n%v\n", serr)
	}
	return errors.New(b.String())
}

// Command returns a command that runs argv inside the instance as root,
// through `nsenter -t PID -m -u -i -n -p -C`. It starts in the instance's
// "harness" cgroup (via clone3 CLONE_INTO_CGROUP), so systemd and logind can
// adopt what it starts. Its environment is a fixed root environment (PATH,
// HOME=/root, LANG=C.UTF-8, SYSTEMD_COLORS=0); append to cmd.Env to add.
// The working directory inside is "/" (cmd.Dir applies on the host side
// only; use `env -C DIR` to change directory inside). Do not replace
// cmd.SysProcAttr. If the instance is not running, Start returns an error.
//
// Cancelling ctx kills the host-side nsenter; the program inside keeps
// running until it exits or the instance shuts down.
func (in *Instance) Command(ctx context.Context, argv ...string) *exec.Cmd {
	return in.command(ctx, nil, []string{
		"PATH=" + defaultPath, "HOME=/root", "USER=root", "LOGNAME=root",
		"SHELL=/bin/sh", "LANG=C.UTF-8", "SYSTEMD_COLORS=0",
	}, argv)
}

// CommandAs is Command for a non-root user made by AddUser: argv runs under
// `setpriv --reuid --regid --init-groups` with the user's environment
// (User.Env: HOME, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, …).
func (in *Instance) CommandAs(ctx context.Context, user User, argv ...string) *exec.Cmd {
	pre := []string{"setpriv", "--reuid=" + strconv.Itoa(user.UID), "--regid=" + strconv.Itoa(user.GID), "--init-groups", "--"}
	cmd := in.command(ctx, pre, user.Env(), argv)
	if user.UID <= 0 && cmd.Err == nil {
		cmd.Err = fmt.Errorf("run as user %q in sandbox %s: not a non-root user from AddUser", user.Name, in.name)
	}
	return cmd
}

func (in *Instance) command(ctx context.Context, pre, env, argv []string) *exec.Cmd {
	args := []string{"-t", strconv.Itoa(in.pid), "-m", "-u", "-i", "-n", "-p", "-C", "--"}
	args = append(args, pre...)
	args = append(args, argv...)
	cmd := exec.CommandContext(ctx, in.nsenter, args...)
	cmd.Env = env
	cmd.Dir = "/"
	if len(argv) == 0 {
		cmd.Err = fmt.Errorf("run in sandbox %s: no command", in.name)
		return cmd
	}
	if err := in.usable(); err != nil {
		cmd.Err = fmt.Errorf("run %q in sandbox %s: %w", argv[0], in.name, err)
		return cmd
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(in.leaf.Fd())}
	return cmd
}

// usable reports why commands cannot run inside, or nil. Nothing runs
// before PID 1 has exec'd systemd (until then its mount namespace may still
// show the host's /run). The pidfd check makes sure the pid nsenter is
// given is still our systemd.
func (in *Instance) usable() error {
	if !in.ready.Load() {
		return errNotReady
	}
	if in.closed.Load() || in.pidfd < 0 || in.leaf == nil {
		return errClosed
	}
	select {
	case <-in.done:
		return errClosed
	default:
	}
	if err := unix.PidfdSendSignal(in.pidfd, 0, nil, 0); err != nil {
		return fmt.Errorf("%w: systemd pid %d: %v", errClosed, in.pid, err)
	}
	return nil
}

// AddUser creates a non-root user that exists only inside the instance (in
// its private /etc/passwd, /etc/group and /etc/shadow copies, with a home
// on its private /home), and starts user@UID.service so `systemctl --user`
// works at once. Linger is left to the caller (`loginctl enable-linger`).
func (in *Instance) AddUser(ctx context.Context, name string) (User, error) {
	if err := validUserName(name); err != nil {
		return User{}, fmt.Errorf("add user in sandbox %s: %w", in.name, err)
	}
	passwd, err := in.output(ctx, in.Command(ctx, "cat", "/etc/passwd"))
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	group, err := in.output(ctx, in.Command(ctx, "cat", "/etc/group"))
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	id, err := freeID(strings.NewReader(passwd), strings.NewReader(group), name)
	if err != nil {
		return User{}, fmt.Errorf("%w (sandbox %s)", err, in.name)
	}
	if _, err := in.output(ctx, in.Command(ctx, "/bin/sh", "-c", addUserScript, "sandbox-adduser", name, strconv.Itoa(id))); err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	u := User{Name: name, UID: id, GID: id, Home: "/home/" + name}
	in.logf("added user %s (uid %d), user@%d.service started", name, id, id)
	return u, nil
}

// addUserScript runs inside as root with arguments NAME UID. It appends to
// the private account files in place (they are bind mounts, which rename(2)
// cannot replace, so useradd would fail), refusing if any of them is not a
// mount point, i.e. if it could be the host's own file.
const addUserScript = `set -eu
name=$1 id=$2
for f in /etc/passwd /etc/group /etc/shadow /home; do
	mountpoint -q "$f" || { echo "$f is not the sandbox's private copy" >&2; exit 1; }
done
printf '%s:x:%s:%s::/home/%s:/bin/sh\n' "$name" "$id" "$id" "$name" >>/etc/passwd
printf '%s:x:%s:\n' "$name" "$id" >>/etc/group
printf '%s:*:19000:0:99999:7:::\n' "$name" >>/etc/shadow
if mountpoint -q /etc/gshadow; then printf '%s:!::\n' "$name" >>/etc/gshadow; fi
install -d -m 0700 -o "$id" -g "$id" "/home/$name"
systemctl start "user@$id.service"
`

// Shutdown stops the instance, following step 6 of the recipe: it checks
// that the recorded systemd is alive and inside the instance's cgroup,
// sends it SIGRTMIN+4 (poweroff), SIGKILLs it after Options.StopTimeout
// (or when ctx ends), which ends the whole pid namespace, waits for
// unshare, kills whatever of ours is left in the instance cgroup (host-side
// nsenter processes), and removes the cgroup, leaves first. It is
// idempotent: later calls return the first call's result.
func (in *Instance) Shutdown(ctx context.Context) error {
	in.stopOnce.Do(func() { in.stopErr = in.shutdown(ctx) })
	return in.stopErr
}

func (in *Instance) shutdown(ctx context.Context) error {
	in.closed.Store(true)
	start := time.Now()
	var errs []error
	if in.unshare != nil && !in.exited() {
		// Commands still running inside must go first: on poweroff,
		// systemd-shutdown SIGSTOPs every process it sees, and a stopped
		// child makes its host-side nsenter stop itself too, leaving a
		// zombie that systemd-shutdown then waits 90 s for.
		if in.leafDir != "" {
			if err := killCgroup(in.leafDir, in.cgPath+"/harness"); err != nil {
				errs = append(errs, err)
			}
			waitUnpopulated(in.leafDir, 2*time.Second)
		}
		polite := false
		if !in.ready.Load() {
			// Still the init script, possibly not yet in our cgroup; PID 1
			// of a pid namespace ignores signals it has no handler for.
			// Kill unshare, our own unreaped child: its --kill-child
			// SIGKILLs the namespace's PID 1, which ends the namespace.
			in.logf("not booted yet: killing unshare")
			if err := in.unshare.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("kill unshare of sandbox %s: %w", in.name, err))
			}
		} else if err := in.checkOurs(); err != nil {
			errs = append(errs, err)
		} else if err := unix.PidfdSendSignal(in.pidfd, sigPoweroff, nil, 0); err != nil {
			errs = append(errs, fmt.Errorf("power off sandbox %s (pid %d): %w", in.name, in.pid, err))
		} else {
			polite = true
		}
		if !polite || !in.waitExit(ctx, in.stopTimeout) {
			if polite {
				in.logf("no poweroff within %v: SIGKILL", in.stopTimeout)
			}
			if err := in.checkOurs(); err == nil && in.ready.Load() {
				if err := unix.PidfdSendSignal(in.pidfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("kill sandbox %s (pid %d): %w", in.name, in.pid, err))
				}
			}
			if !in.waitExit(context.Background(), 5*time.Second) {
				// Whatever keeps it alive is inside our cgroup.
				if err := killCgroup(in.cgDir, in.cgPath); err != nil {
					errs = append(errs, err)
				}
				if !in.waitExit(context.Background(), 5*time.Second) {
					errs = append(errs, fmt.Errorf("stop sandbox %s: unshare %d still running", in.name, in.unshare.Process.Pid))
				}
			}
		}
	}
	if in.cgDir != "" {
		if err := in.emptyCgroup(); err != nil {
			errs = append(errs, err)
		}
		if in.leaf != nil {
			in.leaf.Close()
		}
		if err := removeCgroupTree(in.cgDir); err != nil {
			errs = append(errs, err)
		}
	}
	if in.pidfd >= 0 {
		unix.Close(in.pidfd)
		in.pidfd = -1
	}
	in.logf("shut down in %v", time.Since(start).Round(time.Millisecond))
	return errors.Join(errs...)
}

func (in *Instance) exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d (or until ctx ends) for unshare to exit.
func (in *Instance) waitExit(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-in.done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return in.exited()
	}
}

// checkOurs verifies that the pidfd's process is alive and inside the
// instance cgroup before it is signalled.
func (in *Instance) checkOurs() error {
	if in.pidfd < 0 {
		return fmt.Errorf("signal sandbox %s: no pidfd", in.name)
	}
	if err := unix.PidfdSendSignal(in.pidfd, 0, nil, 0); err != nil {
		return fmt.Errorf("signal sandbox %s (pid %d): not alive: %w", in.name, in.pid, err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", in.pid))
	if err != nil {
		return fmt.Errorf("signal sandbox %s (pid %d): %w", in.name, in.pid, err)
	}
	p, err := ownCgroup2Path(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("signal sandbox %s (pid %d): %w", in.name, in.pid, err)
	}
	if !inCgroup(p, in.cgPath) {
		return fmt.Errorf("signal sandbox %s (pid %d): in cgroup %s, not in %s: refusing", in.name, in.pid, p, in.cgPath)
	}
	// The pidfd pins the identity; re-check after reading /proc so the
	// cgroup we read was that process's.
	if err := unix.PidfdSendSignal(in.pidfd, 0, nil, 0); err != nil {
		return fmt.Errorf("signal sandbox %s (pid %d): not alive: %w", in.name, in.pid, err)
	}
	return nil
}

// emptyCgroup waits briefly for the instance cgroup to empty, then kills
// what is left in it (only processes in our own cgroup, e.g. host-side
// nsenter parents of commands still running) and waits again.
func (in *Instance) emptyCgroup() error {
	if waitUnpopulated(in.cgDir, 2*time.Second) {
		return nil
	}
	in.logf("cgroup still populated after systemd exited: killing its processes")
	if err := killCgroup(in.cgDir, in.cgPath); err != nil {
		return err
	}
	if !waitUnpopulated(in.cgDir, 5*time.Second) {
		return fmt.Errorf("empty cgroup %s: still populated", in.cgDir)
	}
	return nil
}

// killCgroup SIGKILLs every process in the cgroup at dir (named cgPath in
// /proc/PID/cgroup) and below, with cgroup.kill where the kernel has it
// (5.14+), else one pidfd at a time after checking each process's cgroup.
// It is only ever given cgroups this package created.
func killCgroup(dir, cgPath string) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	if err == nil || errors.Is(err, fs.ErrNotExist) && !exists(dir) {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kill cgroup %s: %w", dir, err)
	}
	var errs []error
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			if pid <= 1 {
				continue
			}
			if err := killIfIn(pid, cgPath); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	return errors.Join(errs...)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// killIfIn SIGKILLs pid only if, pinned by a pidfd, it is inside cgroup base.
func killIfIn(pid int, base string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(fd)
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	p, err := ownCgroup2Path(f)
	f.Close()
	if err != nil || !inCgroup(p, base) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill pid %d in cgroup %s: %w", pid, base, err)
	}
	return nil
}

// waitUnpopulated polls cgroup.events until "populated 0" or d passes.
func waitUnpopulated(dir string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil && errors.Is(err, fs.ErrNotExist) {
			return true
		}
		if err == nil && bytes.Contains(b, []byte("populated 0")) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// removeCgroupTree removes dir and every cgroup below it, deepest first
// (rmdir on a cgroup fails while it has children). A cgroup that has just
// emptied can report EBUSY for a moment, so it retries briefly.
func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/")
	})
	for _, d := range dirs {
		deadline := time.Now().Add(2 * time.Second)
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("remove cgroup %s: %w", d, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// logf writes one harness event line to Options.Log.
func (in *Instance) logf(format string, args ...any) {
	if in.log == nil {
		return
	}
	in.logMu.Lock()
	defer in.logMu.Unlock()
	fmt.Fprintf(in.log, "sandbox %s: %s\n", in.name, fmt.Sprintf(format, args...))
}

// tailFile returns up to max bytes from the end of the file at p, or a note
// saying why it could not be read.
func tailFile(p string, max int64) string {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot stat %s: %v)", p, err)
	}
	off := int64(0)
	if st.Size() > max {
		off = st.Size() - max
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p, err)
	}
	return string(b)
}
