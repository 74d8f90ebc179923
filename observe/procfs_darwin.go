package observe

import (
	"errors"
	"net/netip"
	"time"
)

// The darwin transport is not written yet: it must find listeners without
// lsof (libproc's proc_pidinfo/PROC_PIDLISTFDS, or sysctl
// net.inet.tcp.pcblist_n). Until then every observation on darwin carries
// problems, which the planner treats as blockers, so nothing is stopped on
// guesswork.

// errDarwin is what every darwin read answers for now.
var errDarwin = errors.New("port ownership on darwin not implemented yet")

type darwinProcs struct{}

var _ procReader = darwinProcs{}

func newProcReader(Env) procReader { return darwinProcs{} }

func (darwinProcs) bootTime() (time.Time, error) { return time.Time{}, errDarwin }

func (darwinProcs) sockets(map[uint16]bool, netip.AddrPort, uint16) ([]tcpSocket, *tcpSocket, []string) {
	return nil, nil, []string{errDarwin.Error()}
}

func (darwinProcs) walk(map[uint64]bool) (walkResult, error) {
	return walkResult{}, errors.New("process table on darwin not implemented yet")
}

func (darwinProcs) details(*Process) {}

// ReadProcess is not implemented on darwin yet; it always fails.
func ReadProcess(procRoot string, pid int) (Process, error) {
	return Process{}, errDarwin
}
