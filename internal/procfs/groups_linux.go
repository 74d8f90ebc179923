package procfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// LiveGroups returns the process groups of the /proc tree at procRoot
// ("/proc") that have a live member, that is one neither a zombie nor being
// reaped: one read of each process's stat, relative to the tree's
// descriptor, into one reused buffer. The actuator asks it while stopped
// groups' members exit, among thousands of unrelated processes: one walk
// answers for every group. The error is for a process table that cannot be
// read (the caller counts that as alive).
func LiveGroups(procRoot string) (map[int]bool, error) {
	d, err := os.Open(procRoot)
	if err != nil {
		return nil, fmt.Errorf("read process table: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read process table %s: %w", procRoot, err)
	}
	rootFd := int(d.Fd())
	buf := make([]byte, 4096)
	live := map[int]bool{}
	for _, name := range names {
		if name == "" || name[0] < '1' || name[0] > '9' {
			continue
		}
		data, ok := readStatAt(rootFd, name, buf)
		if !ok {
			continue // exited since listed (or hidden: not a member we can see)
		}
		st, err := ParseStat(data)
		if err == nil && st.State != "Z" && st.State != "X" {
			live[st.Pgid] = true
		}
	}
	return live, nil
}

// readStatAt reads <pid>/stat below rootFd into buf with one read: the
// kernel prints the whole line at once when the buffer holds it. A line
// that does not fit (comm cannot make it longer than a few hundred bytes)
// or a failed read is reported as not read.
func readStatAt(rootFd int, pid string, buf []byte) ([]byte, bool) {
	fd, err := unix.Openat(rootFd, pid+"/stat", unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 || n == len(buf) || buf[n-1] != '\n' {
			return nil, false
		}
		return buf[:n], true
	}
}
