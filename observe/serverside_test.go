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
	hidden    map[int]bool // fd tables that cannot be read
	walks     int          // full walks taken
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
		if f.hidden[pid] {
			continue
		}
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

func (f *fdProcs) seesConnections() bool { return true }

func (f *fdProcs) started(time.Time, uint64, int64) time.Time { return time.Time{} }

// Who answered /health is found after the answer, by a look that did not
// wait for it: among the hub port's listener holders and their
// descendants, one fd table each, while the listeners are the ones the
// look saw; in every other case the whole look is taken again after the
// answer, as it was before the look stopped waiting.
func TestAnsweredAfterAnEarlyLook(t *testing.T) {
	const hub, worker, other, stranger = 500, 501, 600, 700
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	hubListener := tcpSocket{Local: netip.MustParseAddrPort("127.0.0.1:1939"), State: tcpListen, Inode: 11}
	strangerListener := tcpSocket{Local: netip.MustParseAddrPort("127.0.0.1:1939"), State: tcpListen, Inode: 33}
	server := tcpSocket{Local: netip.MustParseAddrPort("127.0.0.1:1939"), Remote: client, State: tcpEstablished, Inode: 22}
	tree := func() processTree {
		return processTree{
			1:        procfs.Stat{Pid: 1},
			hub:      procfs.Stat{Pid: hub, PPid: 1, Pgid: hub},
			worker:   procfs.Stat{Pid: worker, PPid: hub, Pgid: hub},
			other:    procfs.Stat{Pid: other, PPid: 1, Pgid: other},
			stranger: procfs.Stat{Pid: stranger, PPid: 1, Pgid: stranger},
		}
	}
	for _, tc := range []struct {
		name string
		fds  map[int][]uint64
		// between the look and the answer
		meanwhile func(f *fdProcs)
		client    netip.AddrPort
		want      []int // the server side's holders
		answered  int
		walks     int // full walks after the first
	}{
		{name: "the acceptor holds it", fds: map[int][]uint64{hub: {11, 22}}, client: client, want: []int{hub}, answered: hub},
		{name: "shared with a forked worker", fds: map[int][]uint64{hub: {11, 22}, worker: {11, 22}}, client: client, want: []int{hub, worker}, answered: hub},
		{name: "handed to a worker", fds: map[int][]uint64{hub: {11}, worker: {22}}, client: client, want: []int{worker}, answered: worker},
		{name: "passed outside the acceptor's tree", fds: map[int][]uint64{hub: {11}, stranger: {22}}, client: client, want: []int{stranger}, answered: stranger, walks: 1},
		{name: "no connection", fds: map[int][]uint64{hub: {11}}, answered: hub},
		{
			// The hub closed its listener after the look; a stranger whose fd
			// table cannot be read listens and answers. Who answered is
			// unknown, never the hub the look saw.
			name: "the listener changed, its holder hidden",
			fds:  map[int][]uint64{hub: {11}},
			meanwhile: func(f *fdProcs) {
				f.listeners = []tcpSocket{strangerListener}
				f.fds = map[int][]uint64{hub: {}}
				f.hidden = map[int]bool{stranger: true}
			},
			// Looked at again after 20 ms, as any listener nobody visibly
			// holds is (scanDeclared): two walks.
			client: client, want: nil, answered: 0, walks: 2,
		},
		{
			name: "the listener changed",
			fds:  map[int][]uint64{hub: {11}},
			meanwhile: func(f *fdProcs) {
				f.listeners = []tcpSocket{strangerListener}
				f.fds = map[int][]uint64{stranger: {33, 22}}
			},
			client: client, want: []int{stranger}, answered: stranger, walks: 1,
		},
		{
			// Socket activation: the manager holds the listener too, and
			// every process descends from it.
			name: "a service manager holds the listener",
			fds:  map[int][]uint64{1: {11}, hub: {11, 22}},
			meanwhile: func(f *fdProcs) {
				for pid := 1000; pid < 1000+maxAcceptors; pid++ {
					f.tree[pid] = procfs.Stat{Pid: pid, PPid: 1, Pgid: pid}
				}
			},
			client: client, want: []int{hub}, answered: hub, walks: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fdProcs{tree: tree(), fds: tc.fds, listeners: []tcpSocket{hubListener}, conns: map[netip.AddrPort]tcpSocket{client: server}}
			ports := []Port{{Port: 1939}}
			sc := scanDeclared(f, ports, netip.AddrPort{}, 0, 0)
			if tc.meanwhile != nil {
				tc.meanwhile(f)
			}
			sc = sc.answered(f, ports, tc.client, 1939, 0)
			var got []int
			if sc.serverInode != 0 {
				got = sc.w.owners[sc.serverInode]
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("server side held by %v, want %v", got, tc.want)
			}
			if f.walks-1 != tc.walks {
				t.Errorf("%d full walks after the first, want %d", f.walks-1, tc.walks)
			}
			if tc.walks == 0 && slices.Contains(f.looked, other) {
				t.Errorf("looked at pid %d, which neither holds the listener nor descends from a holder", other)
			}
			var listeners []Listener
			for _, s := range sc.listeners {
				listeners = append(listeners, Listener{Addr: s.Local.String(), Pids: sc.w.owners[s.Inode]})
			}
			ports[0].Listeners = listeners
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
