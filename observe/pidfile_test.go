package observe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/spec"
)

// TestJudgePidfile: observe judges a pidfile by time alone; whether the
// pid is the box's (owner, markers, port, environment) is the planner's
// evidence, so a process with a stranger's argv is still "live" here.
func TestJudgePidfile(t *testing.T) {
	mtime := time.Unix(1700000600, 0)
	ours := []string{"bun", "/home/op/.bun/bin/parachute-vault", "serve"}
	proc := func(started time.Time, argv []string, unreadable ...string) *Process {
		return &Process{Pid: 42, State: "S", Started: started, Argv: argv, Exe: "/usr/bin/bun", Cwd: "/home/op", Unreadable: unreadable}
	}
	tests := []struct {
		name   string
		parse  pidParse
		p      *Process
		want   PidState
		reason string
	}{
		{"invalid content", pidNone, nil, PidInvalid, "not a positive integer"},
		{"pid beyond any pid", pidTooLarge, nil, PidDead, "larger than any pid"},
		{"no process", pidOK, nil, PidDead, "no process 42"},
		{"zombie", pidOK, &Process{Pid: 42, State: "Z", Started: mtime}, PidDead, "zombie"},
		{"dead (X)", pidOK, &Process{Pid: 42, State: "X", Started: mtime}, PidDead, "zombie"},
		{"stat unreadable", pidOK, &Process{Pid: 42, Unreadable: []string{"stat"}}, PidUnknown, "cannot be read"},
		{"start unknown", pidOK, proc(time.Time{}, ours), PidUnknown, "start time"},
		{"started long before", pidOK, proc(mtime.Add(-time.Hour), ours), PidLive, "before the file"},
		{"started within the slack", pidOK, proc(mtime.Add(startSlack), ours), PidLive, "before the file"},
		{"started just after the slack", pidOK, proc(mtime.Add(startSlack+10*time.Millisecond), ours), PidReused, "after the file was written"},
		{"a stranger's argv is still only a claim", pidOK, proc(mtime.Add(-time.Hour), []string{"/usr/sbin/sshd", "-D"}), PidLive, "before the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pidfileCandidate{pf: Pidfile{Service: "vault", Module: "parachute-vault", Path: "/h/vault/run/vault.pid", Pid: 42, ModTime: mtime}, parse: tt.parse}
			if tt.parse != pidOK {
				c.pf.Pid = 0
			}
			got := c.judge(tt.p)
			if got.State != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("judge = %s (%q), want %s with %q", got.State, got.Reason, tt.want, tt.reason)
			}
			if got.Path != c.pf.Path || got.ModTime != mtime {
				t.Errorf("judge lost the file's identity: %+v", got)
			}
		})
	}
}

