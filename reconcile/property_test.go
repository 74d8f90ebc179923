package reconcile_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

var modulePool = []spec.Module{
	{Name: "parachute-vault", Short: "vault", Port: 1940},
	{Name: "parachute-scribe", Short: "scribe", Port: 1943},
	{Name: "parachute-app", Short: "app", Port: 1944},
	{Name: "parachute-surface", Short: "surface", Port: 1946},
}

// genWorld draws a box in any state a real one can be in: each port may be
// free, held by a detached process of ours (directly, through a wrapper, or
// by a setsid grandchild), an orphan, a stale unit, a stranger or an
// unreadable owner; pidfiles may be live, dead, reused or garbage; the unit
// may be missing, installed, active, starting, failed or hand-edited.
func genWorld(t *rapid.T) *actuatetest.World {
	var mods []spec.Module
	for _, m := range modulePool {
		if rapid.Bool().Draw(t, "has-"+m.Short) {
			mods = append(mods, m)
		}
	}
	w := actuatetest.New(home, 1939, mods)
	w.Linger = rapid.Bool().Draw(t, "linger")
	w.ManagerDown = rapid.IntRange(0, 9).Draw(t, "manager-down") == 0

	// The unit, first, so that unit-owned processes exist before others.
	switch rapid.SampledFrom([]string{"none", "installed", "active", "activating", "failed", "edited", "symlink"}).Draw(t, "unit") {
	case "installed", "active", "activating", "failed", "edited":
		content := renderedUnit(w)
		w.WriteFileNow(w.UnitPath, content)
		u := w.UnitState(w.UnitName)
		st := rapid.SampledFrom([]string{"active", "activating", "failed", ""}).Draw(t, "unit-state")
		if st == "active" {
			if err := w.Start(context.Background(), w.UnitName, w.UnitPath); err != nil {
				st = "failed"
			}
			u = w.UnitState(w.UnitName)
		}
		u.Active = st
		u.Enabled = st != ""
		w.SetUnit(u)
		if rapid.Bool().Draw(t, "edited") {
			w.WriteFileNow(w.UnitPath, strings.Replace(content, "RestartSec=5", "RestartSec=9", 1))
		}
	case "symlink":
		w.Symlink(w.UnitPath, "/srv/elsewhere/parachute-hub.service")
	}

	holders := []string{"free", "detached", "wrapper", "setsid", "orphan", "foreign", "unknown", "stale-unit", "dead-pidfile", "reused-pidfile", "garbage-pidfile"}
	ports := []struct {
		port       int
		short, arg string
	}{{1939, "hub", "/opt/hub/src/hub-server.ts"}}
	for _, m := range mods {
		ports = append(ports, struct {
			port       int
			short, arg string
		}{m.Port, m.Short, "/home/op/.bun/bin/" + m.Name})
	}
	for _, p := range ports {
		pidfile := filepath.Join(home, p.short, "run", p.short+".pid")
		if pids, unknown, _ := w.Holders(p.port); len(pids)+unknown > 0 {
			continue // the unit's hub already holds it
		}
		kind := rapid.SampledFrom(holders).Draw(t, fmt.Sprintf("holder-%d", p.port))
		argv := []string{p.arg, "serve"}
		if p.short == "hub" {
			argv = []string{"/home/op/.bun/bin/bun", p.arg, "--port", "1939"}
		}
		switch kind {
		case "detached":
			pid := w.Spawn(actuatetest.Proc{Argv: argv, Ports: []int{p.port}, IgnoreTERM: rapid.Bool().Draw(t, "ignore-term")})
			w.WriteFileNow(pidfile, fmt.Sprintf("%d\n", pid))
		case "wrapper":
			wr := w.Spawn(actuatetest.Proc{Argv: []string{"pnpm", "exec", "tsx", p.arg}})
			w.Spawn(actuatetest.Proc{PPid: wr, Pgid: wr, Argv: []string{"node", "main.js"}, Ports: []int{p.port}})
			w.WriteFileNow(pidfile, fmt.Sprintf("%d\n", wr))
		case "setsid":
			wr := w.Spawn(actuatetest.Proc{Argv: argv})
			w.Spawn(actuatetest.Proc{PPid: wr, Argv: []string{"node", "main.js"}, Ports: []int{p.port}, Sid: -1})
			w.WriteFileNow(pidfile, fmt.Sprintf("%d\n", wr))
		case "orphan":
			w.Spawn(actuatetest.Proc{Argv: argv, Ports: []int{p.port}})
		case "foreign":
			w.Spawn(actuatetest.Proc{Argv: []string{"python3", "-m", "http.server"}, Ports: []int{p.port}})
		case "unknown":
			w.Spawn(actuatetest.Proc{Argv: []string{"secret"}, Ports: []int{p.port}, Unreadable: true, UID: 0})
		case "stale-unit":
			if p.short != "hub" {
				w.SetUnit(actuatetest.Unit{Name: "parachute-" + p.short + ".service", Enabled: true, Active: "active", Argv: argv, Port: p.port})
			}
		case "dead-pidfile":
			w.WriteFileNow(pidfile, "31999\n")
		case "reused-pidfile":
			pid := w.Spawn(actuatetest.Proc{Argv: []string{"sleep", "100"}})
			w.WriteFileNow(pidfile, fmt.Sprintf("%d\n", pid))
		case "garbage-pidfile":
			w.WriteFileNow(pidfile, "not a pid\n")
		}
	}
	return w
}

