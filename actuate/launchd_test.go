package actuate_test

// The launchd suite: a Mac made of an actuatetest.World and launchdtest's
// stateful fake launchctl, converged through the actuator's own code path
// (observe → reconcile.Compute → Actuator{Units: LaunchdUnits}.Apply →
// observe again), the way one `parachute reconcile` run does it.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/actuate/launchdtest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

const macHome = "/Users/op/.parachute"

var macModules = []spec.Module{
	{Name: "parachute-vault", Short: "vault", Port: 1940},
	{Name: "parachute-scribe", Short: "scribe", Port: 1943},
	{Name: "parachute-surface", Short: "surface", Port: 1946},
}

// mac is one Mac box.
type mac struct {
	w  *actuatetest.World
	lc *launchdtest.Launchctl
}

func newMac(t *testing.T) *mac {
	t.Helper()
	w := actuatetest.NewMac(macHome, 1939, macModules)
	return &mac{w: w, lc: launchdtest.New(w)}
}

func (m *mac) desired(model spec.Model) spec.Desired {
	w := m.w
	return spec.Desired{
		Model: model, Home: w.Home, HubPort: w.HubPort, HubCommand: w.HubArgv,
		Manager: spec.ManagerAuto, Scope: spec.ScopeAuto, Timeouts: spec.DefaultTimeouts,
		Manifest: spec.Manifest{Path: filepath.Join(w.Home, "services.json"), Exists: true, Modules: w.Modules},
		User:     w.User,
	}
}

func (m *mac) units() *actuate.LaunchdUnits {
	return &actuate.LaunchdUnits{Launchctl: m.lc, Domain: m.w.LaunchdDomain(), Label: unitfile.LaunchdLabel,
		User: m.w.User.Name, Clock: m.w, LogPath: unitfile.LogPath(macHome)}
}

func (m *mac) actuator() *actuate.Actuator {
	w := m.w
	return &actuate.Actuator{Procs: w, Files: w, Units: m.units(), Ports: w, Health: w, Modules: w, Clock: w, Timeouts: spec.DefaultTimeouts}
}

// outcome is one run, as the CLI would report it.
type outcome struct {
	code  int // 0 converged, 1 failed (retry resumes), 3 blocked
	err   error
	plan  reconcile.Plan // what the run planned
	final reconcile.Plan // what the box needs afterwards
}

// reconcileOnce is one `parachute reconcile --desired model` run.
func (m *mac) reconcileOnce(t *testing.T, model spec.Model) outcome {
	t.Helper()
	d := m.desired(model)
	snap := m.w.Snapshot()
	p := reconcile.Compute(d, snap)
	switch p.Outcome {
	case reconcile.OutcomeConverged:
		return outcome{code: 0, plan: p, final: p}
	case reconcile.OutcomeBlocked:
		return outcome{code: 3, plan: p, final: p}
	case reconcile.OutcomeChanges, reconcile.OutcomePending, reconcile.OutcomeFailed:
		// Applied below.
	}
	_, err := m.actuator().Apply(context.Background(), p)
	final := reconcile.Compute(d, m.w.Snapshot())
	o := outcome{code: 1, err: err, plan: p, final: final}
	switch {
	case final.Converged:
		o.code = 0
	case final.Outcome == reconcile.OutcomeBlocked:
		o.code = 3
	}
	return o
}

