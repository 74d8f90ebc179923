package observe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// fakeJob is one job loaded in the fake launchd.
type fakeJob struct {
	path     string
	state    string // running, not running, …
	pid      int
	lastExit string // "(never exited)", "0", "78: EX_CONFIG"
}

// fakeLaunchctl is a working in-memory launchd behind launchctl's read-only
// verbs, printing what the real one prints (macOS 14) with its exit codes:
// 113 "Could not find service" for a job not loaded, 125 for a domain that
// does not exist (no GUI session). It records every call so a test can
// prove the observer only reads.
type fakeLaunchctl struct {
	mu       sync.Mutex
	domains  map[string]bool     // "gui/501" exists
	jobs     map[string]*fakeJob // by "gui/501/label"
	disabled map[string]string   // label -> "disabled"/"enabled" in print-disabled
	calls    []string
	runErr   error
}

func newFakeLaunchctl(domains ...string) *fakeLaunchctl {
	f := &fakeLaunchctl{domains: map[string]bool{}, jobs: map[string]*fakeJob{}, disabled: map[string]string{}}
	for _, d := range domains {
		f.domains[d] = true
	}
	return f
}

func (f *fakeLaunchctl) Run(ctx context.Context, args ...string) (string, string, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(args, " "))
	if f.runErr != nil {
		return "", "", -1, f.runErr
	}
	if len(args) != 2 {
		return "", "Usage: launchctl <subcommand> ... | help [subcommand]\n", 64, nil
	}
	switch args[0] {
	case "print-disabled":
		if !f.domains[args[1]] {
			return "", "Could not print domain: 125: Domain does not support specified action\n", 125, nil
		}
		var b strings.Builder
		fmt.Fprintf(&b, "disabled services = {\n")
		labels := make([]string, 0, len(f.disabled))
		for l := range f.disabled {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		for _, l := range labels {
			fmt.Fprintf(&b, "\t%q => %s\n", l, f.disabled[l])
		}
		b.WriteString("}\n\nlogin item associations = {\n}\n")
		return b.String(), "", 0, nil
	case "print":
		target := args[1]
		i := strings.LastIndex(target, "/")
		domain, label := target[:i], target[i+1:]
		if !f.domains[domain] {
			return "", fmt.Sprintf("Bad request.\nCould not find domain for user gui: %s\n", strings.TrimPrefix(domain, "gui/")), 125, nil
		}
		j, ok := f.jobs[target]
		if !ok {
			return "", fmt.Sprintf("Bad request.\nCould not find service %q in domain for user gui: %s\n", label, strings.TrimPrefix(domain, "gui/")), 113, nil
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s = {\n\tactive count = 1\n\tpath = %s\n\ttype = LaunchAgent\n\tstate = %s\n\n", target, j.path, j.state)
		b.WriteString("\tprogram = /Users/op/.bun/bin/bun\n\targuments = {\n\t\t/Users/op/.bun/bin/bun\n\t\t/x/cli.ts\n\t\tserve\n\t}\n\n")
		b.WriteString("\tstdout path = /Users/op/.parachute/hub/logs/hub.log\n\tenvironment = {\n\t\tPORT => 1939\n\t\tstate => not-a-real-key\n\t}\n\n")
		b.WriteString("\tdomain = gui/501 [100005]\n\truns = 1\n")
		if j.pid > 0 {
			fmt.Fprintf(&b, "\tpid = %d\n", j.pid)
		}
		b.WriteString("\timmediate reason = speculative\n\tforks = 0\n\texecs = 1\n")
		fmt.Fprintf(&b, "\tlast exit code = %s\n\n\tspawn type = daemon (3)\n\tjetsam properties = {\n\t\tpid = 1\n\t\tstate = bogus\n\t}\n\tproperties = keepalive | runatload\n}\n", j.lastExit)
		return b.String(), "", 0, nil
	}
	return "", "Unrecognized subcommand: " + args[0] + "\n", 64, nil
}

type macBox struct {
	agents string
	lc     *fakeLaunchctl
}

func newMacBox(t *testing.T) *macBox {
	b := &macBox{agents: filepath.Join(t.TempDir(), "Library/LaunchAgents"), lc: newFakeLaunchctl("gui/501")}
	if err := os.MkdirAll(b.agents, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *macBox) query() UnitQuery {
	return UnitQuery{Manager: "launchd", Scope: "gui/501", Name: unitfile.LaunchdLabel,
		Path:        filepath.Join(b.agents, unitfile.LaunchdLabel+".plist"),
		StaleShorts: []string{"hub", "cloudflared", "notes", "scribe", "vault"},
		User:        spec.User{Name: "op", UID: 501, Home: "/Users/op"}}
}

func (b *macBox) plist(t *testing.T, label string, content []byte) string {
	t.Helper()
	p := filepath.Join(b.agents, label+".plist")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hubPlist(t *testing.T) []byte {
	t.Helper()
	data, err := unitfile.RenderLaunchd(unitfile.Hub{
		Home: "/Users/op/.parachute", Port: 1939, Command: []string{"/Users/op/.bun/bin/bun", "/x/cli.ts", "serve"},
		User: spec.User{Name: "op", UID: 501, Home: "/Users/op"}, GOOS: "darwin", GOARCH: "arm64",
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLaunchdUnitsRunning(t *testing.T) {
	b := newMacBox(t)
	path := b.plist(t, unitfile.LaunchdLabel, hubPlist(t))
	b.lc.jobs["gui/501/computer.parachute.hub"] = &fakeJob{path: path, state: "running", pid: 812, lastExit: "(never exited)"}
	// A stale vault agent, loaded and crash-looping; a notes plist not loaded
	// but disabled; scribe loaded without a plist (bootstrapped from elsewhere).
	vault := b.plist(t, "computer.parachute.vault", []byte("<plist/>"))
	b.lc.jobs["gui/501/computer.parachute.vault"] = &fakeJob{path: vault, state: "not running", lastExit: "78: EX_CONFIG"}
	b.plist(t, "computer.parachute.notes", []byte("<plist/>"))
	b.lc.disabled["computer.parachute.notes"] = "disabled"
	b.lc.jobs["gui/501/computer.parachute.scribe"] = &fakeJob{path: "/tmp/x.plist", state: "running", pid: 900, lastExit: "0"}
	b.lc.disabled["com.apple.something"] = "enabled"

	rep, err := LaunchdUnits{Launchctl: b.lc}.ObserveUnit(context.Background(), b.query())
	if err != nil {
		t.Fatal(err)
	}
	u := rep.Unit
	want := Unit{Manager: "launchd", Available: true, Scope: "gui/501", Name: unitfile.LaunchdLabel,
		File:      UnitFile{Path: path, Exists: true, Content: string(hubPlist(t))},
		LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled", MainPID: 812}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("unit\n%+v\nwant\n%+v", u, want)
	}
	wantStale := []StaleUnit{
		{Name: "computer.parachute.notes", Short: "notes", Scope: "gui/501", UnitFileState: "disabled", Manageable: true},
		{Name: "computer.parachute.scribe", Short: "scribe", Scope: "gui/501", LoadState: "loaded", ActiveState: "active", MainPID: 900, Manageable: true,
			ExecStart: [][]string{{"/Users/op/.bun/bin/bun", "/x/cli.ts", "serve"}}},
		{Name: "computer.parachute.vault", Short: "vault", Scope: "gui/501", LoadState: "loaded", ActiveState: "failed", UnitFileState: "enabled", Manageable: true,
			ExecStart: [][]string{{"/Users/op/.bun/bin/bun", "/x/cli.ts", "serve"}}},
	}
	if !reflect.DeepEqual(rep.Stale, wantStale) {
		t.Errorf("stale\n%+v\nwant\n%+v", rep.Stale, wantStale)
	}
	if len(rep.Problems) != 0 || rep.Linger != nil || rep.OtherScope != nil {
		t.Errorf("problems %q linger %v other %v", rep.Problems, rep.Linger, rep.OtherScope)
	}
	for _, c := range b.lc.calls {
		if !strings.HasPrefix(c, "print ") && !strings.HasPrefix(c, "print-disabled ") {
			t.Errorf("the observer ran launchctl %s", c)
		}
		if strings.Contains(c, "computer.parachute.hub.") || strings.Contains(c, "cloudflared") {
			t.Errorf("asked about a protected label: %s", c)
		}
	}
}

func TestLaunchdUnitsStates(t *testing.T) {
	for _, tc := range []struct {
		name              string
		job               *fakeJob
		disabled          string
		plist             bool
		load, active, sub string
		fileState         string
		pid, lastExit     int
	}{
		{"not loaded, plist present", nil, "", true, "not-found", "inactive", "", "enabled", 0, 0},
		{"not loaded, no plist", nil, "", false, "not-found", "inactive", "", "", 0, 0},
		{"disabled", nil, "disabled", true, "not-found", "inactive", "", "disabled", 0, 0},
		{"crashed", &fakeJob{state: "not running", lastExit: "1"}, "", true, "loaded", "failed", "not running", "enabled", 0, 1},
		{"exited cleanly", &fakeJob{state: "not running", lastExit: "0"}, "", true, "loaded", "inactive", "not running", "enabled", 0, 0},
		{"never ran", &fakeJob{state: "waiting", lastExit: "(never exited)"}, "", true, "loaded", "inactive", "waiting", "enabled", 0, 0},
		{"spawn scheduled after EX_CONFIG", &fakeJob{state: "spawn scheduled", lastExit: "78: EX_CONFIG"}, "", true, "loaded", "failed", "spawn scheduled", "enabled", 0, 78},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newMacBox(t)
			q := b.query()
			q.StaleShorts = nil
			if tc.plist {
				b.plist(t, unitfile.LaunchdLabel, hubPlist(t))
			}
			if tc.job != nil {
				tc.job.path = q.Path
				b.lc.jobs["gui/501/"+unitfile.LaunchdLabel] = tc.job
			}
			if tc.disabled != "" {
				b.lc.disabled[unitfile.LaunchdLabel] = tc.disabled
			}
			rep, err := LaunchdUnits{Launchctl: b.lc}.ObserveUnit(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			u := rep.Unit
			if !u.Available || u.LoadState != tc.load || u.ActiveState != tc.active || u.SubState != tc.sub ||
				u.UnitFileState != tc.fileState || u.MainPID != tc.pid || u.LastExitCode != tc.lastExit || u.File.Exists != tc.plist {
				t.Errorf("unit %+v", u)
			}
		})
	}
}

func TestLaunchdUnitsNoDomain(t *testing.T) {
	b := newMacBox(t)
	b.lc = newFakeLaunchctl() // no GUI session: gui/501 does not exist
	b.plist(t, unitfile.LaunchdLabel, hubPlist(t))
	b.plist(t, "computer.parachute.vault", []byte("<plist/>"))
	rep, err := LaunchdUnits{Launchctl: b.lc}.ObserveUnit(context.Background(), b.query())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unit.Available || rep.Unit.Problem != "launchd domain gui/501 unavailable (no GUI login session for this user?): Could not find domain for user gui: 501" {
		t.Errorf("unit %+v", rep.Unit)
	}
	if !rep.Unit.File.Exists || rep.Unit.LoadState != "" {
		t.Errorf("unit %+v", rep.Unit)
	}
	// The stale plist is still seen on disk; launchd is not asked again.
	if len(rep.Stale) != 1 || rep.Stale[0].Name != "computer.parachute.vault" || rep.Stale[0].LoadState != "" {
		t.Errorf("stale %+v", rep.Stale)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "print-disabled gui/501: exit 125") {
		t.Errorf("problems %q", rep.Problems)
	}
	prints := 0
	for _, c := range b.lc.calls {
		if strings.HasPrefix(c, "print ") {
			prints++
		}
	}
	if prints != 1 {
		t.Errorf("%d prints with no domain: %q", prints, b.lc.calls)
	}
}

func TestLaunchdUnitsLaunchctlMissing(t *testing.T) {
	b := newMacBox(t)
	b.lc.runErr = errors.New(`exec: "launchctl": executable file not found in $PATH`)
	rep, err := LaunchdUnits{Launchctl: b.lc}.ObserveUnit(context.Background(), b.query())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unit.Available || !strings.Contains(rep.Unit.Problem, "launchctl print gui/501/computer.parachute.hub: exec:") {
		t.Errorf("unit %+v", rep.Unit)
	}
	rep, _ = LaunchdUnits{}.ObserveUnit(context.Background(), b.query())
	if rep.Unit.Available || rep.Unit.Problem != "no launchctl configured" {
		t.Errorf("nil launchctl: %+v", rep.Unit)
	}
}
