package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/examples/internal/boxtest"
)

// syncBuffer is a bytes.Buffer safe for the supervisor's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testPolicy is the hub's policy with short waits where the test needs them.
func testPolicy() policy {
	p := defaultPolicy
	p.RestartDelay = 50 * time.Millisecond
	p.StopGrace = 2 * time.Second
	return p
}

func moduleRequest(short string, port int, extra ...string) request {
	return request{
		Short: short,
		Argv:  append([]string{bins.Module, "serve"}, extra...),
		Dir:   os.TempDir(),
		Env:   append(os.Environ(), "PORT="+strconv.Itoa(port)),
		Port:  port,
	}
}

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSupervisorBootsRestartsAndStops(t *testing.T) {
	ports := boxtest.FreePorts(t, 2)
	out := &syncBuffer{}
	sup := newSupervisor(testPolicy(), &lines{w: out})
	ctx := context.Background()
	for i, short := range []string{"alpha", "beta"} {
		if err := sup.start(ctx, moduleRequest(short, ports[i])); err != nil {
			t.Fatal(err)
		}
		// start returns after the readiness gate: the port is bound now.
		if !boxtest.PortOpen(ports[i]) {
			t.Fatalf("%s: port %d not open after start", short, ports[i])
		}
	}
	alpha, _ := sup.status("alpha")
	beta, _ := sup.status("beta")
	if alpha.State != stateRunning || beta.State != stateRunning || alpha.Pid == 0 || beta.Pid == 0 {
		t.Fatalf("after boot: alpha %+v, beta %+v", alpha, beta)
	}
	for _, pid := range []int{alpha.Pid, beta.Pid} {
		if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
			t.Fatalf("child %d: pgid %d (%v), want its own group", pid, pgid, err)
		}
	}

	// A crash: the supervisor restarts alpha after the delay with a new pid.
	if err := syscall.Kill(-alpha.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var again status
	waitFor(t, "alpha restarted", 10*time.Second, func() bool {
		again, _ = sup.status("alpha")
		return again.State == stateRunning && again.Pid != 0 && again.Pid != alpha.Pid && boxtest.PortOpen(ports[0])
	})
	if again.Restarts != 1 || again.LastExit != -1 {
		t.Fatalf("alpha after restart: %+v, want 1 restart after a signal exit (-1)", again)
	}
	if !strings.Contains(out.String(), "[supervisor] alpha exited (code=?); restart 1/3 in window.") {
		t.Fatalf("no crash line in output:\n%s", out.String())
	}
	if b, _ := sup.status("beta"); b.Pid != beta.Pid || b.Restarts != 0 {
		t.Fatalf("beta was disturbed by alpha's crash: %+v", b)
	}

	sup.close()
	for _, short := range []string{"alpha", "beta"} {
		st, _ := sup.status(short)
		if st.State != stateStopped || st.Pid != 0 {
			t.Errorf("%s after close: %+v, want stopped", short, st)
		}
	}
	for _, p := range ports {
		if boxtest.PortOpen(p) {
			t.Errorf("port %d still open after close", p)
		}
	}
	for _, pid := range []int{again.Pid, beta.Pid} {
		if err := syscall.Kill(pid, 0); err == nil {
			// Our own children are reaped by exec.Cmd.Wait: the pid is gone.
			t.Errorf("child %d still exists after close", pid)
		}
	}
	text := out.String()
	for _, want := range []string{"[alpha] ", "[beta] ", "got terminated; stopping"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if err := sup.start(ctx, moduleRequest("gamma", ports[0])); err != errClosed {
		t.Fatalf("start after close = %v, want errClosed", err)
	}
}

func TestSupervisorGivesUpOnTheThirdCrashInTheWindow(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	out := &syncBuffer{}
	sup := newSupervisor(testPolicy(), &lines{w: out})
	defer sup.close()
	req := moduleRequest("flaky", port)
	req.Env = append(os.Environ(), "PORT=not-a-port") // the module exits 1 at once
	if err := sup.start(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var st status
	waitFor(t, "flaky to give up", 10*time.Second, func() bool {
		st, _ = sup.status("flaky")
		return st.State == stateCrashed
	})
	if st.Restarts != 2 || st.LastExit != 1 {
		t.Fatalf("flaky: %+v, want 2 restarts and exit code 1", st)
	}
	text := out.String()
	for _, want := range []string{
		"[supervisor] flaky exited (code=1); restart 1/3 in window.",
		"[supervisor] flaky exited (code=1); restart 2/3 in window.",
		"[supervisor] flaky crashed 3x within 60000ms — giving up.",
		`[flaky] standin-module: PORT must be 1..65535, got "not-a-port"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "restart 3/3") {
		t.Errorf("restarted a third time:\n%s", text)
	}
}

func TestSupervisorLeavesASquatterAlone(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	out := &syncBuffer{}
	sup := newSupervisor(testPolicy(), &lines{w: out})
	defer sup.close()
	if err := sup.start(context.Background(), moduleRequest("vault", port)); err != nil {
		t.Fatal(err)
	}
	st, _ := sup.status("vault")
	if st.State != stateCrashed || st.Pid != 0 || !strings.HasPrefix(st.Error, "port_squatter") {
		t.Fatalf("vault: %+v, want crashed with port_squatter and nothing spawned", st)
	}
	if strings.Contains(out.String(), "[vault] ") {
		t.Fatalf("a child ran:\n%s", out.String())
	}
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatalf("the squatter's socket was disturbed: %v", err)
	}
	_ = c.Close()
}

func TestSupervisorKillsAGroupThatIgnoresSIGTERM(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	pol := testPolicy()
	pol.StopGrace = 300 * time.Millisecond
	out := &syncBuffer{}
	sup := newSupervisor(pol, &lines{w: out})
	if err := sup.start(context.Background(), moduleRequest("stubborn", port, "--ignore-sigterm")); err != nil {
		t.Fatal(err)
	}
	st, _ := sup.status("stubborn")
	sup.close()
	if after, _ := sup.status("stubborn"); after.State != stateStopped || after.LastExit != -1 {
		t.Fatalf("stubborn after close: %+v, want stopped by a signal", after)
	}
	if !strings.Contains(out.String(), "[supervisor] stubborn didn't exit within 300ms; sending SIGKILL.") {
		t.Fatalf("no SIGKILL line:\n%s", out.String())
	}
	if err := syscall.Kill(st.Pid, 0); err == nil {
		t.Fatalf("pid %d survived", st.Pid)
	}
}

func TestSupervisorStopsAWrapperGroupAndItsChild(t *testing.T) {
	port := boxtest.FreePorts(t, 1)[0]
	out := &syncBuffer{}
	sup := newSupervisor(testPolicy(), &lines{w: out})
	if err := sup.start(context.Background(), moduleRequest("scribe", port, "--wrapper")); err != nil {
		t.Fatal(err)
	}
	if !boxtest.PortOpen(port) {
		t.Fatal("wrapped child did not bind")
	}
	sup.close()
	// The child that held the port was in the wrapper's group: the group
	// SIGTERM reached it, so the port is free.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := boxtest.WaitPort(ctx, port, false); err != nil {
		t.Fatal(err)
	}
}
