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
		return nil, err // ENOSYS before Linux 5.3, EMFILE: no hold
	}
	id, err := p.Identity(pid)
	if err == nil && startTicks != 0 && id.StartTicks != startTicks {
		err = ErrGone
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &pidfdHold{fd: fd, pid: pid, own: ownProcesses()}, nil
}

// pidfdHold is a process held by its pidfd.
type pidfdHold struct {
	fd, pid int
	// own is what no signal may reach, as of the hold: the signals of a
	// batch then make no other system call than their own.
	own protected
}

// Exited implements Hold: a pidfd polls readable once its process has
// exited.
func (h *pidfdHold) Exited() bool {
	fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		// An error leaves the question to the caller's other checks:
		// "exited" sends it to them.
		return err != nil || (n > 0 && fds[0].Revents != 0)
	}
}

// Signal implements Hold: pidfd_send_signal for the process itself, which
// no reuse of its pid can redirect; kill(-pgid) for its group.
func (h *pidfdHold) Signal(pgid int, sig syscall.Signal) error {
	if err := h.own.refuse(h.pid, pgid); err != nil {
		return err
	}
	if pgid > 0 {
		return syscall.Kill(-pgid, sig)
	}
	return unix.PidfdSendSignal(h.fd, sig, nil, 0)
}

// Release implements Hold.
func (h *pidfdHold) Release() { unix.Close(h.fd) }
