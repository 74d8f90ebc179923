package actuate

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// OSProcesses is Processes on the running system.
type OSProcesses struct{}

var _ Processes = OSProcesses{}

// Identity implements Processes with sysctl kern.proc.pid: the start time
// (as microseconds since the epoch, which serves the same identity purpose
// as Linux's ticks since boot), parent and group. A zombie is gone.
func (OSProcesses) Identity(pid int) (Identity, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) {
			return Identity{}, ErrGone
		}
		return Identity{}, fmt.Errorf("read pid %d: %w", pid, err)
	}
	if kp.Proc.P_pid != int32(pid) {
		return Identity{}, ErrGone
	}
	if kp.Proc.P_stat == 5 { // SZOMB
		return Identity{}, ErrGone
	}
	tv := kp.Proc.P_starttime
	start := uint64(tv.Sec)*1_000_000 + uint64(tv.Usec)
	return Identity{StartTicks: start, PPid: int(kp.Eproc.Ppid), Pgid: int(kp.Eproc.Pgid)}, nil
}

// Cgroup implements Processes: darwin has no cgroups.
func (OSProcesses) Cgroup(int) (string, error) { return "", nil }

// liveGroups is not known on darwin (nil: every group with members counts):
// launchd reaps orphans, so a zombie group does not outlive its parent's
// notice for long.
func (OSProcesses) liveGroups() map[int]bool { return nil }
