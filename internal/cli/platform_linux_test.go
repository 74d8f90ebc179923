package cli

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/sdbus"
)

// A predial that failed is dialled again once by the first caller, and a
// dial that fails returns its error: never a loop of dials, never a hang.
func TestPlatformDialsAtMostOncePerCall(t *testing.T) {
	var dials atomic.Int32
	refused := errors.New("manager unreachable")
	p := newPlatform()
	p.dialer = func(context.Context, string, int, func(string) string) (*sdbus.Conn, error) {
		dials.Add(1)
		return nil, refused
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.predial()
	scope, uid := "user", os.Geteuid()
	if os.Geteuid() == 0 {
		scope, uid = "system", 0
	}
	if _, err := p.dial(ctx, scope, uid); !errors.Is(err, refused) {
		t.Fatalf("dial after a failed predial: %v, want the dial's error", err)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials for a failed predial and one call, want 2", n)
	}
	if _, err := p.dial(ctx, "user", 4242); !errors.Is(err, refused) {
		t.Fatalf("a fresh dial: %v, want its error", err)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials after one more call, want 3", n)
	}
	p.close()
}

// close ends a dial still in progress instead of waiting for a manager that
// never answers.
func TestPlatformCloseEndsADialInProgress(t *testing.T) {
	p := newPlatform()
	started := make(chan struct{})
	p.dialer = func(ctx context.Context, _ string, _ int, _ func(string) string) (*sdbus.Conn, error) {
		close(started)
		<-ctx.Done() // a manager that accepted and never answers
		return nil, ctx.Err()
	}
	p.predial()
	<-started
	done := make(chan struct{})
	go func() { p.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("close waited for a dial that never ends")
	}
}
