package procfs

import (
	"errors"
	"fmt"
	"io/fs"
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
		data, err := ReadStatAt(rootFd, name, buf)
		if err != nil {
			continue // exited since listed (or hidden: not a member we can see)
		}
		st, err := ParseStat(data)
		if err == nil && st.State != "Z" && st.State != "X" {
			live[st.Pgid] = true
		}
	}
	return live, nil
}

// Openat is openat(2) (mode 0) retried on EINTR, which the runtime's
// preemption signals can cause on a slow /proc file.
func Openat(dirFd int, path string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirFd, path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// ReadStatAt reads <pid>/stat below rootFd (a /proc directory descriptor)
// into buf with one read: the kernel prints the whole line at once when the
// buffer holds it, and a stat line is a few hundred bytes at most (comm is
// at most 16), so a 4 KiB buffer always does. The errors wrap the errno: a
// process that exited since it was listed is fs.ErrNotExist or ESRCH; a
// line that does not fit in buf is an error, not a part of it.
func ReadStatAt(rootFd int, pid string, buf []byte) ([]byte, error) {
	path := pid + "/stat"
	fd, err := Openat(rootFd, path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		return wholeStatLine(path, buf, n, err)
	}
}

// RawReadStatAt is ReadStatAt made of raw calls (see RawOpenat), for the
// walk over every process of the table, whose most frequent read it is.
func RawReadStatAt(rootFd int, pid string, buf []byte) ([]byte, error) {
	var pb [32]byte
	fd, err := RawOpenat(rootFd, append(append(pb[:0], pid...), "/stat\x00"...), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: pid + "/stat", Err: err}
	}
	defer RawClose(fd)
	n, err := RawRead(fd, buf)
	return wholeStatLine(pid+"/stat", buf, n, err)
}

// wholeStatLine is the result of reading n bytes of a stat file into buf: the
// whole line, or why not.
func wholeStatLine(path string, buf []byte, n int, err error) ([]byte, error) {
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if n == 0 || n == len(buf) || buf[n-1] != '\n' {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not one whole stat line")}
	}
	return buf[:n], nil
}
