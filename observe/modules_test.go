package observe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parachute/reconcile/spec"
)

// giveUp is the hub supervisor's give-up line, byte for byte.
const giveUp = "[supervisor] vault crashed 3x within 60000ms — giving up."

// unusedPort returns a loopback port nothing listens on (it was free a
// moment ago and is closed again).
func unusedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeFile writes data at path, making its directory.
func writeFile(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

// installDir makes an install directory whose .parachute/module.json holds
// manifest.
func installDir(t *testing.T, manifest string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".parachute", "module.json"), manifest, 0o644)
	return dir
}

// executableIn creates an executable regular file name in a new temporary
// directory and returns its absolute path.
func executableIn(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	writeFile(t, p, "#!/bin/sh\nexit 0\n", 0o755)
	return p
}

// withinDeadline runs f and fails the test if it has not returned within d.
// unblock is called on timeout so that f can still end (goleak checks).
func withinDeadline(t *testing.T, d time.Duration, unblock func(), f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		unblock()
		<-done
		t.Fatalf("did not return within %v (blocked)", d)
	}
}

// releaseFIFO opens the FIFO at path read-write, which releases an open
// blocked on it, and closes it again.
func releaseFIFO(path string) func() {
	return func() {
		if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	}
}

func TestStartCommand(t *testing.T) {
	manifest := func(dir string) string { return filepath.Join(dir, ".parachute", "module.json") }
	noSpec := func(dir string) string {
		return "no startCmd resolvable: " + manifest(dir) + " has no startCmd (a non-empty array of non-empty strings)"
	}
	notObject := func(dir string) string {
		return "no startCmd resolvable: " + manifest(dir) + " is not a JSON object with a startCmd array of strings"
	}
	// A malformed manifest beside a first-party short proves the built-in
	// command wins without the manifest being read.
	broken := installDir(t, "{")
	tests := []struct {
		name     string
		short    string
		dir      string // InstallDir; "" for none
		manifest string // module.json content; "" writes none
		wantArgv []string
		wantWhy  func(dir string) string
	}{
		{"vault is built in", "vault", broken, "", []string{"parachute-vault", "serve"}, nil},
		{"scribe is built in", "scribe", "", "", []string{"parachute-scribe", "serve"}, nil},
		{"surface is built in", "surface", "", "", []string{"parachute-surface", "serve"}, nil},
		{"notes runs under bun", "notes", broken, "", []string{"bun"}, nil},
		{"app runs under bun", "app", "", "", []string{"bun"}, nil},
		{"no installDir", "thing", "", "", nil, func(string) string {
			return "no startCmd resolvable: the services.json row has no installDir, and only first-party modules have a built-in command"
		}},
		{"missing module.json", "thing", "empty", "", nil, func(dir string) string {
			return "no startCmd resolvable: " + manifest(dir) + " does not exist"
		}},
		{"malformed JSON", "thing", "new", `{"startCmd": [`, nil, notObject},
		{"top level is an array", "thing", "new", `["x"]`, nil, notObject},
		{"startCmd is a string", "thing", "new", `{"startCmd": "bin serve"}`, nil, notObject},
		{"startCmd holds a number", "thing", "new", `{"startCmd": ["bin", 1]}`, nil, notObject},
		{"startCmd missing", "thing", "new", `{"name": "thing"}`, nil, noSpec},
		{"startCmd null", "thing", "new", `{"startCmd": null}`, nil, noSpec},
		{"top level null", "thing", "new", `null`, nil, noSpec},
		{"startCmd empty", "thing", "new", `{"startCmd": []}`, nil, noSpec},
		{"startCmd holds an empty string", "thing", "new", `{"startCmd": ["bin", ""]}`, nil, noSpec},
		{"startCmd first empty", "thing", "new", `{"startCmd": [""]}`, nil, noSpec},
		{"valid", "thing", "new", `{"name": "thing", "startCmd": ["bun", "run", "serve.ts"], "extra": {"a": 1}}`, []string{"bun", "run", "serve.ts"}, nil},
		{"valid single", "thing", "new", `{"startCmd": ["/opt/thing/bin/thing"]}`, []string{"/opt/thing/bin/thing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			switch dir {
			case "empty":
				dir = t.TempDir()
			case "new":
				dir = installDir(t, tt.manifest)
			}
			argv, why := StartCommand(spec.Module{Name: "parachute-" + tt.short, Short: tt.short, Port: 1950, InstallDir: dir})
			if !slices.Equal(argv, tt.wantArgv) {
				t.Errorf("argv = %q, want %q", argv, tt.wantArgv)
			}
			want := ""
			if tt.wantWhy != nil {
				want = tt.wantWhy(dir)
			}
			if why != want {
				t.Errorf("why = %q\nwant  %q", why, want)
			}
		})
	}
}

