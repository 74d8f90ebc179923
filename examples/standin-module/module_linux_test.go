package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/examples/internal/boxtest"
)

// link is the module binary reached through a symlink named parachute-vault
// inside a package directory, the way real modules are invoked.
var link string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "standin-module-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		bins, err := boxtest.Build(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		link = filepath.Join(dir, "lib", "node_modules", "@openparachute", "vault", "bin", "parachute-vault")
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.Symlink(bins.Module, link); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// output is a process's stdout and stderr, kept in a file: a wrapper's
// child inherits the descriptor, and with a pipe exec.Cmd.Wait would wait
// for that child too.
type output struct{ path string }

func (o output) String() string {
	b, _ := os.ReadFile(o.path)
	return string(b)
}

// proc is a module started by a test in its own process group.
type proc struct {
	*boxtest.Started
	cmd    *exec.Cmd
	out    output
	port   int
	killed []int // extra pids the test must SIGKILL at cleanup (setsid children)
}

func start(t *testing.T, port int, args ...string) *proc {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own copy
	p := &proc{cmd: exec.Command(link, args...), out: output{f.Name()}, port: port}
	p.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.Started = boxtest.Start(t, p.cmd)
	t.Cleanup(func() {
		for _, pid := range p.killed {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = boxtest.KillGroupOrPid(p.cmd.Process.Pid, p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.Done
	})
	return p
}

func (p *proc) pid() int { return p.Pid() }

// code waits for the exit and returns the exit code (-1 for a signal).
func (p *proc) code(t *testing.T) int {
	t.Helper()
	return p.ExitCode(t, 10*time.Second)
}

func (p *proc) exited() bool { return p.Exited() }

func (p *proc) waitOpen(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := boxtest.WaitPort(ctx, p.port, true); err != nil {
		t.Fatalf("%v\n%s", err, p.out.String())
	}
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// holder is the single pid holding port.
func holder(t *testing.T, port int) int {
	t.Helper()
	pids, err := boxtest.PortHolders(port)
	if err != nil || len(pids) != 1 {
		t.Fatalf("port %d holders %v (%v)", port, pids, err)
	}
	return pids[0]
}

func TestServesItsHealthPathAndStopsOnSIGTERM(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	p := start(t, port, "serve", "--health", "/vault/default/health")
	p.waitOpen(t)
	code, body := getStatus(t, fmt.Sprintf("http://127.0.0.1:%d/vault/default/health", port))
	want := fmt.Sprintf(`{"status":"ok","service":"parachute-vault","pid":%d,"port":%d}`+"\n", p.pid(), port)
	if code != 200 || body != want {
		t.Fatalf("health: %d %q, want 200 %q", code, body, want)
	}
	if code, _ := getStatus(t, fmt.Sprintf("http://127.0.0.1:%d/health", port)); code != 404 {
		t.Fatalf("/health on a module with another health path: %d, want 404", code)
	}
	if got := holder(t, port); got != p.pid() {
		t.Fatalf("port held by %d, want %d", got, p.pid())
	}
	argv, _ := boxtest.Cmdline(p.pid())
	if len(argv) < 2 || !strings.Contains(argv[0], "parachute-vault") || argv[1] != "serve" {
		t.Fatalf("argv %q lacks the module markers", argv)
	}
	if err := syscall.Kill(p.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := p.code(t); c != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", c)
	}
	out := p.out.String()
	for _, line := range []string{"GET /vault/default/health 200\n", "GET /health 404\n", "parachute-vault stopped\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestUsageAndStartFailures(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 64},
		{[]string{"start"}, 64},
		{[]string{"serve", "--bogus"}, 64},
		{[]string{"serve", "extra"}, 64},
	} {
		if c := start(t, port, tc.args...).code(t); c != tc.code {
			t.Errorf("args %q: exit %d, want %d", tc.args, c, tc.code)
		}
	}
	busy := start(t, port, "serve")
	busy.waitOpen(t)
	second := start(t, port, "serve")
	if c := second.code(t); c != 1 || !strings.Contains(second.out.String(), "address already in use") {
		t.Fatalf("second module on a held port: exit %d, %q", c, second.out.String())
	}
}

func TestIgnoreSigtermNeedsSIGKILL(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	p := start(t, port, "serve", "--ignore-sigterm")
	p.waitOpen(t)
	if err := syscall.Kill(p.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if p.exited() || !boxtest.PortOpen(port) {
		t.Fatal("a module ignoring SIGTERM stopped on SIGTERM")
	}
	if err := syscall.Kill(p.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if c := p.code(t); c != -1 {
		t.Fatalf("exit %d, want killed by a signal", c)
	}
}

func TestSlowExitWaitsBeforeExiting(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	p := start(t, port, "serve", "--slow-exit", "300ms")
	p.waitOpen(t)
	sent := time.Now()
	if err := syscall.Kill(p.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := p.code(t); c != 0 {
		t.Fatalf("exit %d", c)
	}
	if took := time.Since(sent); took < 300*time.Millisecond {
		t.Fatalf("exited %v after SIGTERM, before its 300ms slow exit", took)
	}
}

func TestWrapperChildHoldsThePortAndOutlivesABarePidKill(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	p := start(t, port, "serve", "--wrapper")
	p.waitOpen(t)
	h := holder(t, port)
	st, _ := boxtest.ReadStat(h)
	if h == p.pid() || st.PPid != p.pid() || st.Pgid != p.pid() {
		t.Fatalf("holder %+v: want a child of the wrapper %d in its group", st, p.pid())
	}
	argv, _ := boxtest.Cmdline(h)
	if len(argv) < 2 || !strings.Contains(argv[0], "parachute-vault") || argv[1] != "serve" {
		t.Fatalf("holder argv %q lacks the module markers", argv)
	}
	// Upstream pitfall 1: SIGTERM to the bare pid ends the wrapper only.
	if err := syscall.Kill(p.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := p.code(t); c != -1 {
		t.Fatalf("wrapper exit %d, want killed by SIGTERM", c)
	}
	if !boxtest.Alive(h) || !boxtest.PortOpen(port) {
		t.Fatal("the wrapper's child died with the wrapper; it must keep the port")
	}
	// The group kill reaches it.
	if err := syscall.Kill(-p.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := boxtest.WaitDead(ctx, h); err != nil {
		t.Fatal(err)
	}
}

func TestSetsidChildLeavesTheGroup(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	p := start(t, port, "serve", "--setsid-child")
	p.waitOpen(t)
	h := holder(t, port)
	p.killed = append(p.killed, h)
	st, _ := boxtest.ReadStat(h)
	if st.PPid != p.pid() || st.Pgid != h || st.Sid != h {
		t.Fatalf("holder %+v: want a child of %d leading its own session and group", st, p.pid())
	}
	if !slices.Contains(boxtest.Descendants(p.pid()), h) {
		t.Fatalf("holder %d is not a descendant of %d", h, p.pid())
	}
	// A group kill of the wrapper's group does not reach it.
	if err := syscall.Kill(-p.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.code(t)
	time.Sleep(100 * time.Millisecond)
	if !boxtest.Alive(h) || !boxtest.PortOpen(port) {
		t.Fatal("the setsid child died with its old group")
	}
	if err := syscall.Kill(h, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := boxtest.WaitDead(ctx, h); err != nil {
		t.Fatal(err)
	}
}