// detachedEra lays the box out as a detached-era hub left it: hub.pid and
// hub.port, a pidfile per module, scribe behind a wrapper whose child holds
// the port.
func (m *mac) detachedEra() map[string]int {
	w := m.w
	pids := map[string]int{}
	hub := w.Spawn(actuatetest.Proc{Argv: []string{"/Users/op/.bun/bin/bun", "/Users/op/.bun/install/global/node_modules/@openparachute/hub/src/hub-server.ts", "--port", "1939"}, Pgid: 99, Ports: []int{w.HubPort}})
	w.WriteFileNow(filepath.Join(w.Home, "hub/run/hub.pid"), fmt.Sprintf("%d\n", hub))
	w.WriteFileNow(filepath.Join(w.Home, "hub/run/hub.port"), fmt.Sprintf("%d\n", w.HubPort))
	pids["hub"] = hub
	for _, mod := range w.Modules {
		if mod.Short == "scribe" {
			wrapper := w.Spawn(actuatetest.Proc{Argv: []string{"pnpm", "exec", "tsx", "/opt/" + mod.Name + "/src/main.ts"}})
			pids["scribe-child"] = w.Spawn(actuatetest.Proc{PPid: wrapper, Pgid: wrapper, Argv: []string{"node", "/opt/" + mod.Name + "/src/main.ts"}, Ports: []int{mod.Port}})
			pids["scribe"] = wrapper
		} else {
			pids[mod.Short] = w.Spawn(actuatetest.Proc{Argv: []string{"/Users/op/.bun/bin/" + mod.Name, "serve"}, Ports: []int{mod.Port}})
		}
		w.WriteFileNow(filepath.Join(w.Home, mod.Short, "run", mod.Short+".pid"), fmt.Sprintf("%d\n", pids[mod.Short]))
	}
	return pids
}

// holderOf returns the pid listening on port (0 when free).
func (m *mac) holderOf(t *testing.T, port int) int {
	t.Helper()
	pids, unknown, err := m.w.Holders(port)
	if err != nil || unknown != 0 || len(pids) > 1 {
		t.Fatalf("holders of :%d: %v, %d unknown, %v", port, pids, unknown, err)
	}
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}

// checkSupervised asserts the box runs under the hub's job: the job's pid
// holds the hub port and its children every module port, and nothing broke
// a safety rule on the way.
func (m *mac) checkSupervised(t *testing.T) launchdtest.JobInfo {
	t.Helper()
	job, ok := m.lc.Job(unitfile.LaunchdLabel)
	if !ok || job.PID == 0 {
		t.Fatalf("hub job not running: %+v loaded=%v", job, ok)
	}
	if job.Path != m.w.UnitPath {
		t.Errorf("job loaded from %s, want %s", job.Path, m.w.UnitPath)
	}
	if got := m.holderOf(t, 1939); got != job.PID {
		t.Errorf(":1939 held by pid %d, want the job's pid %d", got, job.PID)
	}
	for _, mod := range macModules {
		pid := m.holderOf(t, mod.Port)
		p, ok := m.w.Proc(pid)
		if !ok || p.PPid != job.PID {
			t.Errorf(":%d held by pid %d (%+v), want a child of the job's pid %d", mod.Port, pid, p, job.PID)
		}
	}
	if len(m.w.Violations) > 0 {
		t.Errorf("safety violations: %v", m.w.Violations)
	}
	return job
}

