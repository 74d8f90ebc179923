//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the tiny program the tests run inside: with
// SANDBOX_TEST_HELPER=serve it answers GET / on 127.0.0.1:1939 with
// $SANDBOX_TEST_NAME; with SANDBOX_TEST_HELPER=get it prints that answer.
func TestMain(m *testing.M) {
	switch os.Getenv("SANDBOX_TEST_HELPER") {
	case "serve":
		name := os.Getenv("SANDBOX_TEST_NAME")
		err := http.ListenAndServe("127.0.0.1:1939", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case "get":
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:1939/")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(b))
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must runs systemctl inside and fails the test on error.
func must(t testing.TB, in *Instance, args ...string) string {
	t.Helper()
	out, err := in.Systemctl(ctxT(t), args...)
	if err != nil {
		t.Fatalf("systemctl %s: %v (output %q)", strings.Join(args, " "), err, out)
	}
	return out
}

// run runs cmd and fails the test on error, returning trimmed stdout.
func run(t testing.TB, in *Instance, cmd *exec.Cmd) string {
	t.Helper()
	out, err := in.output(ctxT(t), cmd)
	if err != nil {
		t.Fatalf("%v (output %q)", err, out)
	}
	return out
}

func TestBootRunsSystemdPrivately(t *testing.T) {
	in := New(t, Options{})
	ctx := ctxT(t)

	state, err := in.Systemctl(ctx, "is-system-running")
	if state != "running" && state != "degraded" {
		t.Fatalf("is-system-running = %q (%v), want running or degraded", state, err)
	}
	failed := must(t, in, "list-units", "--failed", "--plain", "--no-legend")
	if failed != "" {
		t.Errorf("failed units after boot:\n%s", failed)
	}
	if got := run(t, in, in.Command(ctx, "cat", "/proc/1/comm")); got != "systemd" {
		t.Errorf("PID 1 inside is %q, want systemd", got)
	}
	if got := run(t, in, in.Command(ctx, "hostname")); got != in.Name() {
		t.Errorf("hostname inside = %q, want %q", got, in.Name())
	}
	// The command landed in the instance's harness cgroup, inside its
	// cgroup namespace.
	if got := run(t, in, in.Command(ctx, "cat", "/proc/self/cgroup")); !strings.HasSuffix(got, "\n0::/harness") {
		t.Errorf("command cgroup = %q, want 0::/harness last", got)
	}
	for unit, want := range map[string]string{
		"systemd-networkd-wait-online.service": "masked",
		"systemd-sysctl.service":               "masked",
		"systemd-timesyncd.service":            "masked",
		"dbus.service":                         "loaded",
		"systemd-logind.service":               "loaded",
	} {
		if got := must(t, in, "show", "-p", "LoadState", "--value", unit); got != want {
			t.Errorf("%s LoadState = %q, want %q", unit, got, want)
		}
	}
	if got := must(t, in, "is-active", "systemd-logind.service", "dbus.service"); got != "active\nactive" {
		t.Errorf("logind, dbus: %q, want both active", got)
	}

	// /proc/sys is read-only except this namespace's net tree.
	if out, err := in.output(ctx, in.Command(ctx, "sh", "-c", "echo sbx >/proc/sys/kernel/domainname")); err == nil {
		t.Errorf("writing /proc/sys/kernel/domainname succeeded (%q), want read-only", out)
	}
	run(t, in, in.Command(ctx, "sh", "-c", "echo 0 2147483647 >/proc/sys/net/ipv4/ping_group_range"))

	// Capabilities that reach the shared kernel are gone from PID 1's
	// bounding set, and were present in ours.
	inside := capBnd(t, run(t, in, in.Command(ctx, "cat", "/proc/1/status")))
	host, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	outside := capBnd(t, string(host))
	for _, c := range []struct {
		name string
		bit  uint
	}{{"sys_module", unix.CAP_SYS_MODULE}, {"sys_time", unix.CAP_SYS_TIME}, {"sys_rawio", unix.CAP_SYS_RAWIO}, {"syslog", unix.CAP_SYSLOG}} {
		if outside&(1<<c.bit) == 0 {
			t.Errorf("test process lacks cap_%s: cannot show it is dropped", c.name)
		}
		if inside&(1<<c.bit) != 0 {
			t.Errorf("cap_%s still in PID 1's bounding set (%x)", c.name, inside)
		}
	}
	if inside&(1<<unix.CAP_SYS_ADMIN) == 0 {
		t.Errorf("cap_sys_admin missing inside (%x): systemd needs it", inside)
	}
}

func capBnd(t testing.TB, status string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no CapBnd in status:\n%s", status)
	return 0
}

const sleepUnit = `[Unit]
Description=sandbox test sleeper

[Service]
Type=exec
ExecStart=/bin/sleep 600
`

func TestSystemUnitStaysInside(t *testing.T) {
	in := New(t, Options{})
	ctx := ctxT(t)
	const unit = "sbx-sleep.service"
	hostUnit := filepath.Join("/etc/systemd/system", unit)
	if _, err := os.Lstat(hostUnit); err == nil {
		t.Fatalf("%s already exists on the host: cannot prove isolation", hostUnit)
	}

	write := in.Command(ctx, "sh", "-c", "cat >/etc/systemd/system/"+unit)
	write.Stdin = strings.NewReader(sleepUnit)
	run(t, in, write)
	must(t, in, "daemon-reload")
	must(t, in, "start", unit)

	mainPID, err := strconv.Atoi(must(t, in, "show", "-p", "MainPID", "--value", unit))
	if err != nil || mainPID <= 1 {
		t.Fatalf("MainPID of %s = %d (%v)", unit, mainPID, err)
	}
	cg := must(t, in, "show", "-p", "ControlGroup", "--value", unit)
	if cg != "/system.slice/"+unit {
		t.Errorf("ControlGroup = %q, want /system.slice/%s", cg, unit)
	}
	if got := run(t, in, in.Command(ctx, "cat", fmt.Sprintf("/proc/%d/comm", mainPID))); got != "sleep" {
		t.Errorf("MainPID %d runs %q, want sleep", mainPID, got)
	}

	// From the host, the same process sits in the instance's cgroup at the
	// path systemd reported, and its innermost pid is MainPID.
	hostPID := hostPidOf(t, in, cg)
	if ns := nsPids(t, hostPID); ns[len(ns)-1] != mainPID {
		t.Errorf("host pid %d has NSpid %v, want innermost %d", hostPID, ns, mainPID)
	}

	// A transient unit works too.
	run(t, in, in.Command(ctx, "systemd-run", "--unit=sbx-transient", "--property=Type=exec", "/bin/sleep", "600"))
	if got := must(t, in, "is-active", "sbx-transient.service"); got != "active" {
		t.Errorf("transient unit: %q", got)
	}

	// The unit file lives only in the instance's private /etc/systemd/system.
	b, err := os.ReadFile(in.HostPath("/etc/systemd/system/" + unit))
	if err != nil || string(b) != sleepUnit {
		t.Errorf("unit file inside: %q, %v", b, err)
	}
	if _, err := os.Lstat(hostUnit); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("host %s: %v, want it not to exist", hostUnit, err)
	}
	privateTreesAreTheInstances(t, in)
}

// privateTreesAreTheInstances: every tree HostPath maps is the instance's
// own copy, a path outside them is refused, and a file written into the
// private polkit rules directory (when the host has one) stays inside.
func privateTreesAreTheInstances(t *testing.T, in *Instance) {
	t.Helper()
	for _, tree := range privateTrees {
		want := true
		if _, err := os.Stat(tree); err != nil && tree == "/etc/polkit-1/rules.d" {
			want = false // the host has none, so the instance has no copy
		}
		if got := in.Private(tree); got != want {
			t.Errorf("Private(%s) = %v, want %v", tree, got, want)
		}
		if st, err := os.Stat(in.rootPath(tree)); err == nil && st.IsDir() && in.Private(tree+"/x") != want {
			t.Errorf("Private(%s/x) = %v, want %v", tree, !want, want)
		}
	}
	for _, p := range []string{"/opt/x", "/etc/polkit-1/x", "/etc/systemd/../polkit-1/x", "/var/lib/x", "/usr/bin/x", "/root/x", "/"} {
		if in.Private(p) {
			t.Errorf("Private(%s) = true: the host's own path", p)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HostPath(%s) did not panic", p)
				}
			}()
			in.HostPath(p)
		}()
	}
	// A link inside a private tree is the link, not a way out of it.
	if err := os.Symlink("/", in.HostPath("/run/sbx-escape")); err != nil {
		t.Fatal(err)
	}
	if !in.Private("/run/sbx-escape") || in.Private("/run/sbx-escape/opt/x") {
		t.Errorf("through a link to /: Private(the link) = %v, Private(below it) = %v; want true, false",
			in.Private("/run/sbx-escape"), in.Private("/run/sbx-escape/opt/x"))
	}
	if !in.Private("/etc/polkit-1/rules.d") {
		return
	}
	const rule = "/etc/polkit-1/rules.d/99-sandbox-test.rules"
	if _, err := os.Lstat(rule); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s already exists on the host: cannot prove isolation", rule)
	}
	if err := os.WriteFile(in.HostPath(rule), []byte("// nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(rule); !errors.Is(err, os.ErrNotExist) {
		os.Remove(rule)
		t.Errorf("a rule written inside reached the host's %s: %v", rule, err)
	}
}

