package actuate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/parachute/reconcile/internal/procfs"
)

// OSProcesses is Processes on the running system. ProcRoot is /proc unless
// set.
type OSProcesses struct{ ProcRoot string }

var _ Processes = OSProcesses{}

func (p OSProcesses) root() string {
	if p.ProcRoot == "" {
		return "/proc"
	}
	return p.ProcRoot
}

// Identity implements Processes from /proc/PID/stat, parsed by
// internal/procfs as observe parses it. A zombie is gone, and so is a process being
// reaped (its stat answers ESRCH instead of ENOENT). A pid kill(pid, 0)
// answers ESRCH for is gone without reading anything: the stop waits ask
// this of every process they signalled, on every poll.
func (p OSProcesses) Identity(pid int) (Identity, error) {
	if pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH {
		return Identity{}, ErrGone
	}
	data, err := os.ReadFile(filepath.Join(p.root(), strconv.Itoa(pid), "stat"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return Identity{}, ErrGone
	}
	if err != nil {
		return Identity{}, fmt.Errorf("read pid %d: %w", pid, err)
	}
	st, err := procfs.ParseStat(data)
	if err != nil {
		return Identity{}, fmt.Errorf("read pid %d: %w", pid, err)
	}
	if st.State == "Z" || st.State == "X" {
		return Identity{}, ErrGone
	}
	return Identity{StartTicks: st.StartTicks, PPid: st.PPid, Pgid: st.Pgid}, nil
}

// Cgroup implements Processes from /proc/PID/cgroup.
func (p OSProcesses) Cgroup(pid int) (string, error) {
	cg, err := os.ReadFile(filepath.Join(p.root(), strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	return procfs.ParseCgroup(cg), nil
}

// liveGroups is which process groups have a live (not zombie) member, from
// one walk over /proc; nil when /proc cannot be read.
func (p OSProcesses) liveGroups() map[int]bool {
	live, err := procfs.LiveGroups(p.root())
	if err != nil {
		return nil
	}
	return live
}