func (m *mac) countCalls(prefix string) int {
	n := 0
	for _, c := range m.lc.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestLaunchdCutover(t *testing.T) {
	m := newMac(t)
	old := m.detachedEra()
	o := m.reconcileOnce(t, spec.Supervised)
	if o.code != 0 || o.err != nil {
		t.Fatalf("cutover: exit %d, %v; still needs %+v", o.code, o.err, o.final.Steps)
	}
	job := m.checkSupervised(t)
	for name, pid := range old {
		if m.w.Alive(pid) {
			t.Errorf("detached %s (pid %d) still runs", name, pid)
		}
	}
	for _, path := range []string{"hub/run/hub.pid", "hub/run/hub.port", "vault/run/vault.pid", "scribe/run/scribe.pid"} {
		if _, ok := m.w.File(filepath.Join(macHome, path)); ok {
			t.Errorf("%s still exists", path)
		}
	}
	// The plist on disk is the hub's, by decoded value.
	data, ok := m.w.File(m.w.UnitPath)
	if !ok {
		t.Fatal("no plist written")
	}
	pl, err := unitfile.ParseLaunchd([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := pl["EnvironmentVariables"].(map[string]any)
	checks := map[string][2]any{
		"Label":             {pl["Label"], "computer.parachute.hub"},
		"ProgramArguments":  {fmt.Sprint(pl["ProgramArguments"]), fmt.Sprint(m.w.HubArgv)},
		"KeepAlive":         {pl["KeepAlive"], true},
		"RunAtLoad":         {pl["RunAtLoad"], true},
		"ThrottleInterval":  {pl["ThrottleInterval"], int64(10)},
		"StandardOutPath":   {pl["StandardOutPath"], macHome + "/hub/logs/hub.log"},
		"StandardErrorPath": {pl["StandardErrorPath"], macHome + "/hub/logs/hub.log"},
		"PARACHUTE_HOME":    {env["PARACHUTE_HOME"], macHome},
		"PORT":              {env["PORT"], "1939"},
		"BIND_HOST":         {env["PARACHUTE_BIND_HOST"], "127.0.0.1"},
		"BUN_INSTALL":       {env["BUN_INSTALL"], "/Users/op/.bun"},
	}
	for k, c := range checks {
		if c[0] != c[1] {
			t.Errorf("plist %s = %#v, want %#v", k, c[0], c[1])
		}
	}
	if p, _ := env["PATH"].(string); !strings.Contains(p, "/opt/homebrew/bin") {
		t.Errorf("plist PATH %q lacks the arm64 Homebrew bin", p)
	}
	// Owner reports the job the way the health wait used it.
	own, err := m.units().Owner(context.Background(), unitfile.LaunchdLabel)
	if err != nil || own.MainPID != job.PID || own.Failed || !strings.HasPrefix(own.State, "running") {
		t.Errorf("Owner = %+v, %v; want pid %d running", own, err, job.PID)
	}
	if m.countCalls("enable ") != 1 || m.countCalls("bootstrap ") != 1 || m.countCalls("kickstart -k ") != 1 {
		t.Errorf("launchctl calls: %v", m.lc.Mutations())
	}
}

func TestLaunchdRerunChangesNothing(t *testing.T) {
	m := newMac(t)
	m.detachedEra()
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("cutover: exit %d, %v", o.code, o.err)
	}
	mtime, _ := m.w.ModTime(m.w.UnitPath)
	mutations := len(m.lc.Mutations())
	job := m.checkSupervised(t)
	m.w.Sleep(context.Background(), time.Minute) // a cron run a minute later
	o := m.reconcileOnce(t, spec.Supervised)
	if o.code != 0 || len(o.plan.Steps) != 0 || !o.plan.Converged {
		t.Fatalf("rerun: exit %d, outcome %s, steps %+v, blockers %+v", o.code, o.plan.Outcome, o.plan.Steps, o.plan.Blockers)
	}
	if again, _ := m.w.ModTime(m.w.UnitPath); !again.Equal(mtime) {
		t.Errorf("plist rewritten on a converged rerun: %v → %v", mtime, again)
	}
	if got := m.lc.Mutations(); len(got) != mutations {
		t.Errorf("converged rerun changed launchd: %v", got[mutations:])
	}
	if after := m.checkSupervised(t); after.PID != job.PID {
		t.Errorf("hub restarted by a converged rerun: pid %d → %d", job.PID, after.PID)
	}
}

func TestLaunchdRollbackThenCutoverRace(t *testing.T) {
	m := newMac(t)
	m.lc.Window = 8 * time.Second // longer than the rollback takes
	m.detachedEra()
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("cutover: exit %d, %v", o.code, o.err)
	}
	job := m.checkSupervised(t)

	o := m.reconcileOnce(t, spec.Detached)
	if o.code != 0 || o.err != nil {
		t.Fatalf("rollback: exit %d, %v; still needs %+v", o.code, o.err, o.final.Steps)
	}
	if _, ok := m.lc.Job(unitfile.LaunchdLabel); ok {
		t.Error("hub job still loaded after the rollback")
	}
	if _, ok := m.w.File(m.w.UnitPath); ok {
		t.Error("plist still on disk after the rollback")
	}
	if m.lc.Disabled(unitfile.LaunchdLabel) {
		t.Error("rollback left the hub's label disabled in launchd")
	}
	if m.w.Alive(job.PID) {
		t.Errorf("the job's hub (pid %d) survived the bootout", job.PID)
	}
	pidData, _ := m.w.File(filepath.Join(macHome, "hub/run/hub.pid"))
	var detached int
	fmt.Sscan(pidData, &detached)
	if detached == 0 || m.holderOf(t, 1939) != detached {
		t.Fatalf("detached hub: hub.pid %q, :1939 held by %d", pidData, m.holderOf(t, 1939))
	}

	// At once back to supervised: the bootstrap lands in launchd's
	// bootout window and must be retried, not reported.
	bootstraps := m.countCalls("bootstrap ")
	o = m.reconcileOnce(t, spec.Supervised)
	if o.code != 0 || o.err != nil {
		t.Fatalf("cutover inside the bootout window: exit %d, %v", o.code, o.err)
	}
	if n := m.countCalls("bootstrap ") - bootstraps; n < 2 {
		t.Errorf("bootstrap ran %d times: the window was not hit, the test proves nothing", n)
	}
	m.checkSupervised(t)
	if m.w.Alive(detached) {
		t.Errorf("detached hub pid %d survived the second cutover", detached)
	}
}

func TestLaunchdBootstrapWindowOutlastsRetries(t *testing.T) {
	m := newMac(t)
	m.lc.Window = time.Minute
	m.lc.WindowCode = launchdtest.ErrInProgress
	m.detachedEra()
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("cutover: exit %d, %v", o.code, o.err)
	}
	if o := m.reconcileOnce(t, spec.Detached); o.code != 0 {
		t.Fatalf("rollback: exit %d, %v", o.code, o.err)
	}
	o := m.reconcileOnce(t, spec.Supervised)
	var se *actuate.StepError
	if o.code != 1 || !errors.As(o.err, &se) || se.Step.Action != reconcile.StartUnit {
		t.Fatalf("want exit 1 with a start-unit StepError, got exit %d: %v", o.code, o.err)
	}
	for _, want := range []string{"error 37 (Operation already in progress)", "kept failing for 15s"} {
		if !strings.Contains(o.err.Error(), want) {
			t.Errorf("error %q lacks %q", o.err, want)
		}
	}
	if _, ok := m.w.File(m.w.UnitPath); !ok {
		t.Error("the plist was removed after a failed start; the next run needs it")
	}
	// The next run, once launchd has settled, resumes and converges.
	m.w.Sleep(context.Background(), time.Minute)
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("resume: exit %d, %v", o.code, o.err)
	}
	m.checkSupervised(t)
}

