package procfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The process-table walk's system calls, made raw.
//
// A walk over a few thousand processes makes tens of thousands of short
// system calls on /proc. Made the ordinary way, each tells the scheduler
// the thread is in the kernel; when one outlasts a sysmon tick (20 µs, and
// /proc's calls often do on a loaded machine) while other goroutines want
// to run, sysmon hands the thread's P to another thread, which the walk
// then pays for in wake-ups and switches, and sysmon itself never backs
// off from its 20 µs tick. A raw call keeps its P.
//
// That is right only for a call that cannot wait on anything another
// process controls: these are used by the observation's walk for a
// process's stat, its fd directory and its fd links, which the kernel
// answers under short locks of its own (task_lock, the sighand lock, RCU;
// no target's mmap lock, no exec lock). A process's cmdline, environ and
// the like, which can wait on the target's memory, are read the ordinary
// way, and so is everything the stop's polls read.
//
// What a raw call can still do: run the target's own cleanup in this
// thread. If the target exits during the read of its stat, this thread's
// reference to its memory may be the last (mmput: freeing a large address
// space takes milliseconds), and so may its reference to a file behind an
// fd link (fput: a socket's close, a FUSE release). Such a call is long,
// and while it lasts the runtime cannot stop this goroutine, so a garbage
// collection waits for it. That is why the stop's polls, made while
// hundreds of processes exit, use the ordinary calls (ReadStatAt).
//
// Each call is retried on EINTR: a raw call is interrupted by the
// runtime's preemption signal as any other is.
//
// The wrappers repeat their retry loop rather than share one taking
// uintptr arguments: a pointer converted to uintptr stays valid only in
// the call of the assembly function itself (unsafe.Pointer's rule 4).
// Passed through a Go helper, a stack buffer's address (the callers'
// NUL-terminated names are on the stack) would go stale if the helper's
// call grew the stack.

// RawOpenat is openat(2) of the NUL-terminated path at dirFd, mode 0.
func RawOpenat(dirFd int, path []byte, flags int) (int, error) {
	if len(path) == 0 || path[len(path)-1] != 0 {
		return -1, unix.EINVAL
	}
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirFd), uintptr(unsafe.Pointer(&path[0])), uintptr(flags), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

// RawRead is read(2) into b.
func RawRead(fd int, b []byte) (int, error) {
	return rawBuf(unix.SYS_READ, fd, b)
}

// RawGetdents is getdents64(2) into b.
func RawGetdents(fd int, b []byte) (int, error) {
	return rawBuf(unix.SYS_GETDENTS64, fd, b)
}

// rawBuf is the call trap(fd, b, len(b)), retried on EINTR.
func rawBuf(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, unix.EINVAL
	}
	for {
		r, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// RawReadlinkat is readlinkat(2) of the NUL-terminated path at dirFd into
// b.
func RawReadlinkat(dirFd int, path, b []byte) (int, error) {
	if len(path) == 0 || path[len(path)-1] != 0 || len(b) == 0 {
		return 0, unix.EINVAL
	}
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_READLINKAT, uintptr(dirFd), uintptr(unsafe.Pointer(&path[0])),
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// RawClose is close(2). It is not retried: on Linux the descriptor is
// released even when close reports EINTR.
func RawClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}
