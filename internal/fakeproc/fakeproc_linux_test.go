package fakeproc_test

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/fakeproc"
	"github.com/parachute/reconcile/observe"
)

// What Write lays out is what observe's Linux reader reads back: a process
// with every field, one with hidden fields, and the holders of v4 and v6
// listeners.
func TestObserveReadsTheTree(t *testing.T) {
	root := filepath.Join(t.TempDir(), "proc")
	boot := time.Unix(1800000000, 0)
	tree := fakeproc.Tree{Boot: boot,
		Procs: []fakeproc.Proc{
			{Pid: 1, Pgid: 1, Sid: 1, StartTicks: 1, Argv: []string{"/sbin/init"}, Exe: "/sbin/init", Cwd: "/"},
			{Pid: 42, PPid: 1, Pgid: 42, Sid: 42, StartTicks: 250, UID: 1000, Argv: []string{"/usr/bin/bun", "serve"},
				Environ: []string{"PARACHUTE_HOME=/h"}, Cgroup: "/user.slice/x.scope", Exe: "/usr/bin/bun", Cwd: "/h",
				Fds: []string{"/dev/null", fakeproc.SocketLink(7), fakeproc.SocketLink(8)}},
			{Pid: 43, PPid: 1, Pgid: 43, Sid: 43, StartTicks: 300, Argv: []string{"secret"}, Fds: []string{fakeproc.SocketLink(9)},
				Hidden: []string{fakeproc.HideArgv, fakeproc.HideExe, fakeproc.HideCwd, fakeproc.HideFds}},
		},
		Sockets: []fakeproc.Socket{
			{Local: netip.MustParseAddrPort("127.0.0.1:1939"), State: fakeproc.Listen, UID: 1000, Inode: 7},
			{Local: netip.MustParseAddrPort("[::]:1940"), State: fakeproc.Listen, UID: 1000, Inode: 8},
			{Local: netip.MustParseAddrPort("0.0.0.0:1941"), State: fakeproc.Listen, Inode: 9},
		},
	}
	if err := fakeproc.Write(root, tree); err != nil {
		t.Fatal(err)
	}
	p, err := observe.ReadProcess(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	if p.PPid != 1 || p.Pgid != 42 || p.UID != 1000 || !slices.Equal(p.Argv, []string{"/usr/bin/bun", "serve"}) ||
		p.Exe != "/usr/bin/bun" || p.Cwd != "/h" || p.Cgroup != "/user.slice/x.scope" || p.State != "S" ||
		!p.Started.Equal(boot.Add(2500*time.Millisecond)) || len(p.Unreadable) != 0 {
		t.Errorf("process 42 = %+v", p)
	}
	q, err := observe.ReadProcess(root, 43)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Unreadable, []string{"argv", "exe", "cwd"}) {
		t.Errorf("process 43 unreadable = %v, want argv exe cwd", q.Unreadable)
	}
	held, err := observe.New(observe.Env{ProcRoot: root}).HeldPorts([]int{1939, 1940, 1941, 1942})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(held[1939].Pids, []int{42}) || !slices.Equal(held[1940].Pids, []int{42}) ||
		len(held[1941].Pids) != 0 || held[1941].Unknown != 1 || len(held) != 3 {
		t.Errorf("held = %+v", held)
	}
}
