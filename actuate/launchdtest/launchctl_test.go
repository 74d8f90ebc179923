package launchdtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/actuate/launchdtest"
	"github.com/parachute/reconcile/internal/launchctl"
	"github.com/parachute/reconcile/spec"
)

const plist = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>computer.parachute.vault</string>
<key>ProgramArguments</key><array><string>/Users/op/.bun/bin/parachute-vault</string><string>serve</string></array>
<key>EnvironmentVariables</key><dict><key>PORT</key><string>1940</string></dict>
<key>RunAtLoad</key><true/><key>KeepAlive</key><true/><key>ThrottleInterval</key><integer>10</integer></dict></plist>
`

const target = "gui/501/computer.parachute.vault"

type box struct {
	t    *testing.T
	w    *actuatetest.World
	lc   *launchdtest.Launchctl
	path string
}

func newBox(t *testing.T) *box {
	w := actuatetest.NewMac("/Users/op/.parachute", 1939, []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}})
	b := &box{t: t, w: w, lc: launchdtest.New(w), path: w.AgentPath("computer.parachute.vault")}
	w.WriteFileNow(b.path, plist)
	return b
}

// run runs launchctl and checks its exit code and stderr.
func (b *box) run(code int, stderrHas string, args ...string) string {
	b.t.Helper()
	out, errOut, got, err := b.lc.Run(context.Background(), args...)
	if err != nil || got != code || !strings.Contains(errOut, stderrHas) {
		b.t.Fatalf("launchctl %s = %d %q (%v); want %d with %q", strings.Join(args, " "), got, errOut, err, code, stderrHas)
	}
	return out
}

func (b *box) sleep(d time.Duration) { b.w.Sleep(context.Background(), d) }

func TestJobLifecycle(t *testing.T) {
	b := newBox(t)
	b.run(113, `Could not find service "computer.parachute.vault"`, "print", target)
	b.run(0, "", "bootstrap", "gui/501", b.path)
	job := launchctl.ParsePrint(b.run(0, "", "print", target))
	if job.State != "running" || job.PID == 0 || job.Path != b.path || job.LastExitKnown {
		t.Fatalf("after bootstrap: %+v", job)
	}
	if pids, _, _ := b.w.Holders(1940); len(pids) != 1 || pids[0] != job.PID {
		t.Fatalf(":1940 held by %v, want the job's pid %d", pids, job.PID)
	}
	b.run(5, "Bootstrap failed: 5: Input/output error", "bootstrap", "gui/501", b.path) // already loaded

	// kickstart -k replaces the process; without -k a running job is left alone.
	b.run(0, "", "kickstart", target)
	if again := launchctl.ParsePrint(b.run(0, "", "print", target)); again.PID != job.PID {
		t.Errorf("kickstart without -k restarted the job: %d → %d", job.PID, again.PID)
	}
	b.run(0, "", "kickstart", "-k", target)
	second := launchctl.ParsePrint(b.run(0, "", "print", target))
	if second.PID == job.PID || b.w.Alive(job.PID) || second.PID == 0 {
		t.Errorf("kickstart -k: old pid %d (alive %v), new %d", job.PID, b.w.Alive(job.PID), second.PID)
	}

	// bootout: the process is gone at once, the label a moment later, and
	// bootstrap is refused for the window.
	b.run(0, "", "bootout", target)
	if b.w.Alive(second.PID) {
		t.Error("bootout left the process running")
	}
	if j := launchctl.ParsePrint(b.run(0, "", "print", target)); j.State != "not running" {
		t.Errorf("label during linger: %+v", j)
	}
	b.run(5, "Try re-running the command as root", "bootstrap", "gui/501", b.path)
	b.sleep(time.Second)
	b.run(113, "Could not find service", "print", target)
	b.run(3, "Boot-out failed: 3: No such process", "bootout", target)
	b.run(5, "", "bootstrap", "gui/501", b.path)
	b.sleep(3 * time.Second)
	b.run(0, "", "bootstrap", "gui/501", b.path)
}

func TestKeepAliveThrottle(t *testing.T) {
	b := newBox(t)
	b.lc.Break("/Users/op/.bun/bin/parachute-vault", 78)
	b.run(0, "", "bootstrap", "gui/501", b.path)
	j := launchctl.ParsePrint(b.run(0, "", "print", target))
	if j.PID != 0 || j.State != "spawn scheduled" || !j.LastExitKnown || j.LastExitCode != 78 {
		t.Fatalf("broken job: %+v", j)
	}
	b.run(0, "", "kickstart", "-k", target) // exits 0: the program failed after the spawn
	if info, _ := b.lc.Job("computer.parachute.vault"); info.Runs != 2 {
		t.Errorf("runs %d after kickstart, want 2", info.Runs)
	}
	b.lc.Repair("/Users/op/.bun/bin/parachute-vault")
	b.sleep(9 * time.Second)
	if info, _ := b.lc.Job("computer.parachute.vault"); info.PID != 0 {
		t.Errorf("respawned before ThrottleInterval: %+v", info)
	}
	b.sleep(time.Second)
	info, _ := b.lc.Job("computer.parachute.vault")
	if info.PID == 0 || info.Runs != 3 {
		t.Fatalf("not respawned after ThrottleInterval: %+v", info)
	}
	// Killed behind launchd's back: restarted after the throttle, too.
	b.w.StopTree(info.PID)
	b.sleep(10 * time.Second)
	if again, _ := b.lc.Job("computer.parachute.vault"); again.PID == 0 || again.PID == info.PID {
		t.Errorf("KeepAlive did not restart a killed job: %+v", again)
	}
}

func TestDomainsAndOverrides(t *testing.T) {
	b := newBox(t)
	b.run(0, "", "disable", target)
	if !strings.Contains(b.run(0, "", "print-disabled", "gui/501"), `"computer.parachute.vault" => disabled`) {
		t.Error("print-disabled does not list the override")
	}
	b.run(5, "Bootstrap failed: 5", "bootstrap", "gui/501", b.path)
	b.run(0, "", "enable", target)
	b.run(0, "", "bootstrap", "gui/501", b.path)

	// Logout tears the GUI domain down; over SSH it does not exist.
	b.lc.Logout()
	b.run(125, "Could not find domain for gui: 501", "print", "gui/501")
	b.run(125, "Bootstrap failed: 125: Domain does not support specified action", "bootstrap", "gui/501", b.path)
	b.run(0, "", "print", "user/501")
	if pids, _, _ := b.w.Holders(1940); len(pids) != 0 {
		t.Errorf("the agent outlived the logout: %v", pids)
	}
	b.lc.NoDomainCode = launchdtest.ErrNoDomain
	b.run(112, "Could not find domain", "print", target)

	// Login loads every agent in ~/Library/LaunchAgents that is not disabled.
	b.lc.Login()
	if info, ok := b.lc.Job("computer.parachute.vault"); !ok || info.PID == 0 {
		t.Errorf("login did not start the agent: %+v", info)
	}
	b.run(0, "", "disable", target)
	b.lc.Logout()
	b.lc.Login()
	if _, ok := b.lc.Job("computer.parachute.vault"); ok {
		t.Error("login loaded a disabled agent")
	}
}

func TestFailNextAndUsage(t *testing.T) {
	b := newBox(t)
	b.lc.FailNext("bootstrap", 0, "")
	b.run(0, "", "bootstrap", "gui/501", b.path) // exit 0, nothing loaded
	b.run(113, "", "print", target)
	b.lc.FailNext("bootstrap", 37, "")
	b.run(37, "37: Operation already in progress", "bootstrap", "gui/501", b.path)
	b.run(0, "", "bootstrap", "gui/501", b.path)
	b.run(113, "", "kickstart", "gui/501/computer.parachute.nothing")
	b.run(2, "No such file or directory", "bootstrap", "gui/501", "/nowhere.plist")
	b.run(64, "Usage", "bootstrap", "gui/501")
	b.run(64, "Unrecognized subcommand", "load", b.path)
	if m := b.lc.Mutations(); len(m) != 7 || strings.HasPrefix(m[0], "print") {
		t.Errorf("mutations %v", m)
	}
}