func TestLaunchdJobFailsToStart(t *testing.T) {
	m := newMac(t)
	m.detachedEra()
	bun := m.w.HubArgv[0]
	m.lc.Break(bun, 78)
	o := m.reconcileOnce(t, spec.Supervised)
	var se *actuate.StepError
	if o.code != 1 || !errors.As(o.err, &se) || se.Step.Action != reconcile.StartUnit {
		t.Fatalf("want exit 1 with a start-unit StepError, got exit %d: %v", o.code, o.err)
	}
	var jf *actuate.JobFailedError
	if !errors.As(o.err, &jf) || jf.ExitCode != 78 {
		t.Fatalf("error is not a JobFailedError with code 78: %v", o.err)
	}
	for _, want := range []string{"exited at once with code 78", "EX_CONFIG", bun, "ThrottleInterval", "hub/logs/hub.log"} {
		if !strings.Contains(o.err.Error(), want) {
			t.Errorf("error %q lacks %q", o.err, want)
		}
	}
	// launchd keeps respawning it: the next observation calls it failed.
	own, err := m.units().Owner(context.Background(), unitfile.LaunchdLabel)
	if err != nil || !own.Failed || own.MainPID != 0 {
		t.Errorf("Owner of a crash-looping job = %+v, %v; want Failed", own, err)
	}
	if o.final.Converged || len(o.final.Steps) == 0 {
		t.Errorf("a failed hub job reads as converged: %+v", o.final)
	}
	// Fixed, the next run converges: the plist stayed.
	m.lc.Repair(bun)
	m.w.Sleep(context.Background(), 10*time.Second)
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("after the repair: exit %d, %v; needs %+v", o.code, o.err, o.final.Steps)
	}
	m.checkSupervised(t)
}

