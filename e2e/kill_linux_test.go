package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pidfd is an open pidfd and the host pid it was opened on.
type pidfd struct {
	fd, host int
}

func (p *pidfd) close() {
	if p != nil {
		_ = unix.Close(p.fd)
	}
}

// kill sends SIGKILL to the process.
func (p *pidfd) kill() error {
	return unix.PidfdSendSignal(p.fd, unix.SIGKILL, nil, 0)
}

// childPidfd opens a pidfd on the child of host pid parent for which match
// (given the child's host pid) holds, checked after opening so that the
// pidfd pins the very process that matched.
func childPidfd(t *testing.T, parent int, match func(host int) bool) *pidfd {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/task/%d/children", parent, parent)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	for _, f := range strings.Fields(string(data)) {
		host, _ := strconv.Atoi(f)
		fd, err := unix.PidfdOpen(host, 0)
		if err != nil {
			continue
		}
		if match(host) {
			return &pidfd{fd: fd, host: host}
		}
		_ = unix.Close(fd)
	}
	t.Fatalf("no child of pid %d (%s) is the one wanted", parent, strings.TrimSpace(string(data)))
	return nil
}

// innermostPid is the last NSpid of a host pid (its pid in the innermost
// namespace), 0 when unknown.
func innermostPid(host int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", host))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				p, _ := strconv.Atoi(f[len(f)-1])
				return p
			}
		}
	}
	return 0
}