// hostPidOf returns the single host pid in the instance cgroup at cgPath
// (a path as systemd names it inside).
func hostPidOf(t testing.TB, in *Instance, cgPath string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(in.CgroupDir(), cgPath, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		t.Fatalf("cgroup %s holds pids %v, want one", cgPath, f)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// nsPids returns the NSpid line of a host pid: outermost first.
func nsPids(t testing.TB, pid int) []int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "NSpid:"); ok {
			var out []int
			for _, s := range strings.Fields(v) {
				n, err := strconv.Atoi(s)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, n)
			}
			return out
		}
	}
	t.Fatalf("no NSpid for pid %d", pid)
	return nil
}

func TestUserManagerAndLinger(t *testing.T) {
	in := New(t, Options{})
	ctx := ctxT(t)
	u, err := in.AddUser(ctx, "pcuser")
	if err != nil {
		t.Fatal(err)
	}
	if u.UID < firstUserID || u.Home != "/home/pcuser" {
		t.Errorf("user = %+v", u)
	}
	hostPasswd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(hostPasswd), "\npcuser:") || strings.HasPrefix(string(hostPasswd), "pcuser:") {
		t.Fatal("AddUser wrote the host's /etc/passwd")
	}
	if got := run(t, in, in.CommandAs(ctx, u, "id", "-un")); got != "pcuser" {
		t.Errorf("id -un as user = %q", got)
	}
	if _, err := in.AddUser(ctx, "pcuser"); err == nil {
		t.Error("adding pcuser twice succeeded")
	}

	state, err := in.output(ctx, in.CommandAs(ctx, u, "systemctl", "--user", "is-system-running"))
	if state != "running" {
		t.Fatalf("systemctl --user is-system-running = %q (%v)", state, err)
	}

	// Both buses answer over D-Bus, as a program under test would use
	// them: the system bus as root, the session bus through the user's
	// DBUS_SESSION_BUS_ADDRESS.
	getVersion := []string{"busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.DBus.Properties", "Get", "ss", "org.freedesktop.systemd1.Manager", "Version"}
	if got := run(t, in, in.Command(ctx, getVersion...)); !strings.HasPrefix(got, `v s "252`) && !strings.HasPrefix(got, `v s "2`) {
		t.Errorf("system bus: manager Version = %q", got)
	}
	if got := run(t, in, in.CommandAs(ctx, u, append([]string{"busctl", "--user"}, getVersion[1:]...)...)); !strings.HasPrefix(got, `v s "`) {
		t.Errorf("session bus: manager Version = %q", got)
	}

	run(t, in, in.Command(ctx, "loginctl", "enable-linger", "pcuser"))
	if got := run(t, in, in.Command(ctx, "loginctl", "show-user", "pcuser", "-p", "Linger", "--value")); got != "yes" {
		t.Errorf("Linger = %q, want yes", got)
	}
	if _, err := os.Stat(in.HostPath("/var/lib/systemd/linger/pcuser")); err != nil {
		t.Errorf("linger file inside: %v", err)
	}
	if _, err := os.Stat("/var/lib/systemd/linger/pcuser"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("linger file on the host: %v, want none", err)
	}

	write := in.CommandAs(ctx, u, "sh", "-c", "mkdir -p ~/.config/systemd/user && cat >~/.config/systemd/user/sbx-user.service")
	write.Stdin = strings.NewReader(sleepUnit)
	run(t, in, write)
	run(t, in, in.CommandAs(ctx, u, "systemctl", "--user", "daemon-reload"))
	run(t, in, in.CommandAs(ctx, u, "systemctl", "--user", "start", "sbx-user.service"))
	mainPID, err := strconv.Atoi(run(t, in, in.CommandAs(ctx, u, "systemctl", "--user", "show", "-p", "MainPID", "--value", "sbx-user.service")))
	if err != nil || mainPID <= 1 {
		t.Fatalf("user unit MainPID = %d (%v)", mainPID, err)
	}
	uid := run(t, in, in.Command(ctx, "stat", "-c", "%u", fmt.Sprintf("/proc/%d", mainPID)))
	if uid != strconv.Itoa(u.UID) {
		t.Errorf("user unit runs as uid %s, want %d", uid, u.UID)
	}
	cg := run(t, in, in.CommandAs(ctx, u, "systemctl", "--user", "show", "-p", "ControlGroup", "--value", "sbx-user.service"))
	want := fmt.Sprintf("/user.slice/user-%d.slice/user@%d.service/app.slice/sbx-user.service", u.UID, u.UID)
	if cg != want {
		t.Errorf("user unit ControlGroup = %q, want %q", cg, want)
	}
}

