package actuate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

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

// Identity implements Processes from /proc/PID/stat and /proc/PID/cgroup,
// parsed by internal/procfs as observe parses them. A zombie is gone, and so is a process being
// reaped (its stat answers ESRCH instead of ENOENT). A pid kill(pid, 0)
// answers ESRCH for is gone without reading anything: the stop waits ask
// this of every process they signalled, on every poll.
func (p OSProcesses) Identity(pid int) (Identity, error) {
	if pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH {
		return Identity{}, ErrGone
	}
	dir := filepath.Join(p.root(), strconv.Itoa(pid))
	data, err := os.ReadFile(filepath.Join(dir, "stat"))
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
	id := Identity{StartTicks: st.StartTicks, PPid: st.PPid, Pgid: st.Pgid}
	if cg, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		id.Cgroup = procfs.ParseCgroup(cg)
	}
	return id, nil
}

// liveGroups is the last walk's answer to "which groups have a live
// member", kept for liveGroupsFresh: when a stop's processes exit at once,
// every group whose leader is a zombie asks, and each used to be its own
// walk over thousands of processes. A cached "live" can only be stale
// towards waiting one more poll. A cached "not live" stays true: a group
// gains a live member by a fork of a live member (there was none) or by a
// setpgid into it, which nothing of a stopped module does.
var liveGroups struct {
	sync.Mutex
	root string
	at   time.Time
	live map[int]bool
}

// liveGroupsFresh is about one poll of the stop waits (actuate polls every
// 5 to 20 ms).
const liveGroupsFresh = 10 * time.Millisecond

// groupHasLive reports whether any non-zombie process is in group pgid. An
// unreadable /proc answers true: unknown is never dead.
func (p OSProcesses) groupHasLive(pgid int) bool {
	lg := &liveGroups
	lg.Lock()
	defer lg.Unlock()
	if lg.live == nil || lg.root != p.root() || time.Since(lg.at) > liveGroupsFresh {
		live, err := procfs.LiveGroups(p.root())
		if err != nil {
			lg.live = nil
			return true
		}
		lg.root, lg.at, lg.live = p.root(), time.Now(), live
	}
	return lg.live[pgid]
}
