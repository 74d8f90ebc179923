package unitfile

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// systemdView is what `systemd-analyze verify` (at debug level) says it
// parsed from one unit: systemd's own reading, independent of ours.
type systemdView struct {
	Env     []string
	Argv    []string // after the $$ → $ substitution systemd does at exec time
	LogOut  string
	LogErr  string
	User    string
	Reports []string // lines about the file with a warning word
}

// analyze runs systemd-analyze verify on files (all in dir) and returns
// systemd's view of each unit by name, and an error with the output when
// systemd-analyze exits non-zero. It skips the test when systemd-analyze is
// missing.
func analyze(t *testing.T, dir string, user bool, files ...string) (map[string]*systemdView, error) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	args := []string{"verify", "--man=no"}
	if user {
		args = append([]string{"--user"}, args...)
	}
	args = append(args, files...)
	cmd := exec.Command(sa, args...)
	// Debug level makes verify dump every unit it loaded; console target
	// makes the user mode print at all.
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug", "SYSTEMD_LOG_TARGET=console", "XDG_RUNTIME_DIR="+dir)
	// The dump goes to stdout, the log (with the reports) to stderr; kept
	// apart so that their lines cannot interleave.
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if runErr != nil {
		runErr = fmt.Errorf("systemd-analyze %s: %w\n%s", strings.Join(args, " "), runErr, stderr.String())
	}
	views := map[string]*systemdView{}
	names := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		names[name] = true
		views[name] = &systemdView{}
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		for _, f := range files {
			if strings.HasPrefix(line, f+":") {
				for _, bad := range []string{"Unknown", "nvalid", "Failed", "gnoring", "not absolute", "Missing", "rror"} {
					if strings.Contains(line, bad) {
						views[filepath.Base(f)].Reports = append(views[filepath.Base(f)].Reports, line)
						break
					}
				}
			}
		}
	}
	var cur *systemdView
	for _, line := range strings.Split(stdout.String(), "\n") {
		trimmed := strings.TrimLeft(line, " \t") // values may end in spaces
		if strings.HasPrefix(trimmed, "-> Unit ") {
			cur = views[strings.TrimSuffix(strings.TrimPrefix(trimmed, "-> Unit "), ":")]
			continue
		}
		if cur == nil {
			continue
		}
		key, val, ok := strings.Cut(trimmed, ": ")
		if !ok {
			continue
		}
		switch key {
		case "Environment":
			cur.Env = append(cur.Env, val)
		case "Command Line":
			argv, err := unshell(val)
			if err != nil {
				t.Fatalf("cannot read systemd's command line %q: %v", val, err)
			}
			for i := range argv {
				argv[i] = strings.ReplaceAll(argv[i], "$$", "$")
			}
			cur.Argv = argv
		case "StandardOutputFileToAppend":
			cur.LogOut = val
		case "StandardErrorFileToAppend":
			cur.LogErr = val
		case "User":
			cur.User = val
		}
	}
	return views, runErr
}

// unshell reads systemd's quote_command_line output: words separated by a
// space, each bare or in double quotes with \ escaping \ " $ and `.
func unshell(s string) ([]string, error) {
	var words []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		if s[i] != '"' {
			for i < len(s) && s[i] != ' ' {
				w.WriteByte(s[i])
				i++
			}
			words = append(words, w.String())
			continue
		}
		i++
		for {
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated quote")
			}
			c := s[i]
			if c == '"' {
				i++
				break
			}
			if c == '\\' && i+1 < len(s) {
				i++
				c = s[i]
			}
			w.WriteByte(c)
			i++
		}
		words = append(words, w.String())
	}
	return words, nil
}

// wantView is what the unit rendered from h must mean to systemd.
func wantView(t *testing.T, h Hub) systemdView {
	t.Helper()
	env, err := h.environment()
	if err != nil {
		t.Fatal(err)
	}
	var v systemdView
	for _, e := range env {
		v.Env = append(v.Env, e.Name+"="+e.Value)
	}
	v.Argv = h.Command
	v.LogOut, v.LogErr = LogPath(h.Home), LogPath(h.Home)
	if h.SystemUnit {
		v.User = h.User.Name
	}
	return v
}

func checkView(t *testing.T, name string, got *systemdView, want systemdView) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: systemd did not load it", name)
		return
	}
	for _, r := range got.Reports {
		t.Errorf("%s: systemd-analyze: %s", name, r)
	}
	if !reflect.DeepEqual(got.Env, want.Env) {
		t.Errorf("%s: systemd's environment\n%q\nwant\n%q", name, got.Env, want.Env)
	}
	if !reflect.DeepEqual(got.Argv, want.Argv) {
		t.Errorf("%s: systemd's argv %q, want %q", name, got.Argv, want.Argv)
	}
	if got.LogOut != want.LogOut || got.LogErr != want.LogErr {
		t.Errorf("%s: systemd appends to %q and %q, want %q", name, got.LogOut, got.LogErr, want.LogOut)
	}
	if want.User != "" && got.User != want.User {
		t.Errorf("%s: systemd's User %q, want %q", name, got.User, want.User)
	}
}

