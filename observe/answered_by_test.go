package observe

import (
	"testing"
)

// TestAnsweredByIgnoresListenersThatCannotAnswer pins a
// misattribution in answeredByOf (observe.go): when the server side of our
// health connection shows no visible holder (not found, or found but held
// by another user's process whose fds a non-root run cannot read — the two
// are not told apart), the fallback takes "the hub port's listener owner"
// from every listener on the port, skipping the ones whose owner is
// unknown. Here another user's process holds 127.0.0.1:1939 (owner
// unreadable: it is the only listener a GET to 127.0.0.1 can reach, so it
// answered), and pid 4242 holds [::1]:1939, which cannot accept a
// connection to 127.0.0.1. AnsweredBy comes out 4242 instead of 0 (unknown).
// If 4242 is in the hub unit's cgroup the planner then counts a stranger's
// answer as "healthy from inside the unit". The fallback must be 0 when
// any listener on the port has unknown holders, and consider only
// listeners that can accept a v4 loopback connection.
func TestAnsweredByIgnoresListenersThatCannotAnswer(t *testing.T) {
	ports := []Port{{Port: 1939, Owner: "hub", Short: "hub", Listeners: []Listener{
		{Addr: "127.0.0.1:1939", Inode: 100, UID: 1001, Pids: []int{}},
		{Addr: "[::1]:1939", Inode: 200, UID: 1000, Pids: []int{4242}},
	}}}
	parent := func(pid int) int { return map[int]int{4242: 1}[pid] }
	if got := answeredByOf(ports, 1939, nil, parent); got != 0 {
		t.Errorf("answeredBy = %d; want 0: the only listener that can answer 127.0.0.1:1939 has an unknown owner", got)
	}
}
