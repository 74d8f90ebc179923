package observe

import (
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/fakeproc"
)

// A large process table is walked in runs side by side; the result is the
// one a single pass over the same table gives, holders in pid order.
func TestParallelWalkIsOnePass(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	tree := fakeproc.Tree{Boot: time.Unix(1_700_000_000, 0)}
	for pid := 1; pid <= 1500; pid++ {
		p := fakeproc.Proc{Pid: pid, PPid: max(1, pid/2), Pgid: pid, Sid: 1, StartTicks: uint64(pid), Argv: []string{"sleep", "3600"}, Kernel: pid%97 == 0}
		switch {
		case pid%250 == 0: // one socket held across every run of the table
			p.Fds = []string{"/dev/null", fakeproc.SocketLink(7)}
		case pid%3 == 0:
			p.Fds = []string{fakeproc.SocketLink(uint64(1000 + pid)), fakeproc.SocketLink(uint64(1000 + pid))}
		case pid%11 == 0:
			p.Hidden = []string{fakeproc.HideFds}
		}
		tree.Procs = append(tree.Procs, p)
	}
	root := filepath.Join(t.TempDir(), "proc")
	if err := fakeproc.Write(root, tree); err != nil {
		t.Fatal(err)
	}
	inodes := map[uint64]bool{7: true, 1003: true, 1999: true, 2497: true}
	walk := func(procs int) walkResult {
		runtime.GOMAXPROCS(procs)
		w, err := newProcFS(root).walk(inodes)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	single, parallel := walk(1), walk(4)
	// Same table, same holders in the same order, same unreadable entries.
	if !reflect.DeepEqual(parallel.owners, single.owners) {
		t.Errorf("holders: parallel walk %v, one pass %v", parallel.owners, single.owners)
	}
	if len(parallel.owners[7]) != 6 {
		t.Errorf("the socket held across the whole table has holders %v, want the 6 processes holding it", parallel.owners[7])
	}
	if !reflect.DeepEqual(parallel.tree, single.tree) || len(parallel.tree) != 1500 {
		t.Errorf("process table: %d processes, one pass %d, want 1500 and equal", len(parallel.tree), len(single.tree))
	}
	if !reflect.DeepEqual(parallel.unreadableFds, single.unreadableFds) || len(parallel.unreadableFds) == 0 {
		t.Errorf("unreadable fd directories: %v, one pass %v", parallel.unreadableFds, single.unreadableFds)
	}
}
