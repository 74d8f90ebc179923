//go:build !linux

package e2e

import (
	"errors"
	"testing"
)

// pidfd stands in for the Linux pidfd (kill_linux_test.go): the sandbox,
// and so every test that would kill through one, exists only on Linux.
type pidfd struct{ host int }

func (p *pidfd) close() {}

func (p *pidfd) kill() error { return errors.New("pidfds exist only on Linux") }

func childPidfd(t *testing.T, parent int, match func(host int) bool) *pidfd {
	t.Helper()
	t.Skip("the systemd sandbox exists only on Linux")
	return nil
}

func innermostPid(host int) int { return 0 }
