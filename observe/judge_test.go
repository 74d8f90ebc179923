package observe

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/procfs"
)

// epochProcs is a procReader over an in-memory process table whose start
// times are darwin's (microseconds since the epoch, no boot time), each
// process's PARACHUTE_HOME in homes. reads records whose environment was
// read.
type epochProcs struct {
	homes map[int]string
	reads map[int]bool
}

func (epochProcs) bootTime() (time.Time, error) { return time.Time{}, errors.New("no boot time") }
func (epochProcs) sockets(map[uint16]bool, netip.AddrPort, uint16) ([]tcpSocket, *tcpSocket, []string) {
	return nil, nil, nil
}
func (epochProcs) walk(map[uint64]bool) (walkResult, error) { return walkResult{}, nil }
func (e epochProcs) details(p *Process, withHome bool) (string, bool) {
	p.Argv = []string{"parachute-vault", "serve"}
	if !withHome {
		return "", false
	}
	e.reads[p.Pid] = true
	return e.homes[p.Pid], true
}
func (epochProcs) started(_ time.Time, ticks uint64, _ int64) time.Time {
	return time.UnixMicro(int64(ticks))
}

// Pidfile claims are judged by the platform's start times, before any
// details are read: a process that started before its pidfile was written
// stands and has its environment read; one that started after (a reused
// pid) does not, and its environment is not read.
func TestClaimsAreJudgedByThePlatformsStartTime(t *testing.T) {
	written := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const live, reused = 501, 502
	pr := epochProcs{homes: map[int]string{live: "/home/op/.parachute", reused: "/home/op/.parachute"}, reads: map[int]bool{}}
	tree := processTree{
		live:   procfs.Stat{Pid: live, PPid: 1, Pgid: live, StartTicks: uint64(written.Add(-time.Hour).UnixMicro())},
		reused: procfs.Stat{Pid: reused, PPid: 1, Pgid: reused, StartTicks: uint64(written.Add(time.Hour).UnixMicro())},
	}
	snap := &Snapshot{}
	ld := &processLoader{env: Env{ClockTicks: 100, LookupUser: func(int) (string, error) { return "op", nil }},
		pr: pr, w: walkResult{tree: tree}, snap: snap, procs: map[int]*Process{}, users: map[int]string{}}
	cands := []pidfileCandidate{
		{pf: Pidfile{Path: "vault/run/vault.pid", Pid: live, ModTime: written}, parse: pidOK},
		{pf: Pidfile{Path: "scribe/run/scribe.pid", Pid: reused, ModTime: written}, parse: pidOK},
	}
	ld.judgePidfiles(cands, nil)
	if got := snap.Pidfiles[0].State; got != PidLive {
		t.Errorf("the claim of a process started before its pidfile: %s (%s), want live", got, snap.Pidfiles[0].Reason)
	}
	if got := snap.Pidfiles[1].State; got != PidReused {
		t.Errorf("the claim of a process started after its pidfile: %s (%s), want reused", got, snap.Pidfiles[1].Reason)
	}
	if p := ld.procs[live]; p == nil || p.EnvHome != "/home/op/.parachute" {
		t.Errorf("the live claim's process: %+v, want its PARACHUTE_HOME", p)
	}
	if pr.reads[reused] {
		t.Error("the environment of a reused pid's process (someone else's) was read")
	}
	if p := ld.procs[reused]; p == nil || p.EnvHome != "" {
		t.Errorf("the reused pid's process: %+v, want no PARACHUTE_HOME", p)
	}
}
