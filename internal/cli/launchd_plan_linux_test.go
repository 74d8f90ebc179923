package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parachute/reconcile/internal/cli"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/unitfile"
)

// freePort returns a loopback port nothing listens on right now, so the
// test does not see whatever else runs on this machine's :1939.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// `parachute reconcile --manager launchd --plan` on Linux previews the
// plist in the write-unit step and is blocked: launchd is not here.
func TestLaunchdPlanOnLinux(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("PARACHUTE_HOME", "")
	home := filepath.Join(dir, ".parachute")
	specFile := filepath.Join(dir, "spec.yaml")
	cmd := []string{"/Users/op/.bun/bin/bun", "/Users/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts", "serve"}
	if err := os.WriteFile(specFile, []byte(fmt.Sprintf("hub:\n  command: [%q, %q, %q]\n", cmd[0], cmd[1], cmd[2])), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	args := []string{"reconcile", "--manager", "launchd", "--plan", "--home", home, "--spec", specFile, "--port", fmt.Sprint(port)}

	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), append(args, "--output", "json"), &out, &errOut)
	if code != cli.ExitBlocked {
		t.Fatalf("exit %d, want %d (blocked); stderr %s", code, cli.ExitBlocked, errOut.String())
	}
	var doc reconcile.Document
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not a plan document: %v\n%s", err, out.String())
	}
	if len(doc.Steps) != 1 || doc.Steps[0].Action != reconcile.WriteUnit {
		t.Fatalf("steps %+v, want the write-unit preview only", doc.Steps)
	}
	st := doc.Steps[0]
	if want := filepath.Join(dir, "Library/LaunchAgents/computer.parachute.hub.plist"); st.Path != want || st.Unit != unitfile.LaunchdLabel || st.Scope != fmt.Sprintf("gui/%d", os.Getuid()) {
		t.Errorf("write-unit %s %s %s, want %s computer.parachute.hub gui/%d", st.Path, st.Unit, st.Scope, want, os.Getuid())
	}
	job, err := unitfile.ParseLaunchd([]byte(st.Content))
	if err != nil {
		t.Fatalf("content is not a plist: %v\n%s", err, st.Content)
	}
	env, _ := job["EnvironmentVariables"].(map[string]any)
	if job["Label"] != unitfile.LaunchdLabel || fmt.Sprint(job["ProgramArguments"]) != fmt.Sprint(cmd) ||
		env["PORT"] != fmt.Sprint(port) || env["PARACHUTE_HOME"] != home || job["StandardOutPath"] != filepath.Join(home, "hub/logs/hub.log") {
		t.Errorf("plist values wrong: %v", job)
	}
	var reasons []string
	for _, b := range doc.Blockers {
		reasons = append(reasons, b.Reason)
	}
	if all := strings.Join(reasons, "\n"); !strings.Contains(all, "launchd") || !strings.Contains(all, "linux") {
		t.Errorf("no blocker says launchd is not available here: %q", all)
	}
	if _, err := os.Stat(st.Path); err == nil {
		t.Error("--plan wrote the plist")
	}

	// The text form says the same to a person.
	out.Reset()
	errOut.Reset()
	if code := cli.Main(context.Background(), args, &out, &errOut); code != cli.ExitBlocked {
		t.Fatalf("text: exit %d", code)
	}
	for _, want := range []string{"write-unit", "computer.parachute.hub.plist", "launchd cannot be asked from linux"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
}
