package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	procparse "github.com/parachute/reconcile/internal/procfs"
	"github.com/parachute/reconcile/spec"
)

// startServeHelper starts the test binary as the "serve" helper, in a process
// group of its own (as a detached module is), and returns it with its ports.
func startServeHelper(t *testing.T) (cmd *exec.Cmd, v4, v6 int) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=serve")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the helper exits when its stdin closes
		cmd.Wait()
	})
	v4, v6, err = readyLine(stdout)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, v4, v6
}

// TestObserveRealChild observes a real process listening on loopback and
// checks every field against independent sources: the exec.Cmd, os, and
// github.com/prometheus/procfs as an oracle for /proc/PID/stat.
func TestObserveRealChild(t *testing.T) {
	cmd, v4, v6 := startServeHelper(t)
	child := cmd.Process.Pid
	home := t.TempDir()
	pidfile := writeRunFile(t, home, "hub", "hub.pid", strconv.Itoa(child)+"\n", time.Time{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := spec.Desired{Home: home, HubPort: v4, HubCommand: []string{exe}}
	if v6 != 0 {
		d.Manifest.Modules = []spec.Module{{Name: "parachute-probe", Short: "probe", Port: v6}}
	}
	snap, err := New(Env{}).Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) != 0 {
		t.Errorf("problems: %q", snap.Problems)
	}

	hub := snap.Ports[0]
	if len(hub.Listeners) != 1 {
		t.Fatalf("hub port %d listeners = %+v, want one", v4, hub.Listeners)
	}
	l := hub.Listeners[0]
	if l.Addr != fmt.Sprintf("127.0.0.1:%d", v4) || !slices.Equal(l.Pids, []int{child}) || l.UID != os.Getuid() || l.Inode == 0 {
		t.Errorf("listener = %+v, want 127.0.0.1:%d held by %d, uid %d", l, v4, child, os.Getuid())
	}
	if v6 != 0 {
		l6 := snap.Ports[1].Listeners
		if len(l6) != 1 || l6[0].Addr != fmt.Sprintf("[::1]:%d", v6) || !slices.Equal(l6[0].Pids, []int{child}) {
			t.Errorf("v6 listeners = %+v, want [::1]:%d held by %d", l6, v6, child)
		}
	} else {
		t.Log("no IPv6 loopback here: v6 listener not checked")
	}

	var got, self *Process
	for i := range snap.Processes {
		switch snap.Processes[i].Pid {
		case child:
			got = &snap.Processes[i]
		case os.Getpid():
			self = &snap.Processes[i]
		}
	}
	if got == nil || self == nil {
		t.Fatalf("processes %+v lack the child %d or its parent %d", snap.Processes, child, os.Getpid())
	}
	oracle, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	p, err := oracle.Proc(child)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if got.PPid != os.Getpid() || got.Pgid != child || got.Sid != st.Session || got.StartTicks != st.Starttime {
		t.Errorf("child = ppid %d pgid %d sid %d ticks %d; want %d %d %d %d", got.PPid, got.Pgid, got.Sid, got.StartTicks, os.Getpid(), child, st.Session, st.Starttime)
	}
	if !slices.Equal(got.Argv, cmd.Args) || got.Exe != exe || got.Cwd != wd || got.UID != os.Getuid() || got.State == "" || len(got.Unreadable) != 0 {
		t.Errorf("child = %+v; want argv %q exe %s cwd %s uid %d", got, cmd.Args, exe, wd, os.Getuid())
	}
	if u, err := user.Current(); err == nil && got.User != u.Username {
		t.Errorf("user = %q, want %q", got.User, u.Username)
	}
	if start, err := st.StartTime(); err == nil {
		if diff := got.Started.Sub(time.Unix(0, int64(start*1e9))); math.Abs(float64(diff)) > float64(10*time.Millisecond) {
			t.Errorf("Started = %v, oracle %v", got.Started, start)
		}
	}
	if own, _ := os.ReadFile("/proc/self/cgroup"); got.Cgroup != procparse.ParseCgroup(own) || got.Cgroup == "" {
		t.Errorf("cgroup = %q, want ours %q", got.Cgroup, own)
	}
	if !slices.Equal(self.Argv, os.Args) {
		t.Errorf("the holder's parent (us) argv = %q, want %q", self.Argv, os.Args)
	}

	if len(snap.Pidfiles) != 1 || snap.Pidfiles[0].State != PidLive || snap.Pidfiles[0].Pid != child {
		t.Errorf("pidfiles = %+v, want hub.pid live", snap.Pidfiles)
	}
	if !snap.Health.OK || snap.Health.Service != "parachute-hub" || snap.Health.AnsweredBy != child {
		t.Errorf("health = %+v, want OK answered by %d", snap.Health, child)
	}

	// The same pid, but the file claims to have been written an hour before
	// the process started: reused, never ours.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(pidfile, old, old); err != nil {
		t.Fatal(err)
	}
	snap, err = New(Env{}).Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Pidfiles) != 1 || snap.Pidfiles[0].State != PidReused {
		t.Errorf("pidfiles = %+v, want hub.pid reused", snap.Pidfiles)
	}

	// The actuator's probes see the same.
	o := New(Env{})
	if pids, unknown, err := o.PortHolders(v4); err != nil || !slices.Equal(pids, []int{child}) || unknown != 0 {
		t.Errorf("PortHolders(%d) = %v, %d, %v; want [%d]", v4, pids, unknown, err, child)
	}
	if pids, unknown, err := o.PortHolders(closedPort(t)); err != nil || len(pids) != 0 || unknown != 0 {
		t.Errorf("PortHolders(closed) = %v, %d, %v", pids, unknown, err)
	}
	if ok, by, err := o.ProbeHealth(context.Background(), v4); err != nil || !ok || by != child {
		t.Errorf("ProbeHealth = %v, %d, %v; want true, %d", ok, by, err, child)
	}

	// ReadProcess agrees with the snapshot.
	rp, err := ReadProcess("/proc", child)
	if err != nil {
		t.Fatal(err)
	}
	if rp.StartTicks != got.StartTicks || rp.Pgid != child || !slices.Equal(rp.Argv, cmd.Args) {
		t.Errorf("ReadProcess = %+v", rp)
	}
	if _, err := ReadProcess("/proc", 1<<30); !os.IsNotExist(err) && !strings.Contains(fmt.Sprint(err), "no such file") {
		t.Errorf("ReadProcess(no such pid) err = %v, want not-exist", err)
	}
}

