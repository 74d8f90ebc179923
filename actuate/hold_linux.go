package actuate

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

var _ Holder = OSProcesses{}

// Hold implements Holder with a pidfd (pidfd_open, Linux 5.3). The start
// time is read after the pidfd is open: a process that has the pid then,
// with that start time, had it when the pidfd was opened (a start time
// cannot come later), so the pidfd refers to it.
func (p OSProcesses) Hold(pid int, startTicks uint64) (Hold, error) {
	if pid <= 0 {
		return nil, ErrGone
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, err // ENOSYS before Linux 5.3, EPERM under a seccomp filter, EMFILE
	}
	id, err := p.Identity(pid)
	if err == nil && startTicks != 0 && id.StartTicks != startTicks {
		err = ErrGone
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &pidfdHold{fd: fd, pid: pid}, nil
}

// errReleased is what a hold answers once released: it holds nothing.
var errReleased = errors.New("hold released")

// pidfdHold is a process held by its pidfd; fd is -1 once released.
type pidfdHold struct{ fd, pid int }

// Exited implements Hold: a pidfd polls readable once its process has
// exited.
func (h *pidfdHold) Exited() (bool, error) {
	if h.fd < 0 {
		return false, errReleased
	}
	fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		return n > 0 && fds[0].Revents != 0, nil
	}
}

// Signal implements Hold. The process itself is signalled through its
// pidfd, which no reuse of its pid can redirect. Its group, when it leads
// it, through the pidfd too with PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9);
// otherwise, or on an older kernel, by kill(-pgid), which the caller asks
// for only while the held member lives.
func (h *pidfdHold) Signal(pgid int, sig syscall.Signal) error {
	if h.fd < 0 {
		return errReleased
	}
	if err := refuseSignal(h.pid, pgid); err != nil {
		return err
	}
	switch {
	case pgid <= 0:
		return unix.PidfdSendSignal(h.fd, sig, nil, 0)
	case pgid == h.pid:
		err := unix.PidfdSendSignal(h.fd, sig, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
	}
	return syscall.Kill(-pgid, sig)
}

// Release implements Hold. A second call does nothing: closing the fd
// again could close a descriptor the process has reused for something
// else meanwhile.
func (h *pidfdHold) Release() {
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}
