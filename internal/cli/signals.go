package cli

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signals cancels a run's context on SIGINT or SIGTERM from the moment the
// run is about to change the box (arm: before a plan's first step, before
// a timer is installed or removed). Until then both keep their default
// action: a run that has changed nothing ends at once (a lock it holds
// goes with the process), and the next run starts over. Arming late is
// for the cron tick: os/signal starts a goroutine on a thread of its own,
// 1.3 to 2 ms of a converged run's 20 (bench/README.md, round 4), which
// only a run that acts needs.
//
// Once armed, a signal cancels the context; the run's waits end with it, a
// step in progress finishes or fails, and the run exits with its code
// (docs/design.md, "SIGTERM or SIGINT cancels the run's context").
type signals struct {
	once   sync.Once
	cancel context.CancelFunc
	c      chan os.Signal
	done   chan struct{}
}

// arm starts catching SIGINT and SIGTERM; calling it again, or on nil,
// does nothing.
func (s *signals) arm() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		s.c, s.done = make(chan os.Signal, 1), make(chan struct{})
		signal.Notify(s.c, os.Interrupt, syscall.SIGTERM)
		c, done, cancel := s.c, s.done, s.cancel
		go func() {
			select {
			case <-c:
				cancel()
			case <-done:
			}
		}()
	})
}

// stop gives the signals back their default action, once the run is over.
func (s *signals) stop() {
	s.once.Do(func() {}) // never armed now
	if s.c != nil {
		signal.Stop(s.c)
		close(s.done)
	}
}
