package cli

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClock moves time at once: Sleep advances Now by d and records d.
type fakeClock struct {
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

// --until-converged on a box that stays blocked (no hub command to start it
// detached) looks again on the converge schedule, paced by the injected
// clock and cut at --timeout, then exits 3 with the blocked plan; nothing
// sleeps for real.
func TestUntilConvergedWaitsOnTheInjectedClock(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // neither parachute nor bun: blocked
	home := t.TempDir()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var out, errb bytes.Buffer
	start := time.Now()
	code := dispatch(context.Background(), root, []string{"reconcile", "--desired", "detached", "--home", home, "--port", strconv.Itoa(port),
		"--until-converged", "--timeout", "10s", "--verbose"}, &env{stdout: &out, stderr: &errb, clock: clock})
	if code != ExitBlocked {
		t.Fatalf("exited %d, want 3:\n%s%s", code, out.String(), errb.String())
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 3 * time.Second}; !slices.Equal(clock.slept, want) {
		t.Errorf("waited %v, want %v", clock.slept, want)
	}
	if n := strings.Count(errb.String(), "; looking again in "); n != 4 {
		t.Errorf("%d verbose waits, want 4:\n%s", n, errb.String())
	}
	if !strings.HasPrefix(out.String(), "parachute: blocked — ") {
		t.Errorf("stdout:\n%s", out.String())
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %s of real time for 10s of fake time", took)
	}
}