// renderedUnit is the unit file the planner writes for w.
func renderedUnit(w *actuatetest.World) string {
	empty := actuatetest.New(w.Home, w.HubPort, w.Modules)
	for _, st := range reconcile.Compute(desired(empty, spec.Supervised), empty.Snapshot()).Steps {
		if st.Action == reconcile.WriteUnit {
			return st.Content
		}
	}
	panic("no write-unit step on an empty box")
}

func TestPlanSafetyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		m := rapid.SampledFrom([]spec.Model{spec.Supervised, spec.Detached, spec.Absent}).Draw(t, "model")
		d := desired(w, m)
		snap := w.Snapshot()
		p := reconcile.Compute(d, snap)

		// Same input, same plan.
		if again := reconcile.Compute(d, snap); !reflect.DeepEqual(p, again) {
			t.Fatalf("plan is not deterministic")
		}
		verdict := map[int]reconcile.Verdict{}
		for _, h := range p.Holders {
			if h.Pid > 0 {
				verdict[h.Pid] = h.Verdict
			}
		}
		firstStop, firstWrite := -1, -1
		waited := map[int]bool{}
		for i, st := range p.Steps {
			// The properties are about these kinds only.
			//exhaustive:ignore
			switch st.Action {
			case reconcile.Stop:
				if firstStop < 0 {
					firstStop = i
				}
				if st.Pid <= 1 || st.Pid == snap.Self || st.Pid == snap.Parent {
					t.Fatalf("step %d stops protected pid %d", st.N, st.Pid)
				}
				if st.Pgid == 1 || st.Pgid == 99 || st.Pgid == 100 {
					t.Fatalf("step %d signals the group of a protected process: %+v", st.N, st)
				}
				if v := verdict[st.Pid]; v == reconcile.VerdictForeign || v == reconcile.VerdictUnknown {
					t.Fatalf("step %d stops pid %d classified %s", st.N, st.Pid, v)
				}
			case reconcile.WriteUnit:
				if firstWrite < 0 {
					firstWrite = i
				}
			case reconcile.WaitPortFree:
				waited[st.Port] = true
			case reconcile.StartUnit:
				for _, port := range snap.Ports {
					if !waited[port.Port] {
						t.Fatalf("start-unit (step %d) before wait-port-free of :%d", st.N, port.Port)
					}
				}
			}
		}
		if firstStop >= 0 && firstWrite > firstStop {
			t.Fatalf("write-unit (step %d) after the first stop (step %d)", firstWrite+1, firstStop+1)
		}
		if p.Converged != (len(p.Steps) == 0 && len(p.Blockers) == 0) {
			t.Fatalf("converged=%v with %d steps and %d blockers", p.Converged, len(p.Steps), len(p.Blockers))
		}
		if p.Outcome == reconcile.OutcomeBlocked {
			for _, st := range p.Steps {
				if st.Action != reconcile.WriteUnit {
					t.Fatalf("blocked plan has a %s step", st.Action)
				}
			}
		}
		// No squatter, no blocker: applying converges within two more runs,
		// and the world never saw an unsafe act.
		if p.Outcome == reconcile.OutcomeBlocked {
			return
		}
		final, err := converge(w, d, 3)
		if err != nil {
			t.Fatalf("apply failed on an unblocked box: %v", err)
		}
		if !final.Converged && final.Outcome != reconcile.OutcomeBlocked {
			t.Fatalf("not converged after 3 runs: %s %v", final.Outcome, actions(final))
		}
		if len(w.Violations) > 0 {
			t.Fatalf("violations: %v", w.Violations)
		}
	})
}