// module.json is read without blocking, without following a link and
// without reading more than maxManifest bytes.
func TestStartCommandOddManifests(t *testing.T) {
	valid := `{"startCmd": ["/bin/true"]}`
	tests := []struct {
		name    string
		make    func(t *testing.T, path string) (release func())
		wantWhy []string // substrings of why, which always starts "no startCmd resolvable: "
	}{
		{"FIFO", func(t *testing.T, path string) func() {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
			return releaseFIFO(path)
		}, []string{path0, "not a regular file"}},
		{"directory", func(t *testing.T, path string) func() {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, []string{path0, "not a regular file"}},
		{"symlink to a valid manifest", func(t *testing.T, path string) func() {
			target := filepath.Join(t.TempDir(), "module.json")
			writeFile(t, target, valid, 0o644)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, []string{path0, "is a symlink", "module.json"}},
		{"symlink to a FIFO", func(t *testing.T, path string) func() {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(fifo, path); err != nil {
				t.Fatal(err)
			}
			return releaseFIFO(fifo)
		}, []string{path0, "is a symlink", "fifo"}},
		{"symlink to /dev/zero", func(t *testing.T, path string) func() {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, []string{path0, "is a symlink", "/dev/zero"}},
		{"larger than 256 KiB", func(t *testing.T, path string) func() {
			writeFile(t, path, `{"startCmd": ["/bin/true"], "pad": "`+strings.Repeat("x", maxManifest)+`"}`, 0o644)
			return func() {}
		}, []string{path0, "larger than the limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".parachute", "module.json")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			release := tt.make(t, path)
			var argv []string
			var why string
			withinDeadline(t, 2*time.Second, release, func() {
				argv, why = StartCommand(spec.Module{Name: "parachute-odd", Short: "odd", Port: 1950, InstallDir: dir})
			})
			if argv != nil {
				t.Errorf("argv = %q, want nil", argv)
			}
			if !strings.HasPrefix(why, "no startCmd resolvable: ") {
				t.Errorf("why = %q, want the hub's \"no startCmd resolvable: \" prefix", why)
			}
			for _, w := range tt.wantWhy {
				if w == path0 {
					w = path
				}
				if !strings.Contains(why, w) {
					t.Errorf("why = %q, want it to contain %q", why, w)
				}
			}
			if len(why) > 1024 {
				t.Errorf("why is %d bytes, want a bounded message", len(why))
			}
		})
	}
}

// path0 stands for the manifest's own path in wantWhy.
const path0 = "\x00path"

// The hub reads module.json with JSON.parse and takes manifest.startCmd:
// keys are case-sensitive. encoding/json matches keys case-insensitively.
func TestStartCommandKeyCase(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		wantArgv []string // what the hub would run
	}{
		{"StartCmd is not startCmd", `{"StartCmd": ["/bin/true"]}`, nil},
		{"STARTCMD after startCmd does not replace it", `{"startCmd": ["/bin/true"], "STARTCMD": []}`, []string{"/bin/true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv, why := StartCommand(spec.Module{Name: "parachute-case", Short: "case", InstallDir: installDir(t, tt.manifest)})
			if !slices.Equal(argv, tt.wantArgv) || (tt.wantArgv == nil) != (why != "") {
				t.Errorf("module.json %s resolves to argv %q, why %q; the hub (JSON.parse, case-sensitive startCmd) runs %q", tt.manifest, argv, why, tt.wantArgv)
			}
		})
	}
}

func TestSupervisorIndex(t *testing.T) {
	const exited = "[supervisor] vault exited (code=1); restart 1/3 in window."
	const noSpec = "[supervisor] vault: no startCmd resolvable for vault"
	tests := []struct {
		name       string
		log        string
		short      string
		wantLine   string
		wantGaveUp bool
	}{
		{"empty log", "", "vault", "", false},
		{"give-up", giveUp + "\n", "vault", giveUp, true},
		{"give-up without final newline", "[hub] listening\n" + giveUp, "vault", giveUp, true},
		{"give-up with CRLF", "[hub] listening\r\n" + giveUp + "\r\n", "vault", giveUp, true},
		{"exited with CRLF", giveUp + "\r\n" + exited + "\r\n", "vault", exited, false},
		{"colon form", "[hub] boot\n" + noSpec + "\n", "vault", noSpec, false},
		{"module output is not the supervisor's", "[vault] [supervisor] vault crashed 3x within 60000ms — giving up.\n[vault] giving up.\n", "vault", "", false},
		{"module output after the supervisor's line", exited + "\n[vault] crashed 3x within 60000ms — giving up.\n", "vault", exited, false},
		{"another module sharing the prefix", "[supervisor] vaultx crashed 3x within 60000ms — giving up.\n", "vault", "", false},
		{"another module with a dash", "[supervisor] vault-2 crashed 3x within 60000ms — giving up.\n", "vault", "", false},
		{"the prefix alone", "[supervisor] vault\n", "vault", "", false},
		{"restart after give-up means not given up", giveUp + "\n" + exited + "\n", "vault", exited, false},
		{"give-up after restarts", exited + "\n" + exited + "\n" + giveUp + "\n", "vault", giveUp, true},
		{"last line about vault, not the last line", giveUp + "\n[supervisor] scribe exited (code=1); restart 1/3 in window.\n[scribe] boom\n", "vault", giveUp, true},
		{"other module's give-up", exited + "\n[supervisor] scribe crashed 3x within 60000ms — giving up.\n", "vault", exited, false},
		{"that other module", exited + "\n[supervisor] scribe crashed 3x within 60000ms — giving up.\n", "scribe", "[supervisor] scribe crashed 3x within 60000ms — giving up.", true},
		{"blank lines", "\n\n" + giveUp + "\n\n\n", "vault", giveUp, true},
		{"a tail cut mid-line", "ult crashed 3x within 60000ms — giving up.\n[hub] ok\n", "vault", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, gaveUp := indexSupervisor([]byte(tt.log)).line(tt.short)
			if line != tt.wantLine || gaveUp != tt.wantGaveUp {
				t.Errorf("the supervisor line of %[2]q in %[1]q = %[3]q, %[4]v; want %[5]q, %[6]v", tt.log, tt.short, line, gaveUp, tt.wantLine, tt.wantGaveUp)
			}
		})
	}
	if line, gaveUp := indexSupervisor(nil).line("vault"); line != "" || gaveUp {
		t.Errorf("no log: %q, %v", line, gaveUp)
	}
}

func TestLastLines(t *testing.T) {
	long := strings.Repeat("x", 600)
	tests := []struct {
		name string
		tail string
		n    int
		cut  bool
		want []string
	}{
		{"empty", "", 5, false, nil},
		{"last n in order", "a\nb\nc\nd\ne\n", 3, false, []string{"c", "d", "e"}},
		{"fewer than n", "a\nb\n", 20, false, []string{"a", "b"}},
		{"n zero", "a\nb\n", 0, false, nil},
		{"blank lines skipped", "a\n\n  \t\nb\n\n", 2, false, []string{"a", "b"}},
		{"no final newline", "a\nb", 5, false, []string{"a", "b"}},
		{"cut drops the partial first line", "tial line\nb\nc\n", 5, true, []string{"b", "c"}},
		{"not cut keeps the first line", "tial line\nb\nc\n", 5, false, []string{"tial line", "b", "c"}},
		{"cut single partial line", "only part", 5, true, nil},
		{"CRLF", "a\r\nb\r\n", 5, false, []string{"a", "b"}},
		{"invalid UTF-8 replaced", "ok\xff\xfe\n\xc3(\n", 5, false, []string{"ok\uFFFD", "\uFFFD("}},
		{"valid UTF-8 kept", "naïve café 日本\n", 5, false, []string{"naïve café 日本"}},
		{"over 500 bytes truncated", long + "\nend\n", 5, false, []string{strings.Repeat("x", 500) + "…", "end"}},
		{"exactly 500 bytes kept", strings.Repeat("y", 500) + "\n", 5, false, []string{strings.Repeat("y", 500)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LastLines([]byte(tt.tail), tt.n, tt.cut)
			if !slices.Equal(got, tt.want) {
				t.Errorf("LastLines(%q, %d, %v) = %q, want %q", tt.tail, tt.n, tt.cut, got, tt.want)
			}
		})
	}
}

// A long line of multi-byte runes is cut at byte 500, which may fall
// inside a rune: the result must still be valid UTF-8 ("invalid UTF-8
// replaced" is the function's contract).
func TestLastLinesTruncatesAtRuneBoundary(t *testing.T) {
	line := strings.Repeat("日", 200) // 600 bytes; 500 is inside the 167th rune
	got := LastLines([]byte(line+"\n"), 5, false)
	want := strings.Repeat("日", 166) + "…"
	if len(got) != 1 {
		t.Fatalf("lastLines = %q, want one line", got)
	}
	if !utf8.ValidString(got[0]) || got[0] != want {
		t.Errorf("lastLines cuts a 600-byte line of U+65E5 at byte 500, inside a rune: got %d bytes, valid UTF-8 %v; want %d bytes (166 runes + \"…\"), valid UTF-8",
			len(got[0]), utf8.ValidString(got[0]), len(want))
	}
}

func TestOnPath(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "prog"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(bin, "userx"), "#!/bin/sh\n", 0o744)
	writeFile(t, filepath.Join(bin, "data"), "text\n", 0o644)
	if err := os.Mkdir(filepath.Join(bin, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(bin, "fifo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bin, "prog"), filepath.Join(bin, "link")); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	tests := []struct {
		name    string
		program string
		dirs    []string
		want    bool
	}{
		{"executable in a dir", "prog", []string{other, bin}, true},
		{"owner-executable only", "userx", []string{bin}, true},
		{"not executable", "data", []string{bin}, false},
		{"directory", "sub", []string{bin}, false},
		{"FIFO with x bits", "fifo", []string{bin}, false},
		{"link to an executable", "link", []string{bin}, true},
		{"in no dir", "prog", []string{other}, false},
		{"no dirs", "prog", nil, false},
		{"empty dir entry skipped", "prog", []string{"", other}, false},
		{"absolute executable", filepath.Join(bin, "prog"), nil, true},
		{"absolute not executable", filepath.Join(bin, "data"), []string{bin}, false},
		{"absolute directory", filepath.Join(bin, "sub"), nil, false},
		{"absolute missing", filepath.Join(bin, "missing"), []string{bin}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := onPath(tt.program, tt.dirs); got != tt.want {
				t.Errorf("onPath(%q, %q) = %v, want %v", tt.program, tt.dirs, got, tt.want)
			}
		})
	}
	// A relative PATH entry is never searched, even when it would find the
	// program from the current directory.
	t.Run("relative dir ignored", func(t *testing.T) {
		t.Chdir(bin)
		if onPath("prog", []string{".", "./"}) {
			t.Error(`onPath("prog", [".", "./"]) = true, want false`)
		}
	})
}

func TestHubPathDirs(t *testing.T) {
	t.Setenv("PATH", "/p1:/p2")
	tail := []string{"/p1", "/p2", "/usr/local/bin", "/usr/bin", "/bin"}
	homeDirs := []string{"/home/u/.local/bin", "/home/u/.bun/bin"}
	sd, ld := spec.ManagerSystemd, spec.ManagerLaunchd
	plist := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
	<key>Label</key><string>computer.parachute.hub</string>
	<key>EnvironmentVariables</key>
	<dict><key>HOME</key><string>/home/u</string><key>PATH</key><string>/c:/d</string></dict>
</dict></plist>
`
	tests := []struct {
		name    string
		manager spec.Manager
		content string
		home    string
		want    []string
	}{
		{"nothing", sd, "", "", tail},
		{"home additions", sd, "", "/home/u", slices.Concat(tail, homeDirs)},
		{"systemd quoted", sd, "[Service]\nEnvironment=\"PATH=/a:/b\"\nExecStart=/x\n", "/home/u", slices.Concat([]string{"/a", "/b"}, tail, homeDirs)},
		{"systemd bare", sd, "[Service]\nEnvironment=PATH=/a:/b\n", "", slices.Concat([]string{"/a", "/b"}, tail)},
		{"systemd CRLF", sd, "[Service]\r\nEnvironment=\"PATH=/a:/b\"\r\n", "", slices.Concat([]string{"/a", "/b"}, tail)},
		{"PATH= outside Environment ignored", sd, "[Service]\nExecStart=/bin/env PATH=/z run\n", "", tail},
		// The old reader matched "Environment" and "PATH=" anywhere on a line.
		{"PassEnvironment is not an assignment", sd, "[Service]\nPassEnvironment=PATH=/z\n", "", tail},
		{"a comment sets nothing", sd, "[Service]\n# Environment=PATH=/z\n", "", tail},
		{"only the Service section", sd, "[Unit]\nEnvironment=PATH=/z\n[Service]\nEnvironment=PATH=/a\n", "", slices.Concat([]string{"/a"}, tail)},
		{"an escaped quote inside the value", sd, "[Service]\nEnvironment=\"PATH=/a\\\"b:/c\" HOME=/x\n", "", slices.Concat([]string{"/a\"b", "/c"}, tail)},
		{"a name ending in PATH", sd, "[Service]\nEnvironment=LD_LIBRARY_PATH=/z\n", "", tail},
		{"an empty Environment= clears what came before", sd, "[Service]\nEnvironment=PATH=/z\nEnvironment=\nEnvironment=PATH=/a\n", "", slices.Concat([]string{"/a"}, tail)},
		{"a value systemd ignores", sd, "[Service]\nEnvironment=\"PATH=/z\nEnvironment=PATH=/a\n", "", slices.Concat([]string{"/a"}, tail)},
		{"launchd plist", ld, plist, "/home/u", slices.Concat([]string{"/c", "/d"}, tail, homeDirs)},
		{"a plist is not a systemd unit", sd, plist, "", tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hubPathDirs(tt.manager, tt.content, tt.home); !slices.Equal(got, tt.want) {
				t.Errorf("hubPathDirs = %q\nwant           %q", got, tt.want)
			}
		})
	}
}

// systemd.exec(5): Environment= takes several space-separated assignments
// on one line; a PATH that is not the last one must still be split right.
func TestHubPathDirsSeveralAssignments(t *testing.T) {
	t.Setenv("PATH", "")
	got := hubPathDirs(spec.ManagerSystemd, "[Service]\nEnvironment=\"PATH=/a:/b\" \"HOME=/x\"\n", "")
	if !slices.Contains(got, "/b") {
		t.Errorf("Environment=\"PATH=/a:/b\" \"HOME=/x\" gives dirs %q: /b is lost (read as %q)", got, got[1])
	}
}

// moduleServer serves status on path and 404 elsewhere, on 127.0.0.1, and
// records the requests it was sent.
func moduleServer(t *testing.T, path string, status int) (port int, hits func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func TestModulesBooted(t *testing.T) {
	upPort, upHits := moduleServer(t, "/up/health", http.StatusOK)
	sickPort, sickHits := moduleServer(t, "/sick/health", http.StatusServiceUnavailable)
	exe := executableIn(t, "mod-serve")
	startable := `{"startCmd": ["` + exe + `", "serve"]}`
	missing := filepath.Join(t.TempDir(), "no-such-program")
	box := t.TempDir()
	log := filepath.Join(box, "hub", "logs", "hub.log")
	gone := "[supervisor] gone crashed 3x within 60000ms — giving up."
	flakyGiveUp := "[supervisor] flaky crashed 3x within 60000ms — giving up."
	writeFile(t, log, "[hub] listening on 1939\n"+
		"[supervisor] gone exited (code=1); restart 1/3 in window.\n"+
		flakyGiveUp+"\n"+
		gone+"\n"+
		"[gone] last words\n"+
		"[supervisor] flaky exited (code=1); restart 1/3 in window.\n", 0o644)
	noManifest := t.TempDir()

	mods := []spec.Module{
		{Name: "parachute-up", Short: "up", Port: upPort, Health: "/up/health"},
		{Name: "parachute-sick", Short: "sick", Port: sickPort, Health: "/sick/health", InstallDir: installDir(t, startable)},
		{Name: "parachute-nomanifest", Short: "nomanifest", Port: unusedPort(t), InstallDir: noManifest},
		{Name: "parachute-gone", Short: "gone", Port: unusedPort(t), InstallDir: installDir(t, startable)},
		{Name: "parachute-missing", Short: "missing", Port: unusedPort(t), InstallDir: installDir(t, `{"startCmd": ["`+missing+`"]}`)},
		{Name: "parachute-flaky", Short: "flaky", Port: unusedPort(t), InstallDir: installDir(t, startable)},
	}
	want := []ModuleBoot{
		{Up: true, Status: 200},
		{Status: 503},
		{Unstartable: "no startCmd resolvable: " + filepath.Join(noManifest, ".parachute", "module.json") + " does not exist"},
		{GivenUp: gone},
		{}, // a program missing from the inferred PATH is not judged here
		{},
	}
	var got []ModuleBoot
	withinDeadline(t, 10*time.Second, func() {}, func() {
		got = (&Observer{}).ModulesBooted(context.Background(), box, log, mods)
	})
	if len(got) != len(want) {
		t.Fatalf("ModulesBooted returned %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: got %+v\nwant %+v", mods[i].Short, got[i], want[i])
		}
	}
	if h := upHits(); !slices.Equal(h, []string{"GET /up/health"}) {
		t.Errorf("up module was asked %q, want one GET of its health path", h)
	}
	if h := sickHits(); !slices.Equal(h, []string{"GET /sick/health"}) {
		t.Errorf("sick module was asked %q, want one GET of its health path", h)
	}
}

// The hub log is reached from dir without following a link, and a log
// outside dir is not read at all.
func TestModulesBootedLogReach(t *testing.T) {
	target := filepath.Join(t.TempDir(), "real.log")
	writeFile(t, target, giveUp+"\n", 0o644)
	mod := spec.Module{Name: "parachute-vault", Short: "vault", Port: unusedPort(t)}

	tests := []struct {
		name string
		make func(t *testing.T) (dir, log string)
		want string
	}{
		{"regular log under dir", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			log := filepath.Join(dir, "hub", "logs", "hub.log")
			writeFile(t, log, giveUp+"\n", 0o644)
			return dir, log
		}, giveUp},
		{"log is a symlink", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			log := filepath.Join(dir, "hub", "logs", "hub.log")
			if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, log); err != nil {
				t.Fatal(err)
			}
			return dir, log
		}, ""},
		{"logs directory is a symlink", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "hub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Dir(target), filepath.Join(dir, "hub", "logs")); err != nil {
				t.Fatal(err)
			}
			return dir, filepath.Join(dir, "hub", "logs", "real.log")
		}, ""},
		{"log outside dir", func(t *testing.T) (string, string) { return t.TempDir(), target }, ""},
		{"log is a FIFO", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			log := filepath.Join(dir, "hub.log")
			if err := syscall.Mkfifo(log, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir, log
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, log := tt.make(t)
			var got []ModuleBoot
			withinDeadline(t, 5*time.Second, releaseFIFO(log), func() {
				got = (&Observer{}).ModulesBooted(context.Background(), dir, log, []spec.Module{mod})
			})
			want := []ModuleBoot{{GivenUp: tt.want}}
			if !slices.Equal(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestObserveModulesIdle(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "unitprog"), "#!/bin/sh\n", 0o755)
	t.Setenv("PATH", t.TempDir())
	const idleGiveUp = "[supervisor] idle crashed 3x within 60000ms — giving up."
	logText := "[hub] listening on 1939\n[supervisor] idle exited (code=1); restart 1/3 in window.\n" + idleGiveUp + "\n[supervisor] busy started\n"
	tests := []struct {
		name     string
		startCmd string
		unit     string
		want     IdleModule
	}{
		{"program on no PATH", `["nosuchprogram-xyz", "serve"]`, "", IdleModule{
			StartCmd: []string{"nosuchprogram-xyz", "serve"}, Missing: missingDependency("nosuchprogram-xyz"),
		}},
		{"program on the unit's PATH", `["unitprog"]`, "[Service]\nEnvironment=\"PATH=" + bin + "\"\n", IdleModule{
			StartCmd: []string{"unitprog"},
		}}, {"no start command", `null`, "", IdleModule{
			Unstartable: "no startCmd resolvable: <manifest> has no startCmd (a non-empty array of non-empty strings)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			writeFile(t, filepath.Join(home, "hub", "logs", "hub.log"), logText, 0o644)
			hubPort, idlePort, busyPort := 1939, unusedPort(t), 1940
			idleDir := installDir(t, `{"startCmd": `+tt.startCmd+`}`)
			snap := &Snapshot{
				HubPort: hubPort,
				Modules: []spec.Module{
					{Name: "parachute-idle", Short: "idle", Port: idlePort, InstallDir: idleDir},
					{Name: "parachute-busy", Short: "busy", Port: busyPort},
					{Name: "parachute-onhub", Short: "onhub", Port: hubPort},
				},
				Ports: []Port{
					{Port: hubPort, Owner: "hub", Short: "hub", Listeners: []Listener{{Addr: "127.0.0.1:1939", Pids: []int{10}}}},
					{Port: busyPort, Owner: "parachute-busy", Short: "busy", Listeners: []Listener{{Addr: "127.0.0.1:1940", Pids: []int{11}}}},
					{Port: idlePort, Owner: "parachute-idle", Short: "idle"},
				},
				Health: Health{OK: true, Status: 200},
				Unit:   Unit{Manager: spec.ManagerSystemd, ActiveState: "active", SubState: "running", Result: "success", File: UnitFile{Content: tt.unit}},
			}
			observeModules(spec.Desired{Home: home, User: spec.User{Home: "/nonexistent-home"}}, snap)
			want := tt.want
			want.Unstartable = strings.ReplaceAll(want.Unstartable, "<manifest>", filepath.Join(idleDir, ".parachute", "module.json"))
			want.Name, want.Short, want.Port = "parachute-idle", "idle", idlePort
			want.LastLog, want.GivenUp = idleGiveUp, true
			if len(snap.Idle) != 1 {
				t.Fatalf("Idle = %+v, want one entry", snap.Idle)
			}
			if got := snap.Idle[0]; !reflect.DeepEqual(got, want) {
				t.Errorf("Idle[0] = %+v\nwant      %+v", got, want)
			}
			wantLog := []string{"[hub] listening on 1939", "[supervisor] idle exited (code=1); restart 1/3 in window.", idleGiveUp, "[supervisor] busy started"}
			if !slices.Equal(snap.HubLog, wantLog) {
				t.Errorf("HubLog = %q, want %q", snap.HubLog, wantLog)
			}
			if len(snap.Problems) != 0 {
				t.Errorf("Problems = %q, want none", snap.Problems)
			}
		})
	}
}

// The hub log is read only when something is not right. hub.log is a FIFO
// here: reading it would add a "hub log: … not a regular file" problem, so
// no problem proves it was not even looked at.
func TestObserveModulesReadsLogOnlyWhenTroubled(t *testing.T) {
	listening := func(port int) []Listener {
		return []Listener{{Addr: "127.0.0.1:" + strconv.Itoa(port), Pids: []int{7}}}
	}
	healthy := Unit{ActiveState: "active", SubState: "running", Result: "success"}
	tests := []struct {
		name     string
		unit     Unit
		healthOK bool
		wantRead bool
	}{
		{"converged", healthy, true, false},
		{"converged, no Result known", Unit{ActiveState: "active", SubState: "running"}, true, false},
		{"health not 2xx", healthy, false, true},
		{"unit failed", Unit{ActiveState: "failed", Result: "exit-code"}, true, true},
		{"unit restarting", Unit{ActiveState: "activating", SubState: "auto-restart", Result: "success"}, true, true},
		{"last result not success", Unit{ActiveState: "active", SubState: "running", Result: "signal"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			log := filepath.Join(home, "hub", "logs", "hub.log")
			if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(log, 0o644); err != nil {
				t.Fatal(err)
			}
			snap := &Snapshot{
				HubPort: 1939,
				Modules: []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}, {Name: "parachute-scribe", Short: "scribe", Port: 1943}},
				Ports: []Port{
					{Port: 1939, Owner: "hub", Short: "hub", Listeners: listening(1939)},
					{Port: 1940, Owner: "parachute-vault", Short: "vault", Listeners: listening(1940)},
					{Port: 1943, Owner: "parachute-scribe", Short: "scribe", Listeners: listening(1943)},
				},
				Health: Health{OK: tt.healthOK},
				Unit:   tt.unit,
			}
			withinDeadline(t, 2*time.Second, releaseFIFO(log), func() {
				observeModules(spec.Desired{Home: home}, snap)
			})
			if snap.Idle != nil {
				t.Errorf("Idle = %+v, want nil (every module listens)", snap.Idle)
			}
			if snap.HubLog != nil {
				t.Errorf("HubLog = %q, want nil (the FIFO holds nothing)", snap.HubLog)
			}
			read := len(snap.Problems) > 0
			if read != tt.wantRead {
				t.Errorf("hub log read = %v (Problems %q), want %v", read, snap.Problems, tt.wantRead)
			}
			if tt.wantRead && (len(snap.Problems) != 1 || !strings.HasPrefix(snap.Problems[0], "hub log: ") || !strings.Contains(snap.Problems[0], "not a regular file")) {
				t.Errorf("Problems = %q, want one \"hub log: … not a regular file\"", snap.Problems)
			}
		})
	}
}

// A poll of many booting modules connects only to the ports that listen:
// the rest are known down from one look at the socket table, so waiting
// for hundreds of modules does not take the CPU the hub boots them with.
// A module's manifest is read once per Observer, not on every poll.
func TestModulesBootedAsksOnlyListeningPorts(t *testing.T) {
	upPort, _ := moduleServer(t, "/up/health", http.StatusOK)
	exe := executableIn(t, "mod-serve")
	dir := installDir(t, `{"startCmd": ["`+exe+`", "serve"]}`)
	mods := []spec.Module{{Name: "parachute-up", Short: "up", Port: upPort, Health: "/up/health"}}
	for i := range 40 {
		mods = append(mods, spec.Module{Name: fmt.Sprintf("parachute-m%02d", i), Short: fmt.Sprintf("m%02d", i), Port: unusedPort(t), InstallDir: dir})
	}
	var dials atomic.Int32
	o := &Observer{Env: Env{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	box := t.TempDir()
	got := o.ModulesBooted(context.Background(), box, filepath.Join(box, "hub.log"), mods)
	if !got[0].Up {
		t.Errorf("the listening module is not up: %+v", got[0])
	}
	for _, b := range got[1:] {
		if b.Up || b.Status != 0 || b.Unstartable != "" || b.GivenUp != "" {
			t.Fatalf("a module that does not listen: %+v, want still booting", b)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections for 1 listening module among %d", n, len(mods))
	}
	// The manifest is not read again: removing it changes nothing for
	// this Observer (a new one sees it gone).
	if err := os.Remove(filepath.Join(dir, ".parachute", "module.json")); err != nil {
		t.Fatal(err)
	}
	if again := o.ModulesBooted(context.Background(), box, filepath.Join(box, "hub.log"), mods[1:2]); again[0].Unstartable != "" {
		t.Errorf("the manifest was read again: %+v", again[0])
	}
	if fresh := (&Observer{}).ModulesBooted(context.Background(), box, filepath.Join(box, "hub.log"), mods[1:2]); fresh[0].Unstartable == "" {
		t.Errorf("a new Observer did not see the manifest gone: %+v", fresh[0])
	}
	// A module found unstartable is asked again: a manifest written since
	// (an install finishing) is seen by the same Observer.
	missing := spec.Module{Name: "parachute-late", Short: "late", Port: unusedPort(t), InstallDir: t.TempDir()}
	if first := o.ModulesBooted(context.Background(), box, filepath.Join(box, "hub.log"), []spec.Module{missing}); first[0].Unstartable == "" {
		t.Fatalf("a module without a manifest: %+v, want unstartable", first[0])
	}
	writeFile(t, filepath.Join(missing.InstallDir, ".parachute", "module.json"), `{"startCmd": ["`+exe+`", "serve"]}`, 0o644)
	if later := o.ModulesBooted(context.Background(), box, filepath.Join(box, "hub.log"), []spec.Module{missing}); later[0].Unstartable != "" {
		t.Errorf("a manifest written later is not seen: %+v", later[0])
	}
}