// straceEvents runs the test binary as the observe-self helper under strace
// and returns the helper's summary, its process-creating syscalls other than
// thread clones, and its execve calls.
func straceEvents(t *testing.T, strace string, fork bool) (sum selfSummary, forks, execs []string) {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork,execve,execveat", "-o", trace, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=observe-self", "PARACHUTE_OBSERVE_N=100", "PARACHUTE_OBSERVE_HOME="+t.TempDir())
	if fork {
		cmd.Env = append(cmd.Env, "PARACHUTE_OBSERVE_FORK=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("strace helper: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	call := regexp.MustCompile(`^\d+\s+(clone3?|fork|vfork|execve|execveat)\(`)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := call.FindStringSubmatch(sc.Text())
		switch {
		case m == nil:
		case strings.HasPrefix(m[1], "exec"):
			execs = append(execs, sc.Text())
		case !strings.Contains(sc.Text(), "CLONE_THREAD"):
			forks = append(forks, sc.Text())
		}
	}
	return sum, forks, execs
}

// TestObserveForksNothing proves that an observation of 100 declared ports
// starts no process: the helper runs it under strace -f, and its only execve
// is its own start; every clone is a thread (CLONE_THREAD). The control case
// runs /bin/true after observing and must be caught, so the detector works.
//
// Needs strace (Debian package "strace"); .ci/run installs it. Locally it is
// skipped when absent, never in CI.
func TestObserveForksNothing(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("strace is not installed: .ci/run must apt-get install strace")
		}
		t.Skip("strace not installed (apt-get install strace)")
	}
	sum, forks, execs := straceEvents(t, strace, false)
	if sum.Declared != 101 || sum.OwnedBySelf != 101 || !sum.HealthOK || sum.AnsweredBy != sum.Self {
		t.Errorf("helper summary = %+v, want 101 ports all held by itself and /health answered by it", sum)
	}
	if len(forks) != 0 || len(execs) != 1 {
		t.Errorf("observation started processes:\nforks %q\nexecs %q", forks, execs)
	}

	_, forks, execs = straceEvents(t, strace, true)
	if len(forks) == 0 || len(execs) != 2 {
		t.Errorf("control (runs /bin/true) not detected: forks %q execs %q", forks, execs)
	}
}

// TestObserveAsOtherUser runs an observation as an unprivileged user against
// a port held by this (root) process: the socket is visible in
// /proc/net/tcp, its holder's fds are not, so the port must read as held with
// an unknown owner, never free. Needs root (to drop to nobody).
func TestObserveAsOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a helper as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	// A copy of the test binary that nobody can run, in a directory it can read.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not traversable by other users: set TMPDIR elsewhere", d)
		}
		if d == "/" {
			break
		}
	}
	bin := filepath.Join(dir, "observe.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()

	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	hubPort := closedPort(t) // the hub is down; the module port is held

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=observe-ports", fmt.Sprintf("PARACHUTE_OBSERVE_PORTS=%d,%d", hubPort, port), "PARACHUTE_OBSERVE_HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, stderr.String())
	}
	var snap Snapshot
	if err := json.Unmarshal(out, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Ports) != 2 || len(snap.Ports[0].Listeners) != 0 {
		t.Fatalf("ports = %+v, want the hub's free and one module port", snap.Ports)
	}
	ls := snap.Ports[1].Listeners
	if len(ls) != 1 || len(ls[0].Pids) != 0 || ls[0].UID != 0 {
		t.Fatalf("listeners = %+v, want one held by uid 0 with unknown pids", ls)
	}
	want := fmt.Sprintf("port %d: listener 127.0.0.1:%d", port, port)
	if !slices.ContainsFunc(snap.Problems, func(p string) bool {
		return strings.Contains(p, want) && strings.Contains(p, "owner unknown")
	}) {
		t.Errorf("problems %q lack %q … owner unknown", snap.Problems, want)
	}
}

// readyLine reads the "READY <v4> <v6>" line of the serve helper.
func readyLine(r io.Reader) (v4, v6 int, err error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("helper said %q: %w", line, err)
	}
	if _, err := fmt.Sscanf(line, "READY %d %d", &v4, &v6); err != nil {
		return 0, 0, fmt.Errorf("helper said %q: %w", line, err)
	}
	return v4, v6, nil
}
