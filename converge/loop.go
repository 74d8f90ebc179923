package converge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Clock is the loop's time: Now for the deadline, Sleep for the waits.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or returns ctx's error if ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// Result is what one attempt asks of the loop. The zero Result means done:
// the box converged, and Until returns nil.
type Result struct {
	// Requeue asks for another attempt after the schedule's next wait.
	Requeue bool
}

// ErrDeadline is returned by Until when an attempt still asked for a requeue
// at the deadline.
var ErrDeadline = errors.New("not converged by the deadline")

// The schedule of waits between attempts: FirstWait, doubling to MaxWait.
const (
	FirstWait = time.Second
	MaxWait   = 30 * time.Second
)

// Attempt is one pass of a reconciler: observe, plan, maybe act. n counts
// attempts from 1. An error wrapped with backoff.Permanent is terminal: the
// loop stops at once. Any other error asks for a requeue on the schedule,
// as controller-runtime treats a reconciler's error.
type Attempt func(ctx context.Context, n int) (Result, error)

// Loop runs attempts until they converge. Its zero value is not usable: it
// needs a Clock.
type Loop struct {
	Clock Clock
	// Deadline is when the loop stops asking for attempts. No wait goes past
	// it; an attempt that requeues at or after it ends the loop. A Deadline
	// that has already passed runs exactly one attempt.
	Deadline time.Time
	// Waiting, when set, is told before each wait: the attempt that asked
	// for it, and how long the loop will wait.
	Waiting func(n int, wait time.Duration)
}

// Until runs attempt until it returns the zero Result (Until returns nil),
// a terminal error (Until returns the error inside backoff.Permanent), the
// deadline passes with a requeue pending (ErrDeadline, joined with the last
// attempt's error if it had one) or ctx ends (ctx's error). The attempt gets
// ctx itself: the deadline bounds when the loop waits, not what an attempt
// does; an attempt that must not run past it bounds itself.
func (l Loop) Until(ctx context.Context, attempt Attempt) error {
	sched := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(FirstWait),
		backoff.WithMultiplier(2),
		backoff.WithMaxInterval(MaxWait),
		backoff.WithRandomizationFactor(0), // one reconciler per box: no herd to spread
		backoff.WithMaxElapsedTime(0),      // the deadline ends the loop, not the schedule
		backoff.WithClockProvider(l.Clock),
	)
	for n := 1; ; n++ {
		res, err := attempt(ctx, n)
		if perm, ok := errors.AsType[*backoff.PermanentError](err); ok {
			return perm.Err
		}
		if err == nil && !res.Requeue {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		left := l.Deadline.Sub(l.Clock.Now())
		if left <= 0 {
			if err != nil {
				return fmt.Errorf("%w: %w", ErrDeadline, err)
			}
			return ErrDeadline
		}
		wait := min(sched.NextBackOff(), left)
		if l.Waiting != nil {
			l.Waiting(n, wait)
		}
		if err := l.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
