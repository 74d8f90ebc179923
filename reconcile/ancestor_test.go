package reconcile_test

import (
	"testing"

	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/state"
)

// TestAncestorRunsNotMentions: a process on a module's port whose parent
// is an editor open on the hub's cli.ts is not the hub's child (the editor
// mentions the hub, it does not run it): a blocker, no stop. The same
// process under the hub itself (bun …/cli.ts serve) is the hub's module
// and is stopped.
func TestAncestorRunsNotMentions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent []string
		stop   bool
	}{
		{"editor on the hub's source", []string{"/usr/bin/vim", "/home/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts"}, false},
		{"the hub itself", []string{"/home/op/.bun/bin/bun", "/home/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts", "serve"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s := tpFixed(tpAccounts[0])
			s.Pidfiles = nil
			uid := tpAccounts[0].uid
			s.Processes = append(s.Processes[:3],
				state.Process{Pid: 4100, PPid: 1, Pgid: 4100, Sid: 4100, UID: uid, Argv: tc.parent, Cwd: "/"},
				state.Process{Pid: 4101, PPid: 4100, Pgid: 4101, Sid: 4100, UID: uid, Argv: []string{"/usr/bin/python3", "-m", "http.server", "1940"}, Cwd: "/"})
			s.Ports[1].Listeners[0].Pids = []int{4101}
			p := reconcile.Compute(d, s)
			stopped := false
			for _, st := range tpStops(p) {
				stopped = stopped || st.Pid == 4101 || st.Pgid == 4101
			}
			if stopped != tc.stop {
				t.Fatalf("stop of pid 4101 = %v, want %v (outcome %s, holders %+v)", stopped, tc.stop, p.Outcome, p.Holders)
			}
		})
	}
}