func TestReadPidfiles(t *testing.T) {
	home := t.TempDir()
	outside := t.TempDir()
	old := time.Unix(1700000000, 0)
	writeFile := func(rel, content string) {
		t.Helper()
		p := filepath.Join(home, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("hub/run/hub.pid", "  77\n")
	writeFile("hub/run/hub.port", "70000\n")
	writeFile("vault/run/vault.pid", "12\n")
	writeFile("runner/run/runner.pid", "13\n")                 // legacy of parachute-runner, also retired
	writeFile("parachute-runner/run/parachute-runner.pid", "") // current short, empty: invalid
	writeFile("big/run/big.pid", "5\n")
	writeFile("huge/run/huge.pid", "5"+strings.Repeat(" ", 2*maxRunFile))
	// scribe's run dir is a symlink out of home: not read.
	if err := os.MkdirAll(filepath.Join(outside, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "run", "scribe.pid"), []byte("99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, "scribe"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, filepath.Join(outside, "run"), filepath.Join(home, "scribe", "run"))
	// app's directory is a symlink inside home: not followed either.
	writeFile("real-app/run/app.pid", "14\n")
	mustSymlink(t, filepath.Join(home, "real-app"), filepath.Join(home, "app"))
	// big's pidfile is group-writable: read, but untrusted.
	if err := os.Chmod(filepath.Join(home, "big", "run", "big.pid"), 0o664); err != nil {
		t.Fatal(err)
	}
	// surface's pidfile is a FIFO: must not hang, not read.
	if err := os.MkdirAll(filepath.Join(home, "surface", "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(home, "surface", "run", "surface.pid"), 0o644); err != nil {
		t.Fatal(err)
	}
	// channel's pidfile is a symlink: reported, not followed.
	if err := os.MkdirAll(filepath.Join(home, "channel", "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, filepath.Join(home, "vault", "run", "vault.pid"), filepath.Join(home, "channel", "run", "channel.pid"))

	d := spec.Desired{Home: home, Owner: spec.Owner{UID: os.Geteuid(), Known: true}, Manifest: spec.Manifest{Modules: []spec.Module{
		{Name: "parachute-vault", Short: "vault", Port: 1940},
		{Name: "parachute-runner", Short: "parachute-runner", Port: 1941, LegacyShorts: []string{"runner"}},
		{Name: "parachute-scribe", Short: "scribe", Port: 1943},
		{Name: "parachute-app", Short: "app", Port: 1944},
		{Name: "parachute-surface", Short: "surface", Port: 1946},
		{Name: "big", Short: "big", Port: 1947},
		{Name: "huge", Short: "huge", Port: 1950},
		{Name: "../etc", Short: "../etc", Port: 1948}, // spec skips these; observe still refuses
		{Name: "dot", Short: "..", Port: 1949},
	}}}
	cands, portFile, problems := readPidfiles(home, d)

	type row struct {
		short     string
		pid       int
		parse     pidParse
		legacy    bool
		untrusted bool
	}
	var got []row
	for _, c := range cands {
		got = append(got, row{c.pf.Service, c.pf.Pid, c.parse, c.pf.Legacy, c.pf.Untrusted != ""})
		if want := filepath.Join(home, c.pf.Service, "run", c.pf.Service+".pid"); c.pf.Path != want {
			t.Errorf("path %s, want %s", c.pf.Path, want)
		}
		if !c.pf.ModTime.Equal(old) && c.pf.Service != "app" {
			t.Errorf("%s mtime = %v, want %v", c.pf.Service, c.pf.ModTime, old)
		}
	}
	want := []row{
		{"hub", 77, pidOK, false, false},
		{"vault", 12, pidOK, false, false},
		{"parachute-runner", 0, pidNone, false, false},
		{"runner", 13, pidOK, true, false},
		{"big", 5, pidOK, false, true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("candidates:\n got %+v\nwant %+v", got, want)
	}
	if portFile == nil || portFile.Port != 0 || portFile.Path != filepath.Join(home, "hub", "run", "hub.port") {
		t.Errorf("hub.port 70000 = %+v, want listed with port 0", portFile)
	}
	for _, want := range []string{
		"scribe/run is a symlink to " + filepath.Join(outside, "run") + ":",
		filepath.Join(home, "app") + " is a symlink to",
		"surface.pid: not a regular file (named pipe)",
		"huge.pid: larger than the limit",
		"channel.pid is a symlink to",
		`pidfile of "../etc" not read: not a safe file name`,
		`pidfile of ".." not read: not a safe file name`,
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem containing %q in %q", want, problems)
		}
	}
	if len(problems) != 7 {
		t.Errorf("%d problems, want 7: %q", len(problems), problems)
	}
}

func TestSafeElement(t *testing.T) {
	for s, want := range map[string]bool{"vault": true, "parachute-vault": true, ".hidden": true, "": false, ".": false, "..": false, "a/b": false, `a\b`: false, "a\x00b": false} {
		if got := safeElement(s); got != want {
			t.Errorf("safeElement(%q) = %v, want %v", s, got, want)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// The home is judged too: its own mode and owner, and a link at it (the
// link's owner, then what it points to), each make every pidfile below it
// untrusted, naming the home; a root-owned sticky home passes, as any
// directory on the way does.
func TestReadPidfilesJudgeTheHome(t *testing.T) {
	root := os.Geteuid() == 0
	type homeCase struct {
		name      string
		setup     func(t *testing.T, dir string) string // returns the home path
		untrusted string                                // a substring of the verdict; "" for trusted
		rootOnly  bool
	}
	plain := func(mode os.FileMode) func(*testing.T, string) string {
		return func(t *testing.T, dir string) string {
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	cases := []homeCase{
		{"trusted", plain(0o755), "", false},
		{"writable by others", plain(0o777), "writable by others", false},
		{"writable by group", plain(0o775), "writable by group", false},
		{"root-owned sticky", plain(os.ModeSticky | 0o777), "", true},
		{"a link owned by a stranger", func(t *testing.T, dir string) string {
			link := dir + "-link"
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(link, 4242, 4242); err != nil {
				t.Fatal(err)
			}
			return link
		}, "a symlink owned by", true},
		{"a link to a writable home", func(t *testing.T, dir string) string {
			plain(0o777)(t, dir)
			link := dir + "-link"
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "writable by others", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.rootOnly && !root {
				t.Skip("needs root to make a root-owned sticky directory or chown a link")
			}
			dir := filepath.Join(t.TempDir(), "home")
			if err := os.MkdirAll(filepath.Join(dir, "vault", "run"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "vault", "run", "vault.pid"), []byte("12\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			home := c.setup(t, dir)
			d := spec.Desired{Home: home, Owner: spec.Owner{UID: os.Geteuid(), Known: true}, Manifest: spec.Manifest{Modules: []spec.Module{
				{Name: "parachute-vault", Short: "vault", Port: 1940},
			}}}
			cands, _, problems := readPidfiles(home, d)
			if len(cands) != 1 || cands[0].pf.Pid != 12 {
				t.Fatalf("candidates %+v, problems %q; want vault's pidfile read", cands, problems)
			}
			got := cands[0].pf.Untrusted
			if c.untrusted == "" && got != "" || c.untrusted != "" && !strings.Contains(got, c.untrusted) {
				t.Errorf("untrusted %q, want %q", got, c.untrusted)
			}
		})
	}
}