func TestLaunchdBootstrapExitsZeroWithoutLoading(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		m := newMac(t)
		m.detachedEra()
		m.lc.FailNext("bootstrap", 0, "")
		if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
			t.Fatalf("exit %d, %v", o.code, o.err)
		}
		if n := m.countCalls("bootstrap "); n != 2 {
			t.Errorf("bootstrap ran %d times, want a retry after the silent failure", n)
		}
		m.checkSupervised(t)
	})
	t.Run("always", func(t *testing.T) {
		m := newMac(t)
		m.detachedEra()
		for range 100 {
			m.lc.FailNext("bootstrap", 0, "Load failed: 5: Input/output error\n")
		}
		o := m.reconcileOnce(t, spec.Supervised)
		if o.code != 1 || o.err == nil {
			t.Fatalf("exit %d, %v; want a failed start", o.code, o.err)
		}
		for _, want := range []string{"exited 0 but launchd has not loaded computer.parachute.hub", "Load failed: 5", "kept failing"} {
			if !strings.Contains(o.err.Error(), want) {
				t.Errorf("error %q lacks %q", o.err, want)
			}
		}
	})
}

func TestLaunchdNoGUISession(t *testing.T) {
	m := newMac(t)
	m.detachedEra()
	m.lc.Logout() // over SSH: gui/501 does not exist
	o := m.reconcileOnce(t, spec.Supervised)
	if o.code != 3 {
		t.Fatalf("exit %d, want 3 (blocked); plan %+v", o.code, o.plan)
	}
	found := false
	for _, b := range o.plan.Blockers {
		found = found || strings.Contains(b.Reason, "gui/501")
	}
	if !found {
		t.Errorf("no blocker names gui/501: %+v", o.plan.Blockers)
	}
	if len(m.lc.Mutations()) != 0 {
		t.Errorf("a blocked run changed launchd: %v", m.lc.Mutations())
	}

	// The actuator says the same thing, in full, if the session ends
	// between observing and starting.
	for _, code := range []int{launchdtest.ErrDomainAction, launchdtest.ErrNoDomain, launchdtest.ErrNoService} {
		m.lc.NoDomainCode = code
		err := m.units().Start(context.Background(), unitfile.LaunchdLabel, m.w.UnitPath)
		var ng *actuate.NoGUIError
		if !errors.As(err, &ng) {
			t.Fatalf("print answering %d: Start = %v, want a NoGUIError", code, err)
		}
		for _, want := range []string{"gui/501 does not exist", "op has no GUI login session", "Screen Sharing",
			"--desired detached", "user/501", "error 134"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("NoGUIError %q lacks %q", err, want)
			}
		}
	}
}

