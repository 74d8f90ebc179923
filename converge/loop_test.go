package converge_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/parachute/reconcile/converge"
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

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newLoop(timeout time.Duration) (*fakeClock, converge.Loop) {
	c := &fakeClock{now: t0}
	return c, converge.Loop{Clock: c, Deadline: t0.Add(timeout)}
}

func requeueUntil(converged int, calls *int) converge.Attempt {
	return func(ctx context.Context, n int) (converge.Result, error) {
		*calls++
		if n != *calls {
			return converge.Result{}, backoff.Permanent(errors.New("attempts miscounted"))
		}
		if n >= converged {
			return converge.Result{}, nil
		}
		return converge.Result{Requeue: true}, nil
	}
}

func TestConvergedOnTheThirdAttempt(t *testing.T) {
	c, l := newLoop(5 * time.Minute)
	var waits []int
	l.Waiting = func(n int, d time.Duration) { waits = append(waits, n) }
	calls := 0
	if err := l.Until(context.Background(), requeueUntil(3, &calls)); err != nil {
		t.Fatalf("Until = %v, want nil", err)
	}
	if calls != 3 {
		t.Errorf("%d attempts, want 3", calls)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(c.slept, want) {
		t.Errorf("waits %v, want %v", c.slept, want)
	}
	if !slices.Equal(waits, []int{1, 2}) {
		t.Errorf("Waiting told after attempts %v, want [1 2]", waits)
	}
}

func TestRequeueWaitsFollowTheScheduleAndStopAtTheDeadline(t *testing.T) {
	c, l := newLoop(100 * time.Second)
	calls := 0
	err := l.Until(context.Background(), requeueUntil(1000, &calls))
	if !errors.Is(err, converge.ErrDeadline) {
		t.Fatalf("Until = %v, want ErrDeadline", err)
	}
	// 1+2+4+8+16+30 = 61 s; the next 30 s wait ends at 91 s; the last is
	// cut to the 9 s left, and the attempt at the deadline is the last.
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 9}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(c.slept, want) {
		t.Errorf("waits %v, want %v", c.slept, want)
	}
	if calls != len(want)+1 {
		t.Errorf("%d attempts, want %d", calls, len(want)+1)
	}
	if !c.now.Equal(l.Deadline) {
		t.Errorf("ended at %v, want the deadline %v", c.now, l.Deadline)
	}
}

func TestDeadlinePassedRunsOneAttempt(t *testing.T) {
	c, l := newLoop(0)
	calls := 0
	err := l.Until(context.Background(), requeueUntil(2, &calls))
	if !errors.Is(err, converge.ErrDeadline) || calls != 1 || len(c.slept) != 0 {
		t.Fatalf("Until = %v after %d attempts and waits %v; want ErrDeadline after one attempt, no wait", err, calls, c.slept)
	}
}

func TestDeadlineKeepsTheLastError(t *testing.T) {
	_, l := newLoop(3 * time.Second)
	step := errors.New("stop module vault: operation not permitted")
	calls := 0
	err := l.Until(context.Background(), func(ctx context.Context, n int) (converge.Result, error) {
		calls++
		return converge.Result{}, step
	})
	if !errors.Is(err, converge.ErrDeadline) || !errors.Is(err, step) {
		t.Fatalf("Until = %v, want ErrDeadline and the attempt's error", err)
	}
	if calls != 3 { // at 0 s, 1 s, 3 s
		t.Errorf("%d attempts, want 3", calls)
	}
}

func TestTerminalStopsAtOnce(t *testing.T) {
	c, l := newLoop(5 * time.Minute)
	blocked := errors.New("port 1940 held by a stranger")
	calls := 0
	err := l.Until(context.Background(), func(ctx context.Context, n int) (converge.Result, error) {
		calls++
		return converge.Result{Requeue: true}, backoff.Permanent(blocked)
	})
	if err != blocked {
		t.Fatalf("Until = %v, want the terminal error itself", err)
	}
	if calls != 1 || len(c.slept) != 0 {
		t.Errorf("%d attempts and waits %v after a terminal error, want 1 and none", calls, c.slept)
	}
}

func TestContextCancelledStopsTheLoop(t *testing.T) {
	t.Run("during an attempt", func(t *testing.T) {
		c, l := newLoop(5 * time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		err := l.Until(ctx, func(ctx context.Context, n int) (converge.Result, error) {
			calls++
			cancel()
			return converge.Result{Requeue: true}, nil
		})
		if !errors.Is(err, context.Canceled) || calls != 1 || len(c.slept) != 0 {
			t.Fatalf("Until = %v after %d attempts and waits %v; want context.Canceled after one, no wait", err, calls, c.slept)
		}
	})
	t.Run("during a wait", func(t *testing.T) {
		_, l := newLoop(5 * time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l.Waiting = func(int, time.Duration) { cancel() }
		calls := 0
		err := l.Until(ctx, requeueUntil(3, &calls))
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("Until = %v after %d attempts; want context.Canceled after one", err, calls)
		}
	})
}
