package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parachute/reconcile/reconcile"
)

// httpServer is an unrelated program that holds a port: Python's
// http.server, run as /usr/bin/python3 with the working directory /. Its
// argv, exe and cwd carry no parachute marker.
func httpServer(port int) []string {
	return []string{"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", strconv.Itoa(port)}
}

// TestForeignHolders puts an unrelated process on a module port, then one
// on the hub port, of a detached-era box whose own processes on those ports
// died: each run must be blocked (exit 3), name the stranger's pid and argv,
// leave it running, and stop nothing of the box.
func TestForeignHolders(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("the stranger needs /usr/bin/python3: %v", err)
	}
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	vault := moduleOf(t, sum, "vault")
	b.killPid(vault.Pid)
	b.waitFree(vault.Port)
	strangers := map[int]int{} // port -> pid
	strangers[vault.Port] = b.startStranger(httpServer(vault.Port)...)
	b.waitListening(vault.Port)

	check := func(t *testing.T, desired string) {
		b := b.on(t)
		s := b.observe()
		watched := boxPids(s)
		for _, pid := range strangers {
			watched = append(watched, pid)
		}
		before := b.procs(watched...)
		data := b.dataFiles()
		r := b.parachute("reconcile", "--desired", desired)
		if r.code != 3 || r.doc.Outcome != reconcile.OutcomeBlocked {
			t.Fatalf("exit %d, outcome %s; want 3, blocked\nsteps %v\nstderr: %s", r.code, r.doc.Outcome, stepNames(r.doc.Steps), r.stderr)
		}
		if len(r.doc.Applied) != 0 {
			t.Errorf("a blocked run applied %v", stepNames(r.doc.Applied))
		}
		for port, pid := range strangers {
			found := false
			for _, bl := range r.doc.Blockers {
				if bl.Pid == pid && bl.Port == port && strings.Contains(strings.Join(bl.Argv, " "), "http.server") {
					found = true
					t.Logf("blocker: pid %d port %d argv %q: %s (fix: %s)", bl.Pid, bl.Port, bl.Argv, bl.Reason, bl.Fix)
				}
			}
			if !found {
				t.Errorf("no blocker names the stranger on :%d (pid %d, argv %q): %+v", port, pid, httpServer(port), r.doc.Blockers)
			}
		}
		b.untouched(t, before, "a blocked run")
		if _, err := os.Lstat(b.in.HostPath(b.unitPath(hubUnit))); !os.IsNotExist(err) {
			t.Errorf("a blocked run wrote the unit: %v", err)
		}
		b.sameData(data)
	}
	t.Run("module-port", func(t *testing.T) {
		check(t, "supervised")
		check(t, "detached")
	})

	b.killPid(sum.Hub.Pid)
	b.waitFree(1939)
	strangers[1939] = b.startStranger(httpServer(1939)...)
	b.waitListening(1939)
	t.Run("hub-port", func(t *testing.T) {
		check(t, "supervised")
		check(t, "detached")
	})
}

// moduleOf finds a module in the layout summary.
func moduleOf(t *testing.T, sum layoutSummary, short string) layoutModule {
	t.Helper()
	for _, m := range sum.Modules {
		if m.Short == short {
			if m.Pid <= 1 {
				t.Fatalf("module %s has no pid in the layout summary", short)
			}
			return m
		}
	}
	t.Fatalf("no module %s in the layout summary", short)
	return layoutModule{}
}

// TestReusedPidfile writes the pids of live, unrelated `sleep` processes
// into the pidfiles of two modules that died: vault's with an mtime older
// than the sleep (the pid was reused after the file was written), surface's
// fresh (the start time fits, but nothing in argv, exe or cwd is the
// module's). Neither may be signalled; the box still converges.
func TestReusedPidfile(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	old := boxPids(b.observe())
	data := b.dataFiles()
	sleeps := map[string]int{}
	for _, short := range []string{"vault", "surface"} {
		m := moduleOf(t, sum, short)
		b.killPid(m.Pid)
		b.waitFree(m.Port)
		pid := b.startStranger("sleep", "3600")
		sleeps[short] = pid
		pidfile := filepath.Join(b.home, short, "run", short+".pid")
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.mustRun("touch", "-d", "1 hour ago", filepath.Join(b.home, "vault", "run", "vault.pid"))
	before := b.procs(sleeps["vault"], sleeps["surface"])
	for short, pid := range sleeps {
		if !before[pid].Alive {
			t.Fatalf("sleep for %s (pid %d) is not running", short, pid)
		}
	}
	s := b.observe()
	for _, pf := range s.Pidfiles {
		if pf.Service == "vault" || pf.Service == "surface" {
			t.Logf("%s: %s (%s)", pf.Path, pf.State, pf.Reason)
		}
	}

	r := b.converge("supervised")
	for _, st := range r.doc.Applied {
		if st.Pid == sleeps["vault"] || st.Pid == sleeps["surface"] {
			t.Logf("applied: %d %s %s (pid %d): %s", st.N, st.Action, st.Target, st.Pid, st.Reason)
			if st.Action == reconcile.Stop {
				t.Errorf("the reconciler stopped the reused pid %d: %s", st.Pid, st.Reason)
			}
		}
	}
	after := b.procs(sleeps["vault"], sleeps["surface"])
	for short, pid := range sleeps {
		if !after[pid].Alive || after[pid].StartTicks != before[pid].StartTicks {
			t.Errorf("the sleep in %s.pid (pid %d) did not survive the cutover", short, pid)
		}
	}
	var gone []int
	for _, pid := range old {
		if pid != moduleOf(t, sum, "vault").Pid && pid != moduleOf(t, sum, "surface").Pid {
			gone = append(gone, pid)
		}
	}
	b.checkSupervised(gone)
	b.sameData(data)
	b.noTwoHubs(0)
}