func TestLaunchdStaleAgents(t *testing.T) {
	m := newMac(t)
	m.detachedEra()
	// An older install's vault agent: its plist in ~/Library/LaunchAgents,
	// loaded by the last login, but its vault is the detached one above
	// (KeepAlive keeps trying); a notes agent on disk, never loaded.
	vault := m.agent(t, "vault", []string{"/Users/op/.bun/bin/parachute-vault", "serve"}, 1940)
	m.agent(t, "notes", []string{"/Users/op/.bun/bin/parachute-notes", "serve"}, 1942)
	if _, _, code, _ := m.lc.Run(context.Background(), "bootstrap", "gui/501", vault); code != 0 {
		t.Fatalf("setup: bootstrap vault agent: %d", code)
	}
	p := reconcile.Compute(m.desired(spec.Supervised), m.w.Snapshot())
	var disables []string
	for _, st := range p.Steps {
		if st.Action == reconcile.DisableUnit {
			disables = append(disables, st.Unit)
		}
	}
	if want := []string{"computer.parachute.notes", "computer.parachute.vault"}; !slices.Equal(disables, want) {
		t.Fatalf("disable-unit steps for %v, want %v", disables, want)
	}
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("exit %d, %v; needs %+v", o.code, o.err, o.final.Steps)
	}
	m.checkSupervised(t)
	for _, label := range []string{"computer.parachute.vault", "computer.parachute.notes"} {
		if _, ok := m.lc.Job(label); ok {
			t.Errorf("%s still loaded", label)
		}
		if !m.lc.Disabled(label) {
			t.Errorf("%s not disabled: the next login would load it again", label)
		}
		if _, ok := m.w.File(m.w.AgentPath(label)); !ok {
			t.Errorf("%s's plist was deleted; it is not ours", label)
		}
	}
	// The next login loads the hub's agent only.
	m.lc.Logout()
	m.lc.Login()
	if _, ok := m.lc.Job("computer.parachute.vault"); ok {
		t.Error("the stale vault agent came back at login")
	}
	m.checkSupervised(t)
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 || len(o.plan.Steps) != 0 {
		t.Errorf("after a new login: exit %d, steps %+v", o.code, o.plan.Steps)
	}
}

// agent writes a stale per-module plist and returns its path.
func (m *mac) agent(t *testing.T, short string, argv []string, port int) string {
	t.Helper()
	label := "computer.parachute." + short
	var args strings.Builder
	for _, a := range argv {
		fmt.Fprintf(&args, "<string>%s</string>", a)
	}
	plist := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>%s</string><key>ProgramArguments</key><array>%s</array>
<key>EnvironmentVariables</key><dict><key>PORT</key><string>%d</string></dict>
<key>RunAtLoad</key><true/><key>KeepAlive</key><true/></dict></plist>
`, label, args.String(), port)
	path := m.w.AgentPath(label)
	m.w.WriteFileNow(path, plist)
	return path
}

func TestLaunchdDisabledLabelIsEnabledFirst(t *testing.T) {
	m := newMac(t)
	m.detachedEra()
	// Someone ran `launchctl disable gui/501/computer.parachute.hub`:
	// bootstrap alone would answer 5 until the end of time.
	if _, _, code, _ := m.lc.Run(context.Background(), "disable", "gui/501/computer.parachute.hub"); code != 0 {
		t.Fatal("setup: disable")
	}
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("exit %d, %v", o.code, o.err)
	}
	m.checkSupervised(t)
	if m.lc.Disabled(unitfile.LaunchdLabel) {
		t.Error("label still disabled")
	}
	if n := m.countCalls("bootstrap "); n != 1 {
		t.Errorf("bootstrap ran %d times; enable should have come first", n)
	}
}

func TestLaunchdReloadsAChangedPlist(t *testing.T) {
	m := newMac(t)
	// An older hub's agent: loaded from a plist with another bun, which
	// no longer exists; launchd respawns it every 10 s, failing.
	old := "/usr/local/old/bun"
	m.lc.Break(old, 78)
	argv := append([]string{old}, m.w.HubArgv[1:]...)
	var args strings.Builder
	for _, a := range argv {
		fmt.Fprintf(&args, "<string>%s</string>", a)
	}
	m.w.WriteFileNow(m.w.UnitPath, fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>computer.parachute.hub</string><key>ProgramArguments</key><array>%s</array>
<key>RunAtLoad</key><true/><key>KeepAlive</key><true/></dict></plist>
`, args.String()))
	if _, _, code, _ := m.lc.Run(context.Background(), "bootstrap", "gui/501", m.w.UnitPath); code != 0 {
		t.Fatal("setup: bootstrap")
	}
	p := reconcile.Compute(m.desired(spec.Supervised), m.w.Snapshot())
	if first, _ := firstAction(p); first != reconcile.WriteUnit {
		t.Fatalf("plan %+v does not rewrite the plist first", p.Steps)
	}
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("exit %d, %v", o.code, o.err)
	}
	job := m.checkSupervised(t)
	if n := m.countCalls("bootout "); n < 1 {
		t.Error("the job loaded from the old plist was not booted out: launchd would keep running the old definition")
	}
	if m.countCalls("bootstrap ") < 3 {
		t.Errorf("bootstrap did not meet the bootout window (calls %v)", m.lc.Mutations())
	}
	if p, _ := m.w.Proc(job.PID); p.Argv[0] != m.w.HubArgv[0] {
		t.Errorf("job runs %v, not the new plist's program", p.Argv)
	}
}

