package observe

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/procfs"
)

// fdProcs is a procReader over an in-memory process table with fd tables:
// each process holds the socket inodes listed for it; conns maps a
// client address to the server side of its connection.
type fdProcs struct {
	tree      processTree
	fds       map[int][]uint64
	listeners []tcpSocket
	conns     map[netip.AddrPort]tcpSocket
	walks     int // full walks taken
	looked    []int
}

func (f *fdProcs) bootTime() (time.Time, error) { return time.Unix(0, 0), nil }

func (f *fdProcs) sockets(ports map[uint16]bool, client netip.AddrPort, _ uint16) ([]tcpSocket, *tcpSocket, []string) {
	var ls []tcpSocket
	for _, s := range f.listeners {
		if ports[s.Local.Port()] {
			ls = append(ls, s)
		}
	}
	if s, ok := f.conns[client]; ok && client.IsValid() {
		return ls, &s, nil
	}
	return ls, nil, nil
}

func (f *fdProcs) owners(pids []int, inodes map[uint64]bool) map[uint64][]int {
	owners := map[uint64][]int{}
	for _, pid := range pids {
		for _, ino := range f.fds[pid] {
			if inodes[ino] && !slices.Contains(owners[ino], pid) {
				owners[ino] = append(owners[ino], pid)
			}
		}
	}
	return owners
}

func (f *fdProcs) walk(inodes map[uint64]bool) (walkResult, error) {
	f.walks++
	pids := slices.Sorted(func(yield func(int) bool) {
		for pid := range f.tree {
			if !yield(pid) {
				return
			}
		}
	})
	return walkResult{tree: f.tree, owners: f.owners(pids, inodes), unreadableStat: map[int]error{}}, nil
}

func (f *fdProcs) holders(pids []int, inodes map[uint64]bool) []int {
	f.looked = append(f.looked, pids...)
	var out []int
	for _, pid := range pids {
		if len(f.owners([]int{pid}, inodes)) > 0 {
			out = append(out, pid)
		}
	}
	return out
}

func (f *fdProcs) details(*Process, bool) (string, bool) { return "", false }

func (f *fdProcs) started(time.Time, uint64, int64) time.Time { return time.Time{} }

// Who answered /health is found after the answer, by the walk that did not
// wait for it: among the hub port's listener holders and their
// descendants first, one fd table each; every process is walked again only
// when none of them holds the connection.
func TestServerSideAfterTheWalk(t *testing.T) {
	const hub, worker, other, stranger = 500, 501, 600, 700
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	listener := tcpSocket{Local: netip.MustParseAddrPort("127.0.0.1:1939"), State: tcpListen, Inode: 11}
	server := tcpSocket{Local: netip.MustParseAddrPort("127.0.0.1:1939"), Remote: client, State: tcpEstablished, Inode: 22}
	tree := processTree{
		1:        procfs.Stat{Pid: 1},
		hub:      procfs.Stat{Pid: hub, PPid: 1, Pgid: hub},
		worker:   procfs.Stat{Pid: worker, PPid: hub, Pgid: hub},
		other:    procfs.Stat{Pid: other, PPid: 1, Pgid: other},
		stranger: procfs.Stat{Pid: stranger, PPid: 1, Pgid: stranger},
	}
	for _, tc := range []struct {
		name      string
		fds       map[int][]uint64
		client    netip.AddrPort
		want      []int // the server side's holders
		answered  int
		fullWalks int // after the first
	}{
		{"the acceptor holds it", map[int][]uint64{hub: {11, 22}}, client, []int{hub}, hub, 0},
		{"shared with a forked worker", map[int][]uint64{hub: {11, 22}, worker: {11, 22}}, client, []int{hub, worker}, hub, 0},
		{"handed to a worker", map[int][]uint64{hub: {11}, worker: {22}}, client, []int{worker}, worker, 0},
		{"passed outside the acceptor's tree", map[int][]uint64{hub: {11}, stranger: {22}}, client, []int{stranger}, stranger, 1},
		{"no answer, no connection", map[int][]uint64{hub: {11}}, netip.AddrPort{}, nil, hub, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fdProcs{tree: tree, fds: tc.fds, listeners: []tcpSocket{listener}, conns: map[netip.AddrPort]tcpSocket{client: server}}
			sc := scanDeclared(f, []Port{{Port: 1939}}, 0)
			sc.serverSide(f, tc.client, 1939)
			var got []int
			if sc.serverInode != 0 {
				got = sc.w.owners[sc.serverInode]
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("server side held by %v, want %v", got, tc.want)
			}
			if f.walks-1 != tc.fullWalks {
				t.Errorf("%d full walks after the first, want %d", f.walks-1, tc.fullWalks)
			}
			if slices.Contains(f.looked, other) {
				t.Errorf("looked at pid %d, which neither holds the listener nor descends from a holder", other)
			}
			ports := []Port{{Port: 1939, Listeners: []Listener{{Addr: "127.0.0.1:1939", Pids: sc.w.owners[listener.Inode]}}}}
			if got := answeredByOf(ports, 1939, got, treeParent(sc.w.tree)); got != tc.answered {
				t.Errorf("answered by %d, want %d", got, tc.answered)
			}
		})
	}
}

func TestDescendants(t *testing.T) {
	tree := processTree{
		1:  procfs.Stat{Pid: 1},
		10: procfs.Stat{Pid: 10, PPid: 1},
		11: procfs.Stat{Pid: 11, PPid: 10},
		12: procfs.Stat{Pid: 12, PPid: 11},
		13: procfs.Stat{Pid: 13, PPid: 10},
		20: procfs.Stat{Pid: 20, PPid: 1},
	}
	for _, c := range []struct{ from, want []int }{
		{nil, nil},
		{[]int{10}, []int{10, 11, 13, 12}},
		{[]int{11, 10}, []int{11, 10, 12, 13}},
		{[]int{20}, []int{20}},
		{[]int{99}, []int{99}}, // not in the tree: itself only
	} {
		if got := tree.descendants(c.from); !slices.Equal(got, c.want) {
			t.Errorf("descendants(%v) = %v, want %v", c.from, got, c.want)
		}
	}
}
