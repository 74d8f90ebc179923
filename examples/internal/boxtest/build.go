package boxtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Binaries are the built stand-in programs.
type Binaries struct {
	Dir    string // the directory holding all three
	Hub    string // standin-hub
	Module string // standin-module
	Layout string // layout
}

// Build compiles the three example programs into dir with `go build -o`.
func Build(dir string) (Binaries, error) {
	b := Binaries{
		Dir:    dir,
		Hub:    filepath.Join(dir, "standin-hub"),
		Module: filepath.Join(dir, "standin-module"),
		Layout: filepath.Join(dir, "layout"),
	}
	goTool := "go"
	for out, pkg := range map[string]string{
		b.Hub:    "github.com/parachute/reconcile/examples/standin-hub",
		b.Module: "github.com/parachute/reconcile/examples/standin-module",
		b.Layout: "github.com/parachute/reconcile/examples/layout",
	} {
		cmd := exec.Command(goTool, "build", "-o", out, pkg)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

// PortOpen reports whether something accepts TCP on 127.0.0.1:port.
func PortOpen(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// WaitPort polls until 127.0.0.1:port accepts TCP (want true) or refuses it
// (want false), or ctx ends.
func WaitPort(ctx context.Context, port int, want bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if PortOpen(port) == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %d open=%t: %w", port, !want, ctx.Err())
		case <-tick.C:
		}
	}
}

// FreePorts returns n distinct loopback ports that were free a moment ago,
// each at least 10000: ask the kernel, then release them.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		if p := ln.Addr().(*net.TCPAddr).Port; p >= 10000 {
			ports = append(ports, p)
		}
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// FreePortBase returns a base in [20000, 40000) such that base+off is free
// on loopback for every offset, trying random bases: the example box's
// module ports are base + (canonical port - 1939).
func FreePortBase(t testing.TB, offsets ...int) int {
	t.Helper()
	for try := 0; try < 200; try++ {
		base := 20000 + rand.IntN(20000)
		ok := true
		for _, off := range offsets {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+off)))
			if err != nil {
				ok = false
				break
			}
			_ = ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port base found")
	return 0
}

// KillGroupOrPid sends sig to the process group pgid when pgid == pid (the
// process leads its group), else to pid alone; it never signals a group the
// process merely belongs to (that could be the test's own). Errors are
// returned, ESRCH included.
func KillGroupOrPid(pid, pgid int, sig syscall.Signal) error {
	if pid <= 1 || pid == os.Getpid() {
		return fmt.Errorf("refusing to signal pid %d", pid)
	}
	if pgid == pid {
		return syscall.Kill(-pgid, sig)
	}
	return syscall.Kill(pid, sig)
}
