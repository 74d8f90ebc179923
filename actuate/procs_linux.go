package actuate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/parachute/reconcile/observe"
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

// Identity implements Processes from /proc/PID/stat and /proc/PID/cgroup,
// parsed by observe's parsers. A zombie is gone, and so is a process being
// reaped (its stat answers ESRCH instead of ENOENT).
func (p OSProcesses) Identity(pid int) (Identity, error) {
	dir := filepath.Join(p.root(), strconv.Itoa(pid))
	data, err := os.ReadFile(filepath.Join(dir, "stat"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return Identity{}, ErrGone
	}
	if err != nil {
		return Identity{}, fmt.Errorf("read pid %d: %w", pid, err)
	}
	st, err := observe.ParseStat(data)
	if err != nil {
		return Identity{}, fmt.Errorf("read pid %d: %w", pid, err)
	}
	if st.State == "Z" || st.State == "X" {
		return Identity{}, ErrGone
	}
	id := Identity{StartTicks: st.StartTicks, PPid: st.PPid, Pgid: st.Pgid}
	if cg, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		id.Cgroup = observe.ParseCgroup(cg)
	}
	return id, nil
}

// groupHasLive reports whether any non-zombie process is in group pgid. An
// unreadable /proc answers true: unknown is never dead.
func (p OSProcesses) groupHasLive(pgid int) bool {
	live, err := observe.GroupHasLive(p.root(), pgid)
	return live || err != nil
}
