package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeWorld is an in-memory PATH, symlink table and environment for Load.
type fakeWorld struct {
	path  map[string]string // program name → what LookPath returns
	links map[string]string // path → what EvalSymlinks returns
	env   map[string]string
}

func newWorld() *fakeWorld {
	return &fakeWorld{
		path: map[string]string{
			"parachute": "/home/op/.bun/bin/parachute",
			"bun":       "/home/op/.bun/bin/bun",
		},
		links: map[string]string{
			"/home/op/.bun/bin/parachute": "/home/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts",
		},
		env: map[string]string{},
	}
}

func (w *fakeWorld) lookPath(name string) (string, error) {
	if p, ok := w.path[name]; ok {
		return p, nil
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func (w *fakeWorld) evalSymlinks(p string) (string, error) {
	if r, ok := w.links[p]; ok {
		return r, nil
	}
	if _, ok := w.links[p+"!"]; ok {
		return "", &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrPermission}
	}
	return p, nil
}

func (w *fakeWorld) options(userHome string) Options {
	return Options{
		Getenv:       func(k string) string { return w.env[k] },
		LookPath:     w.lookPath,
		EvalSymlinks: w.evalSymlinks,
		Cwd:          "/srv",
		User:         User{Name: "op", UID: 1000, Home: userHome},
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadDefaults(t *testing.T) {
	w := newWorld()
	w.env["PARACHUTE_EXTRA_PATH"] = "/opt/tools/bin"
	userHome := t.TempDir()
	d, err := Load(w.options(userHome))
	if err != nil {
		t.Fatal(err)
	}
	want := Desired{
		Model:   Supervised,
		Home:    filepath.Join(userHome, ".parachute"),
		HubPort: 1939,
		HubCommand: []string{"/home/op/.bun/bin/bun",
			"/home/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts", "serve"},
		Manager:   ManagerAuto,
		Scope:     ScopeAuto,
		Timeouts:  DefaultTimeouts,
		Manifest:  Manifest{Path: filepath.Join(userHome, ".parachute", "services.json"), Modules: []Module{}, Skipped: []SkippedRow{}},
		User:      User{Name: "op", UID: 1000, Home: userHome},
		ExtraPath: "/opt/tools/bin",
		// No home yet: the invoking user stands in for its owner.
		Owner:       Owner{UID: 1000, Name: "op"},
		HomeMissing: true,
		HomeFrom:    "the default, ~/.parachute (PARACHUTE_HOME is not set; the home directory is " + userHome + ")",
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
}

// TestLoadTrust: the owner is the home's, and an input someone else could
// have written is listed, naming the failing component; a FIFO or a
// device as services.json is invalid input at once, never a hang.
func TestLoadTrust(t *testing.T) {
	w := newWorld()
	userHome := t.TempDir()
	home := filepath.Join(userHome, ".parachute")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(home, "services.json")
	if err := os.WriteFile(manifest, []byte(`{"services":[]}`), 0o664); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(manifest, 0o664); err != nil { // past the umask
		t.Fatal(err)
	}
	opts := w.options(userHome)
	opts.LookupUser = func(uid int) (string, error) { return fmt.Sprintf("user%d", uid), nil }
	d, err := Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Owner{UID: os.Geteuid(), Name: fmt.Sprintf("user%d", os.Geteuid()), Known: true}); os.Geteuid() != 1000 && d.Owner != want {
		t.Errorf("owner %+v, want %+v", d.Owner, want)
	}
	if len(d.Untrusted) != 1 || d.Untrusted[0].What != "services.json" || !strings.Contains(d.Untrusted[0].Why, "writable by group") {
		t.Errorf("untrusted %+v, want services.json writable by group", d.Untrusted)
	}

	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	for name, create := range map[string]func() error{
		"fifo":      func() error { return syscall.Mkfifo(manifest, 0o644) },
		"/dev/zero": func() error { return os.Symlink("/dev/zero", manifest) },
		"directory": func() error { return os.Mkdir(manifest, 0o755) },
	} {
		if err := create(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _, err = Load(opts); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Load hangs", name)
		}
		var ie *InputError
		if !errors.As(err, &ie) || ie.Kind != "services.json" {
			t.Errorf("%s: err %v, want an InputError about services.json", name, err)
		}
		if err := os.RemoveAll(manifest); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadHome(t *testing.T) {
	w := newWorld()
	// PARACHUTE_HOME wins over the user's home, and a relative one is made
	// absolute against the working directory (the hub would keep it relative).
	w.env["PARACHUTE_HOME"] = "box/../box2"
	d, err := Load(w.options("/home/op"))
	if err != nil || d.Home != "/srv/box2" {
		t.Errorf("relative PARACHUTE_HOME: %q, %v; want /srv/box2", d.Home, err)
	}
	w.env["PARACHUTE_HOME"] = "/srv/parachute/"
	d, _ = Load(w.options("/home/op"))
	if d.Home != "/srv/parachute" {
		t.Errorf("absolute PARACHUTE_HOME: %q", d.Home)
	}
	// --home wins, relative to the working directory.
	o := w.options("/home/op")
	o.Home = ptr("other")
	d, _ = Load(o)
	if d.Home != "/srv/other" {
		t.Errorf("--home other: %q", d.Home)
	}
	// Nothing to resolve against.
	delete(w.env, "PARACHUTE_HOME")
	_, err = Load(w.options(""))
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(ue.Fix, "--home") {
		t.Errorf("unknown home: %v, want a *UsageError naming --home", err)
	}
}

func TestResolveHome(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := ResolveHome(getenv, "/home/op"); got != "/home/op/.parachute" {
		t.Errorf("default = %q", got)
	}
	env["PARACHUTE_HOME"] = ""
	if got := ResolveHome(getenv, "/home/op"); got != "/home/op/.parachute" {
		t.Errorf("empty PARACHUTE_HOME = %q, want the default", got)
	}
	env["PARACHUTE_HOME"] = "rel/./x/"
	if got := ResolveHome(getenv, "/home/op"); got != "rel/./x/" {
		t.Errorf("PARACHUTE_HOME is returned verbatim, got %q", got)
	}
	env["PARACHUTE_HOME"] = "~/p"
	if got := AbsHome(ResolveHome(getenv, "/home/op"), "/srv"); got != "/srv/~/p" {
		t.Errorf("no tilde expansion: %q", got)
	}
	if got := AbsHome("/a/b/../c/", "/srv"); got != "/a/c" {
		t.Errorf("AbsHome cleans: %q", got)
	}
}

func TestLoadPrecedence(t *testing.T) {
	w := newWorld()
	dir := t.TempDir()
	fileHome := filepath.Join(dir, "filehome")
	spec := filepath.Join(dir, "spec.yaml")
	text := fmt.Sprintf(`desired: detached
home: %s
hub:
  port: 2000
  command: [bun, /opt/hub/src/cli.ts, serve, --verbose]
  env: {EXTRA: "1"}
manager: systemd
scope: user
timeouts: {stop: 3s}
`, fileHome)
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env["PARACHUTE_HOME"] = "/env/home"

	// The file over the environment and defaults.
	o := w.options("/home/op")
	o.SpecFile = spec
	d, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if d.Model != Detached || d.Home != fileHome || d.HubPort != 2000 || d.Manager != ManagerSystemd || d.Scope != ScopeUser {
		t.Errorf("file values not used: %+v", d)
	}
	if want := (Timeouts{Stop: 3 * time.Second, PortFree: DefaultTimeouts.PortFree, Healthy: DefaultTimeouts.Healthy, Modules: DefaultTimeouts.Modules}); d.Timeouts != want {
		t.Errorf("timeouts = %+v, want %+v", d.Timeouts, want)
	}
	if want := []string{"/home/op/.bun/bin/bun", "/opt/hub/src/cli.ts", "serve", "--verbose"}; !reflect.DeepEqual(d.HubCommand, want) || d.HubCommandProblem != "" {
		t.Errorf("command = %q (%q), want %q: a bare name is looked up on PATH", d.HubCommand, d.HubCommandProblem, want)
	}
	if d.HubEnv["EXTRA"] != "1" {
		t.Errorf("env = %v", d.HubEnv)
	}

	// Flags over the file.
	o.Desired, o.Home, o.Port, o.Manager, o.Scope = ptr(Absent), ptr("/flag/home"), ptr(3000), ptr(ManagerLaunchd), ptr(ScopeSystem)
	d, err = Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if d.Model != Absent || d.Home != "/flag/home" || d.HubPort != 3000 || d.Manager != ManagerLaunchd || d.Scope != ScopeSystem {
		t.Errorf("flags did not win: %+v", d)
	}
	if d.Manifest.Path != "/flag/home/services.json" {
		t.Errorf("services.json read from %q, want the flag's home", d.Manifest.Path)
	}

	// A relative --spec is relative to the working directory.
	o = w.options("/home/op")
	o.Cwd = dir
	o.SpecFile = "spec.yaml"
	if d, err := Load(o); err != nil || d.Model != Detached {
		t.Errorf("relative --spec: %+v, %v", d.Model, err)
	}
}

func TestLoadErrors(t *testing.T) {
	w := newWorld()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("desired: no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	brokenHome := filepath.Join(dir, "broken")
	if err := os.MkdirAll(brokenHome, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(brokenHome, "services.json"), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	usage := []struct {
		name string
		set  func(*Options)
		flag string
	}{
		{"desired", func(o *Options) { o.Desired = ptr(Model("up")) }, "--desired"},
		{"scope", func(o *Options) { o.Scope = ptr(Scope("global")) }, "--scope"},
		{"manager", func(o *Options) { o.Manager = ptr(Manager("upstart")) }, "--manager"},
		{"port 0", func(o *Options) { o.Port = ptr(0) }, "--port"},
		{"port 65536", func(o *Options) { o.Port = ptr(65536) }, "--port"},
		{"empty home", func(o *Options) { o.Home = ptr("") }, "--home"},
		{"tilde home", func(o *Options) { o.Home = ptr("~/x") }, "--home"},
	}
	for _, tt := range usage {
		o := w.options(dir)
		tt.set(&o)
		_, err := Load(o)
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Flag != tt.flag || ue.Fix == "" {
			t.Errorf("%s: err = %v, want a *UsageError for %s", tt.name, err, tt.flag)
		}
	}
	inputs := []struct {
		name string
		set  func(*Options)
		kind string
	}{
		{"bad spec file", func(o *Options) { o.SpecFile = bad }, "spec file"},
		{"missing spec file", func(o *Options) { o.SpecFile = filepath.Join(dir, "none.yaml") }, "spec file"},
		{"unreadable services.json", func(o *Options) { o.Home = ptr(brokenHome) }, "services.json"},
	}
	for _, tt := range inputs {
		o := w.options(dir)
		tt.set(&o)
		_, err := Load(o)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Kind != tt.kind {
			t.Errorf("%s: err = %v, want an *InputError about the %s", tt.name, err, tt.kind)
		}
	}
}

func TestLoadManifest(t *testing.T) {
	w := newWorld()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "services.json"), manifestOf(row("parachute-vault", "1940"), row("../etc", "1941")), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env["PARACHUTE_HOME"] = home
	d, err := Load(w.options("/home/op"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Manifest.Exists || len(d.Manifest.Modules) != 1 || d.Manifest.Modules[0].Short != "vault" || len(d.Manifest.Skipped) != 1 {
		t.Errorf("manifest = %+v", d.Manifest)
	}
}

func TestLoadHubCommandDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*fakeWorld)
		problems []string // fragments; none means the command resolves
	}{
		{"found", func(*fakeWorld) {}, nil},
		{"no parachute", func(w *fakeWorld) { delete(w.path, "parachute") }, []string{"parachute command is not on PATH", "hub.command"}},
		{"no bun", func(w *fakeWorld) { delete(w.path, "bun") }, []string{"bun is not on PATH", "install bun", "hub.command"}},
		{"neither", func(w *fakeWorld) { delete(w.path, "bun"); delete(w.path, "parachute") }, []string{"parachute command is not on PATH", "bun is not on PATH"}},
		{"another parachute", func(w *fakeWorld) { w.links["/home/op/.bun/bin/parachute"] = "/usr/lib/other/bin/parachute" }, []string{"/usr/lib/other/bin/parachute, which is not the hub package's src/cli.ts"}},
		{"cli.ts outside src", func(w *fakeWorld) { w.links["/home/op/.bun/bin/parachute"] = "/opt/hub/cli.ts" }, []string{"not the hub package's src/cli.ts"}},
		{"unresolvable link", func(w *fakeWorld) {
			delete(w.links, "/home/op/.bun/bin/parachute")
			w.links["/home/op/.bun/bin/parachute!"] = ""
		}, []string{"cannot resolve /home/op/.bun/bin/parachute", "permission denied"}},
	}
	for _, tt := range tests {
		w := newWorld()
		tt.change(w)
		d, err := Load(w.options(t.TempDir()))
		if err != nil {
			t.Errorf("%s: Load failed: %v (a missing hub command is not an error)", tt.name, err)
			continue
		}
		if tt.problems == nil {
			if len(d.HubCommand) != 3 || d.HubCommandProblem != "" {
				t.Errorf("%s: command %q problem %q", tt.name, d.HubCommand, d.HubCommandProblem)
			}
			continue
		}
		if d.HubCommand != nil {
			t.Errorf("%s: HubCommand = %q, want none", tt.name, d.HubCommand)
		}
		for _, frag := range tt.problems {
			if !strings.Contains(d.HubCommandProblem, frag) {
				t.Errorf("%s: problem %q lacks %q", tt.name, d.HubCommandProblem, frag)
			}
		}
	}

	// A spec-file command whose program is not on PATH.
	w := newWorld()
	delete(w.path, "bun")
	dir := t.TempDir()
	spec := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(spec, []byte("hub: {command: [bun, /x/src/cli.ts]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := w.options(dir)
	o.SpecFile = spec
	d, err := Load(o)
	if err != nil || d.HubCommand != nil || !strings.Contains(d.HubCommandProblem, `hub.command[0] "bun"`) {
		t.Errorf("spec command not on PATH: %q %q %v", d.HubCommand, d.HubCommandProblem, err)
	}
}

func TestUsageErrorFormat(t *testing.T) {
	e := &UsageError{Flag: "--desired", Value: "up", Problem: "not one of supervised, detached, absent", Fix: "pass one of supervised, detached, absent"}
	if got := e.Error(); got != `--desired "up": not one of supervised, detached, absent — fix: pass one of supervised, detached, absent` {
		t.Errorf("Error() = %q", got)
	}
	e = &UsageError{Problem: "cannot resolve PARACHUTE_HOME", Fix: "pass --home"}
	if got := e.Error(); got != "cannot resolve PARACHUTE_HOME — fix: pass --home" {
		t.Errorf("Error() = %q", got)
	}
}