func firstAction(p reconcile.Plan) (reconcile.Action, bool) {
	if len(p.Steps) == 0 {
		return "", false
	}
	return p.Steps[0].Action, true
}

func TestLaunchdAbsentRemovesEverything(t *testing.T) {
	m := newMac(t)
	m.detachedEra()
	if o := m.reconcileOnce(t, spec.Supervised); o.code != 0 {
		t.Fatalf("cutover: exit %d, %v", o.code, o.err)
	}
	o := m.reconcileOnce(t, spec.Absent)
	if o.code != 0 {
		t.Fatalf("absent: exit %d, %v; needs %+v", o.code, o.err, o.final.Steps)
	}
	for _, port := range []int{1939, 1940, 1943, 1946} {
		if pid := m.holderOf(t, port); pid != 0 {
			t.Errorf(":%d still held by pid %d", port, pid)
		}
	}
	if _, ok := m.lc.Job(unitfile.LaunchdLabel); ok {
		t.Error("hub job still loaded")
	}
	if _, ok := m.w.File(m.w.UnitPath); ok {
		t.Error("plist still on disk")
	}
}

func TestLaunchctlErrorSentences(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"bootstrap", "gui/501", "/p.plist"}, 5, []string{"error 5 (Input/output error)", "few seconds", "plutil -lint", "print-disabled gui/501"}},
		{[]string{"bootstrap", "gui/501", "/p.plist"}, 37, []string{"error 37 (Operation already in progress)", "again in a few seconds"}},
		{[]string{"bootstrap", "gui/501", "/p.plist"}, 125, []string{"error 125 (Domain does not support specified action)", "logged in at the Mac's desktop"}},
		{[]string{"kickstart", "-k", "gui/501/x"}, 113, []string{"error 113 (Could not find specified service)", "not loaded in gui/501"}},
		{[]string{"bootstrap", "user/501", "/p.plist"}, 134, []string{"error 134 (Service cannot load in requested session)", "Aqua"}},
		{[]string{"bootstrap", "gui/501", "/p.plist"}, 1, []string{"error 1 (Operation not permitted)", "without sudo"}},
		{[]string{"bootstrap", "gui/501", "/p.plist"}, 122, []string{"bad ownership", "chmod 644"}},
		{[]string{"bootout", "gui/501/x"}, 3, []string{"error 3 (No such process)", "not loaded"}},
		{[]string{"kickstart", "gui/501/x"}, 119, []string{"Service is disabled", "launchctl enable"}},
		{[]string{"print", "gui/501"}, 201, []string{"error 201 (weird)"}},
	}
	for _, c := range cases {
		e := &actuate.LaunchctlError{Args: c.args, Code: c.code, Stderr: "weird", Domain: strings.Split(c.args[len(c.args)-1], "/")[0] + "/501", User: "op"}
		if c.args[1] == "gui/501" || c.args[1] == "user/501" {
			e.Domain = c.args[1]
		}
		for _, w := range c.want {
			if !strings.Contains(e.Error(), w) {
				t.Errorf("%d: %q lacks %q", c.code, e.Error(), w)
			}
		}
	}
	if !(&actuate.LaunchctlError{Code: 5}).Transient() || !(&actuate.LaunchctlError{Code: 37}).Transient() || (&actuate.LaunchctlError{Code: 125}).Transient() {
		t.Error("only 5 and 37 are transient")
	}
}
