package cli

import (
	"bytes"
	"context"
	"flag"
	"github.com/parachute/reconcile/internal/goldenfile"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// TestMain pins the status marks to Unicode: the expected output of the
// package's tests must not depend on the locale they run under
// (TestUTF8Locale covers the choice itself).
func TestMain(m *testing.M) {
	marks = func() glyphs { return unicodeMarks }
	os.Exit(m.Run())
}

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// golden compares got with testdata/golden/name (or rewrites it with
// -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got, *update)
}

var goldenModules = []spec.Module{
	{Name: "parachute-vault", Short: "vault", Port: 1940, Health: "/vault/default/health"},
	{Name: "parachute-scribe", Short: "scribe", Port: 1943, Health: "/scribe/health"},
}

func goldenDesired(w *actuatetest.World) spec.Desired {
	return spec.Desired{Model: spec.Supervised, Home: w.Home, HubPort: w.HubPort, HubCommand: w.HubArgv,
		Manager: spec.ManagerAuto, Scope: spec.ScopeAuto, Timeouts: spec.DefaultTimeouts,
		Manifest: spec.Manifest{Path: filepath.Join(w.Home, "services.json"), Exists: true, Modules: w.Modules}, User: w.User}
}

// detachedWorld is a detached-era box of two modules in the fake world.
func detachedWorld() *actuatetest.World {
	w := actuatetest.New("/home/op/.parachute", 1939, goldenModules)
	hub := w.Spawn(actuatetest.Proc{Argv: []string{"/home/op/.bun/bin/bun", "/opt/hub/src/hub-server.ts"}, Ports: []int{1939}})
	w.WriteFileNow("/home/op/.parachute/hub/run/hub.pid", strconv.Itoa(hub)+"\n")
	for _, m := range goldenModules {
		pid := w.Spawn(actuatetest.Proc{Argv: []string{"/home/op/.bun/bin/" + m.Name, "serve"}, Ports: []int{m.Port}})
		w.WriteFileNow("/home/op/.parachute/"+m.Short+"/run/"+m.Short+".pid", strconv.Itoa(pid)+"\n")
	}
	return w
}

// The text plan, the text results and the JSON documents people and tools
// read are pinned: a cutover plan, its result, a blocked plan and a failed
// one, each in text and JSON.
func TestGolden(t *testing.T) {
	w := detachedWorld()
	d := goldenDesired(w)
	snap := w.Snapshot()
	plan := reconcile.Compute(d, snap)

	var text, js bytes.Buffer
	renderPlan(&text, plan, snap, "parachute reconcile --desired supervised")
	golden(t, "cutover-plan.txt", text.Bytes())
	(&jsonView{stdout: &js}).Plan(plan, snap, "")
	golden(t, "cutover-plan.json", js.Bytes())

	a := &actuate.Actuator{Procs: w, Files: w, Units: w, Ports: w, Health: w, Modules: w, Clock: w, Timeouts: d.Timeouts}
	applied, err := a.Apply(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	after := w.Snapshot()
	res := result{Plan: reconcile.Compute(d, after), Snapshot: after, Applied: applied, Took: 1234 * time.Millisecond}
	text.Reset()
	(&textView{stdout: &text, stderr: &text, title: "parachute reconcile"}).Result(res)
	golden(t, "cutover-result.txt", text.Bytes())
	js.Reset()
	(&jsonView{stdout: &js}).Result(res)
	golden(t, "cutover-result.json", js.Bytes())

	blocked := after
	blocked.Unit.ActiveState = "inactive"
	blocked.Unit.DropIns = []observe.UnitFile{{Path: "/etc/systemd/system/parachute-hub.service.d/override.conf", Exists: true,
		Content: "[Service]\nExecStartPre=/bin/false\n", Breaks: []string{"ExecStartPre=/bin/false always exits 1"}}}
	text.Reset()
	renderPlan(&text, reconcile.Compute(d, blocked), blocked, "")
	golden(t, "blocked-plan.txt", text.Bytes())

	failed := after
	failed.Unit.ActiveState, failed.Unit.SubState, failed.Unit.MainPID = "activating", "auto-restart", 0
	failed.Unit.Result, failed.Unit.ExecMainCode, failed.Unit.ExecMainStatus, failed.Unit.NRestarts = "exit-code", 1, 1, 3
	failed.Unit.Journal = []string{"parachute-hub.service: Main process exited, code=exited, status=1/FAILURE"}
	failed.HubLog = []string{"error: \x1b[31mcannot open hub.db\x1b[0m"}
	text.Reset()
	renderPlan(&text, reconcile.Compute(d, failed), failed, "")
	golden(t, "failed-plan.txt", text.Bytes())
}
