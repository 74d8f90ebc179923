package actuate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// Identity implements Processes from /proc/PID/stat and /proc/PID/cgroup. A
// zombie is gone.
func (p OSProcesses) Identity(pid int) (Identity, error) {
	dir := filepath.Join(p.root(), strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	// A process being reaped can answer ESRCH instead of ENOENT.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return Identity{}, ErrGone
	}
	if err != nil {
		return Identity{}, fmt.Errorf("read pid %d: %w", pid, err)
	}
	// comm may hold spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Identity{}, fmt.Errorf("read pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return Identity{}, fmt.Errorf("read pid %d: short stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return Identity{}, ErrGone
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Identity{}, fmt.Errorf("read pid %d: start time: %w", pid, err)
	}
	id := Identity{StartTicks: start, PPid: ppid, Pgid: pgid}
	if cg, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		id.Cgroup = unifiedCgroup(string(cg))
	}
	return id, nil
}

// unifiedCgroup returns the cgroup v2 path ("0::/path"), falling back to
// systemd's named v1 hierarchy on hybrid hosts.
func unifiedCgroup(s string) string {
	var named string
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest
		}
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "name=systemd" {
			named = parts[2]
		}
	}
	return named
}

// groupHasLive reports whether any non-zombie process is in group pgid. An
// unreadable /proc answers true: unknown is never dead.
func (p OSProcesses) groupHasLive(pgid int) bool {
	entries, err := os.ReadDir(p.root())
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if id, err := p.Identity(pid); err == nil && id.Pgid == pgid {
			return true
		}
	}
	return false
}
