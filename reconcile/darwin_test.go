package reconcile_test

// The planner on macOS, run on any platform: snapshots with GOOS "darwin"
// from an actuatetest Mac whose launchd is launchdtest's fake, read through
// the real observer's launchctl parsing.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/actuate/launchdtest"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

const macHome = "/Users/op/.parachute"

func newMacBox(t *testing.T) (*actuatetest.World, *launchdtest.Launchctl) {
	t.Helper()
	w := actuatetest.NewMac(macHome, 1939, threeModules)
	return w, launchdtest.New(w)
}

// macDetachedEra is detachedEra with the hub started from the installed
// package, as on a Mac.
func macDetachedEra(w *actuatetest.World) map[string]int {
	pids := map[string]int{}
	pids["hub"] = w.Spawn(actuatetest.Proc{Argv: []string{"/Users/op/.bun/bin/bun", "/Users/op/.bun/install/global/node_modules/@openparachute/hub/src/hub-server.ts"}, Ports: []int{w.HubPort}})
	w.WriteFileNow(filepath.Join(w.Home, "hub/run/hub.pid"), fmt.Sprintf("%d\n", pids["hub"]))
	for _, m := range w.Modules {
		pids[m.Short] = w.Spawn(actuatetest.Proc{Argv: []string{"/Users/op/.bun/bin/" + m.Name, "serve"}, Ports: []int{m.Port}})
		w.WriteFileNow(filepath.Join(w.Home, m.Short, "run", m.Short+".pid"), fmt.Sprintf("%d\n", pids[m.Short]))
	}
	return pids
}

// macSupervised installs the plist the planner would write and loads it,
// as a finished cutover leaves the box; it returns the job's pid.
func macSupervised(t *testing.T, w *actuatetest.World, lc *launchdtest.Launchctl) int {
	t.Helper()
	loc, err := unitfile.Locate("darwin", desired(w, spec.Supervised))
	if err != nil {
		t.Fatal(err)
	}
	data, err := unitfile.Render(loc, unitfile.NewHub("darwin", "arm64", desired(w, spec.Supervised), loc))
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFileNow(loc.Path, string(data))
	if _, errOut, code, _ := lc.Run(context.Background(), "bootstrap", loc.Scope, loc.Path); code != 0 {
		t.Fatalf("setup: bootstrap: %d %s", code, errOut)
	}
	job, ok := lc.Job(unitfile.LaunchdLabel)
	if !ok || job.PID == 0 {
		t.Fatalf("setup: hub job not running: %+v", job)
	}
	return job.PID
}

func step(p reconcile.Plan, a reconcile.Action) (reconcile.Step, bool) {
	for _, st := range p.Steps {
		if st.Action == a {
			return st, true
		}
	}
	return reconcile.Step{}, false
}

func TestDarwinPlanWritesThePlist(t *testing.T) {
	for _, arch := range []string{"arm64", "amd64"} {
		w, _ := newMacBox(t)
		macDetachedEra(w)
		snap := w.Snapshot()
		snap.GOARCH = arch
		if snap.GOOS != "darwin" || snap.Unit.Manager != "launchd" || snap.Unit.Scope != "gui/501" {
			t.Fatalf("snapshot is not a Mac's: %s %+v", snap.GOOS, snap.Unit)
		}
		p := reconcile.Compute(desired(w, spec.Supervised), snap)
		if p.Outcome != reconcile.OutcomeChanges {
			t.Fatalf("%s: outcome %s, blockers %+v", arch, p.Outcome, p.Blockers)
		}
		wu, ok := step(p, reconcile.WriteUnit)
		if !ok || p.Steps[0].Action != reconcile.WriteUnit {
			t.Fatalf("%s: write-unit is not the first step: %v", arch, actions(p))
		}
		if wu.Path != "/Users/op/Library/LaunchAgents/computer.parachute.hub.plist" || wu.Unit != "computer.parachute.hub" || wu.Scope != "gui/501" || wu.Linger {
			t.Errorf("%s: write-unit %+v", arch, wu)
		}
		job, err := unitfile.ParseLaunchd([]byte(wu.Content))
		if err != nil {
			t.Fatalf("%s: the plist does not decode: %v", arch, err)
		}
		env, _ := job["EnvironmentVariables"].(map[string]any)
		brew := map[string]string{"arm64": "/opt/homebrew/bin", "amd64": "/usr/local/bin"}[arch]
		wantPath := "/Users/op/.bun/bin:/usr/local/bin:/usr/bin:/bin:/Users/op/.local/bin"
		if brew != "/usr/local/bin" {
			wantPath += ":" + brew
		}
		want := map[string]any{
			"Label": "computer.parachute.hub", "RunAtLoad": true, "KeepAlive": true, "ThrottleInterval": int64(10),
			"StandardOutPath": macHome + "/hub/logs/hub.log", "StandardErrorPath": macHome + "/hub/logs/hub.log",
			"ProgramArguments": fmt.Sprint(w.HubArgv),
			"env.PATH":         wantPath, "env.PARACHUTE_HOME": macHome, "env.PORT": "1939",
			"env.PARACHUTE_BIND_HOST": "127.0.0.1", "env.BUN_INSTALL": "/Users/op/.bun",
		}
		for k, v := range want {
			var got any
			switch {
			case strings.HasPrefix(k, "env."):
				got = env[strings.TrimPrefix(k, "env.")]
			case k == "ProgramArguments":
				got = fmt.Sprint(job[k])
			default:
				got = job[k]
			}
			if got != v {
				t.Errorf("%s: plist %s = %#v, want %#v", arch, k, got, v)
			}
		}
		if len(env) != 5 {
			t.Errorf("%s: plist has %d environment variables, want the hub's five: %v", arch, len(env), env)
		}
		// The start is launchd's: a start-unit for the label, after every
		// port wait.
		su, ok := step(p, reconcile.StartUnit)
		if !ok || su.Unit != "computer.parachute.hub" || su.Scope != "gui/501" {
			t.Errorf("%s: start-unit %+v", arch, su)
		}
	}
}