func TestTwoInstancesEachOwn1939(t *testing.T) {
	Require(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Boot both at once: they must not interfere while booting either.
	var (
		ins  [2]*Instance
		errs [2]error
		wg   sync.WaitGroup
	)
	dirs := [2]string{NewWorkDir(t), NewWorkDir(t)}
	for i := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ins[i], errs[i] = Boot(context.Background(), Options{WorkDir: dirs[i], Log: testLog{t}})
		}()
	}
	wg.Wait()
	for i, in := range ins {
		if in != nil {
			t.Cleanup(func() {
				if err := in.Shutdown(context.Background()); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			})
		}
		if errs[i] != nil {
			t.Fatalf("boot %d: %v", i, errs[i])
		}
	}
	if ins[0].Pid() == ins[1].Pid() || ins[0].CgroupDir() == ins[1].CgroupDir() {
		t.Fatalf("instances share pid or cgroup: %d %d %s", ins[0].Pid(), ins[1].Pid(), ins[0].CgroupDir())
	}

	ctx := ctxT(t)
	for _, in := range ins {
		bin := filepath.Join(in.WorkDir(), "helper")
		copyFile(t, exe, bin)
		run(t, in, in.Command(ctx, "systemd-run", "--unit=sbx-http", "--property=Type=exec",
			"--setenv=SANDBOX_TEST_HELPER=serve", "--setenv=SANDBOX_TEST_NAME="+in.Name(), bin))
	}
	for _, in := range ins {
		bin := filepath.Join(in.WorkDir(), "helper")
		var got string
		deadline := time.Now().Add(10 * time.Second)
		for {
			cmd := in.Command(ctx, bin)
			cmd.Env = append(cmd.Env, "SANDBOX_TEST_HELPER=get")
			out, err := in.output(ctx, cmd)
			if err == nil {
				got = out
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET 127.0.0.1:1939 in %s: %v", in.Name(), err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != in.Name() {
			t.Errorf("127.0.0.1:1939 inside %s answered %q, want its own name", in.Name(), got)
		}
	}
	// Neither listener is on the host's loopback.
	c := http.Client{Timeout: time.Second}
	if resp, err := c.Get("http://127.0.0.1:1939/"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		for _, in := range ins {
			if string(b) == in.Name() {
				t.Errorf("host 127.0.0.1:1939 is served by sandbox %s", in.Name())
			}
		}
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownLeavesNothing(t *testing.T) {
	Require(t)
	dir := NewWorkDir(t)
	in, err := Boot(context.Background(), Options{WorkDir: dir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			in.Shutdown(context.Background())
		}
	})
	ctx := ctxT(t)
	run(t, in, in.Command(ctx, "systemd-run", "--unit=sbx-sleep", "--property=Type=exec", "/bin/sleep", "600"))
	sleeper := hostPidOf(t, in, "/system.slice/sbx-sleep.service")
	sleeperFD, err := unix.PidfdOpen(sleeper, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sleeperFD)
	systemdFD, err := unix.PidfdOpen(in.Pid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(systemdFD)

	// A command still running at shutdown: its host-side nsenter must not
	// outlive the instance either.
	pending := in.Command(context.Background(), "sleep", "600")
	if err := pending.Start(); err != nil {
		t.Fatal(err)
	}
	pendingDone := make(chan error, 1)
	go func() { pendingDone <- pending.Wait() }()

	start := time.Now()
	if err := in.Shutdown(ctxT(t)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	stopped = true
	t.Logf("shutdown took %v", time.Since(start).Round(time.Millisecond))

	for name, fd := range map[string]int{"sleeper": sleeperFD, "systemd": systemdFD} {
		if err := unix.PidfdSendSignal(fd, 0, nil, 0); !errors.Is(err, unix.ESRCH) {
			t.Errorf("%s still alive after shutdown (%v)", name, err)
		}
	}
	select {
	case <-in.done:
	default:
		t.Error("unshare still running after shutdown")
	}
	select {
	case <-pendingDone:
	case <-time.After(5 * time.Second):
		t.Error("a command running at shutdown did not end")
	}
	if _, err := os.Stat(in.CgroupDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s: %v, want removed", in.CgroupDir(), err)
	}
	if err := in.Command(ctx, "true").Run(); err == nil {
		t.Error("Command after Shutdown ran")
	}
	if err := in.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestWorkDirVisibleEvenUnderTmp(t *testing.T) {
	Require(t)
	dir := filepath.Join(t.TempDir(), "work")
	if !strings.HasPrefix(dir, "/tmp/") {
		t.Skipf("temp dir %s is not under /tmp", dir)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Boot(context.Background(), Options{WorkDir: dir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	ctx := ctxT(t)
	if err := os.WriteFile(filepath.Join(dir, "from-host"), []byte("h"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := run(t, in, in.Command(ctx, "cat", filepath.Join(dir, "from-host"))); got != "h" {
		t.Errorf("host file inside = %q", got)
	}
	run(t, in, in.Command(ctx, "sh", "-c", "echo i >"+filepath.Join(dir, "from-inside")))
	if b, err := os.ReadFile(filepath.Join(dir, "from-inside")); err != nil || string(b) != "i\n" {
		t.Errorf("inside file on host = %q, %v", b, err)
	}
	// The rest of the host's /tmp stays hidden.
	if err := in.Command(ctx, "test", "-e", outside).Run(); err == nil {
		t.Errorf("host file %s is visible inside", outside)
	}
}

func TestBootFailureIsLoudAndClean(t *testing.T) {
	Require(t)
	if _, err := Boot(context.Background(), Options{WorkDir: "relative/dir"}); err == nil {
		t.Error("Boot accepted a relative work dir")
	}
	dir := NewWorkDir(t)
	_, err := Boot(context.Background(), Options{WorkDir: dir, BootTimeout: time.Millisecond})
	if err == nil {
		t.Fatal("Boot with a 1ms timeout succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"boot timeout", "--- init log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("boot error lacks %q:\n%s", want, msg)
		}
	}
	// It cleaned up: no cgroup of this process's instances is left.
	own, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ownCgroup2Path(own)
	own.Close()
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	m, err := findCgroup2Mount(mi)
	mi.Close()
	if err != nil {
		t.Fatal(err)
	}
	base, err := cgroupDir(m, p)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("sbx-%d-", os.Getpid())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("cgroup %s left behind", filepath.Join(base, e.Name()))
		}
	}
}

// BenchmarkBoot boots and shuts down one instance per iteration and reports
// both phases. Run: go test ./e2e/sandbox -run '^$' -bench Boot -benchtime 5x
func BenchmarkBoot(b *testing.B) {
	Require(b)
	var boot, stop time.Duration
	for i := 0; i < b.N; i++ {
		dir := NewWorkDir(b)
		in, err := Boot(context.Background(), Options{WorkDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		boot += in.BootTime()
		start := time.Now()
		if err := in.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		stop += time.Since(start)
	}
	b.ReportMetric(float64(boot.Milliseconds())/float64(b.N), "boot-ms/op")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms/op")
}

// BenchmarkCommand measures one command run inside (`true`, and
// `systemctl is-system-running`) on one booted instance.
func BenchmarkCommand(b *testing.B) {
	in := New(b, Options{})
	ctx := context.Background()
	b.Run("true", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := in.Command(ctx, "true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("systemctl", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := in.Systemctl(ctx, "is-system-running"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