// awkwardExe links true(1) at a path with a space and a percent sign, so the
// executable path itself is tested.
func awkwardExe(t *testing.T, dir string) string {
	t.Helper()
	tr, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	tr, _ = filepath.EvalSymlinks(tr)
	exe := filepath.Join(dir, "o p", "100% x", "bun")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tr, exe); err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestSystemdAnalyzeVerify has systemd's own parser load what we render —
// system and user units, plain and awkward — and checks that it reports
// nothing about our file (no "Unknown key", "Invalid", "ignoring", …) and
// that the environment, argv, log paths and User= it parsed are exactly the
// ones we meant.
func TestSystemdAnalyzeVerify(t *testing.T) {
	for _, tc := range []struct {
		name string
		hub  Hub
		user bool
	}{
		{"user", opHub(), true},
		{"system", rootHub(), false},
		{"awkward-system", awkwardHub(), false},
		{"awkward-user", func() Hub { h := awkwardHub(); h.SystemUnit = false; return h }(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := tc.hub
			h.Command = append([]string{awkwardExe(t, dir)}, h.Command[1:]...)
			if h.SystemUnit {
				h.User.Name = "root" // User= must name an account that exists here
			}
			data, err := RenderSystemd(h)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, SystemdName)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			views, err := analyze(t, dir, tc.user, path)
			if err != nil {
				t.Fatal(err)
			}
			checkView(t, tc.name, views[SystemdName], wantView(t, h))
			if t.Failed() {
				t.Logf("unit:\n%s", data)
			}
		})
	}
}

// TestSystemdAnalyzeCatchesUpstreamQuirks is the control for the check
// above: the hub's own unit text, with its StartLimitIntervalSec= in
// [Service], must be reported, and an unquoted path with a space must not
// come back as one argument.
func TestSystemdAnalyzeCatchesUpstreamQuirks(t *testing.T) {
	dir := t.TempDir()
	exe := awkwardExe(t, dir)
	text := strings.Replace(upstreamUserUnit, "/home/op/.bun/bin/bun", exe, 1)
	path := filepath.Join(dir, SystemdName)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	views, err := analyze(t, dir, false, path)
	if err == nil {
		t.Error("systemd-analyze passed the hub's unit, whose unquoted executable path does not exist")
	}
	v := views[SystemdName]
	if v == nil {
		t.Fatal("systemd did not load the unit")
	}
	found := false
	for _, r := range v.Reports {
		if strings.Contains(r, "Unknown key") && strings.Contains(r, "StartLimitIntervalSec") {
			found = true
		}
	}
	if !found {
		t.Errorf("no Unknown key report for [Service] StartLimitIntervalSec=; reports: %q", v.Reports)
	}
	if len(v.Argv) > 0 && v.Argv[0] == exe {
		t.Errorf("unquoted %q came back whole: %q", exe, v.Argv)
	}
}

// TestSystemdParsesGeneratedHubs renders hubs with values drawn from the
// characters that need care (quotes, backslash, %, $, ;, #, spaces, UTF-8,
// control characters) and has systemd parse every one that was not
// rejected, in one systemd-analyze run. Seeded: the same cases every run.
func TestSystemdParsesGeneratedHubs(t *testing.T) {
	dir := t.TempDir()
	exe := awkwardExe(t, dir)
	rnd := rand.New(rand.NewSource(1939))
	alphabet := []string{"a", "Z", "0", " ", " ", "\"", "'", "\\", "%", "%%", "$", "$$", "${X}", ";", "#", "=", ":", "/", "-", "é", "—", "\\n", "%h", "\u00a0"}
	controls := []string{"\t", "\n", "\x01", "\x7f"}
	word := func() string {
		var b strings.Builder
		for n := rnd.Intn(6); n > 0; n-- {
			if rnd.Intn(60) == 0 {
				b.WriteString(controls[rnd.Intn(len(controls))])
				continue
			}
			b.WriteString(alphabet[rnd.Intn(len(alphabet))])
		}
		return b.String()
	}
	var files []string
	wants := map[string]systemdView{}
	rejected := 0
	for i := 0; i < 60; i++ {
		h := opHub()
		h.Command = []string{exe, word(), word(), "serve"}
		h.Env = map[string]string{"V1": word(), "V2": word()}
		h.Home = "/home/op/" + strings.ReplaceAll(strings.ReplaceAll(word(), "/", "_"), "\x00", "") + "x/.parachute"
		h.ExtraPath = word()
		data, err := RenderSystemd(h)
		if err != nil {
			rejected++
			continue
		}
		name := fmt.Sprintf("gen%03d.service", i)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
		wants[name] = wantView(t, h)
	}
	if len(files) < 20 || rejected == 0 {
		t.Fatalf("generator is off: %d rendered, %d rejected", len(files), rejected)
	}
	views, err := analyze(t, dir, false, files...)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range wants {
		checkView(t, name, views[name], want)
	}
	t.Logf("%d units parsed by systemd, %d rejected by us", len(files), rejected)
}