func TestDarwinOwnershipIsTheJobsPidTree(t *testing.T) {
	w, lc := newMacBox(t)
	// A leftover vault from an earlier run, re-parented to launchd (pid 1),
	// holds :1940 before the hub's job starts; the job's hub then boots
	// scribe and surface as its children.
	leftover := w.Spawn(actuatetest.Proc{Argv: []string{"/Users/op/.bun/bin/parachute-vault", "serve"}, Ports: []int{1940}})
	hub := macSupervised(t, w, lc)
	snap := w.Snapshot()
	if snap.Unit.MainPID != hub || snap.Unit.ActiveState != "active" || snap.Unit.SubState != "running" {
		t.Fatalf("unit %+v, want the running job with pid %d", snap.Unit, hub)
	}
	p := reconcile.Compute(desired(w, spec.Supervised), snap)
	verdict := map[int]reconcile.Holder{}
	for _, h := range p.Holders {
		verdict[h.Port] = h
	}
	for _, port := range []int{1939, 1943, 1946} {
		h := verdict[port]
		if h.Verdict != reconcile.VerdictUnit || !strings.Contains(h.Evidence, fmt.Sprintf("(pid %d)", hub)) {
			t.Errorf(":%d: %s (%s), want unit-owned through the job's pid %d", port, h.Verdict, h.Evidence, hub)
		}
	}
	if h := verdict[1940]; h.Pid != leftover || h.Verdict != reconcile.VerdictOrphan {
		t.Errorf(":1940: %+v, want the leftover %d as an orphan (its parent is launchd, not the job)", h, leftover)
	}
	stop, ok := step(p, reconcile.Stop)
	if !ok || stop.Pid != leftover {
		t.Fatalf("no stop of the leftover: %v", actions(p))
	}
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop && st.Pid == hub || st.Action == reconcile.StartUnit || st.Action == reconcile.StopUnit {
			t.Errorf("the running job is touched: %s %s", st.Action, st.Target)
		}
	}

	// Once the leftover is gone and the hub's supervisor has restarted
	// vault under itself, the box is converged.
	w.Signal(leftover, 0, 15)
	w.StopTree(hub) // KeepAlive: launchd starts the hub again, which boots all three
	w.Sleep(context.Background(), 10*time.Second)
	if p := reconcile.Compute(desired(w, spec.Supervised), w.Snapshot()); !p.Converged {
		t.Fatalf("not converged: %s %v %+v", p.Outcome, actions(p), p.Blockers)
	}
}

func TestDarwinStaleAgents(t *testing.T) {
	w, lc := newMacBox(t)
	macDetachedEra(w)
	agent := func(short string, port int, load bool) {
		label := "computer.parachute." + short
		path := w.AgentPath(label)
		w.WriteFileNow(path, fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>%s</string>
<key>ProgramArguments</key><array><string>/Users/op/.bun/bin/parachute-%s</string><string>serve</string></array>
<key>EnvironmentVariables</key><dict><key>PORT</key><string>%d</string></dict>
<key>RunAtLoad</key><true/><key>KeepAlive</key><true/></dict></plist>
`, label, short, port))
		if load {
			if _, errOut, code, _ := lc.Run(context.Background(), "bootstrap", "gui/501", path); code != 0 {
				t.Fatalf("setup: bootstrap %s: %d %s", label, code, errOut)
			}
		}
	}
	// app: loaded and listening on a port no module declares; notes: on
	// disk, loaded at the next login; agent: on disk but disabled.
	agent("app", 1944, true)
	agent("notes", 1942, false)
	agent("agent", 1945, false)
	lc.Run(context.Background(), "disable", "gui/501/computer.parachute.agent")
	snap := w.Snapshot()
	got := map[string]state.StaleUnit{}
	for _, su := range snap.StaleUnits {
		got[su.Name] = su
	}
	if su := got["computer.parachute.app"]; su.ActiveState != "active" || su.MainPID == 0 || su.UnitFileState != "enabled" {
		t.Errorf("app agent seen as %+v", su)
	}
	if su := got["computer.parachute.agent"]; su.UnitFileState != "disabled" || su.LoadState != "" {
		t.Errorf("disabled agent seen as %+v", su)
	}
	p := reconcile.Compute(desired(w, spec.Supervised), snap)
	var disabled []string
	firstStop, _ := indexOf(p, reconcile.Stop)
	for i, st := range p.Steps {
		if st.Action != reconcile.DisableUnit {
			continue
		}
		disabled = append(disabled, st.Unit)
		if st.Scope != "gui/501" || i > firstStop {
			t.Errorf("disable-unit %+v at %d, after the first stop at %d", st, i, firstStop)
		}
	}
	if strings.Join(disabled, ",") != "computer.parachute.app,computer.parachute.notes" {
		t.Errorf("disable-unit for %v, want app (running) and notes (would load at login), not the disabled agent", disabled)
	}
}

func TestDarwinStaleAgentHoldingAModulePort(t *testing.T) {
	w, lc := newMacBox(t)
	path := w.AgentPath("computer.parachute.vault")
	w.WriteFileNow(path, `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>computer.parachute.vault</string>
<key>ProgramArguments</key><array><string>/Users/op/.bun/bin/parachute-vault</string><string>serve</string></array>
<key>EnvironmentVariables</key><dict><key>PORT</key><string>1940</string></dict>
<key>RunAtLoad</key><true/><key>KeepAlive</key><true/></dict></plist>
`)
	if _, _, code, _ := lc.Run(context.Background(), "bootstrap", "gui/501", path); code != 0 {
		t.Fatal("setup: bootstrap")
	}
	job, _ := lc.Job("computer.parachute.vault")
	p := reconcile.Compute(desired(w, spec.Supervised), w.Snapshot())
	for _, h := range p.Holders {
		if h.Port == 1940 && (h.Pid != job.PID || h.Verdict != reconcile.VerdictStaleUnit) {
			t.Errorf(":1940 holder %+v, want the agent's pid %d as stale-unit", h, job.PID)
		}
	}
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop && st.Pid == job.PID {
			t.Errorf("the agent's process is signalled; KeepAlive would restart it: %+v", st)
		}
	}
	if _, ok := step(p, reconcile.DisableUnit); !ok {
		t.Errorf("no disable-unit: %v", actions(p))
	}
}

func TestDarwinNoGUISessionBlocks(t *testing.T) {
	w, lc := newMacBox(t)
	macDetachedEra(w)
	lc.Logout()
	snap := w.Snapshot()
	if snap.Unit.Available {
		t.Fatalf("unit available without gui/501: %+v", snap.Unit)
	}
	p := reconcile.Compute(desired(w, spec.Supervised), snap)
	if p.Outcome != reconcile.OutcomeBlocked {
		t.Fatalf("outcome %s, want blocked", p.Outcome)
	}
	var reasons []string
	for _, b := range p.Blockers {
		reasons = append(reasons, b.Reason)
	}
	if all := strings.Join(reasons, "\n"); !strings.Contains(all, "gui/501") || !strings.Contains(all, "GUI") {
		t.Errorf("blockers do not say the GUI domain is missing: %q", all)
	}
	for _, st := range p.Steps {
		if st.Action != reconcile.WriteUnit {
			t.Errorf("a blocked plan has %s", st.Action)
		}
	}
}

// TestLaunchdManagerOnLinuxPreviews is what `parachute reconcile --manager
// launchd --plan` shows on Linux: the plist, and a blocker.
func TestLaunchdManagerOnLinuxPreviews(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	snap := w.Snapshot() // a Linux snapshot
	q := observe.LocateUnit("darwin")(desired(w, spec.Supervised))
	rep, err := observe.Managers{GOOS: "linux"}.ObserveUnit(context.Background(), observe.UnitQuery{Manager: q.Manager, Scope: q.Scope, Name: q.Name, User: q.User})
	if err != nil {
		t.Fatal(err)
	}
	snap.Unit, snap.StaleUnits, snap.Linger = rep.Unit, []state.StaleUnit{}, nil
	d := desired(w, spec.Supervised)
	d.Manager = spec.ManagerLaunchd
	p := reconcile.Compute(d, snap)
	if p.Outcome != reconcile.OutcomeBlocked || len(p.Steps) != 1 || p.Steps[0].Action != reconcile.WriteUnit {
		t.Fatalf("outcome %s, steps %v; want blocked with the write-unit preview", p.Outcome, actions(p))
	}
	if _, err := unitfile.ParseLaunchd([]byte(p.Steps[0].Content)); err != nil || !strings.Contains(p.Steps[0].Content, "computer.parachute.hub") {
		t.Errorf("preview is not the hub's plist (%v): %s", err, p.Steps[0].Content)
	}
	found := false
	for _, b := range p.Blockers {
		found = found || strings.Contains(b.Reason, "launchd") && strings.Contains(b.Reason, "linux")
	}
	if !found {
		t.Errorf("no blocker says launchd is not available on linux: %+v", p.Blockers)
	}
}
