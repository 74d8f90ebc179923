package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/fakeproc"
	"github.com/parachute/reconcile/spec"
)

// btime of testdata/proc/stat.
var fakeBoot = time.Unix(1700000000, 0)

// fakeLinks are the symlinks of the fake /proc tree (see testdata/proc/README.md):
// per pid, its fd targets, exe and cwd ("" = no link: unreadable).
var fakeLinks = map[int]struct {
	fds      []string
	exe, cwd string
}{
	1:   {[]string{"/dev/null"}, "/usr/lib/systemd/systemd", "/"},
	100: {[]string{"/dev/null", "pipe:[77]", "socket:[1001]", "socket:[1004]"}, "/home/op/.bun/bin/bun", "/H"},
	101: {[]string{"/dev/null", "socket:[1001]", "socket:[1002]", "socket:[1002]"}, "/home/op/.bun/bin/bun", "/H"},
	123: {[]string{"socket:[2002]"}, "", "/home/op"},
	200: {[]string{"/dev/null"}, "/home/op/.bun/bin/bun", "/home/op/.bun/install/global/node_modules/@openparachute/vault"},
	201: {nil, "/usr/bin/node", "/opt/vault"},
	202: {[]string{"/dev/null", "socket:[2001]"}, "/usr/bin/node", "/opt/vault"},
	500: {[]string{"/dev/null"}, "/usr/bin/bash", "/home/op"},
	600: {[]string{"socket:[11]"}, "/home/ci/actions-runner/bin/Runner.Listener", "/home/ci/actions-runner"},
	700: {nil, "/usr/bin/python3.12", "/srv"}, // fd is made unreadable below
	800: {[]string{"/dev/null", "socket:[4001]"}, "/usr/sbin/nginx", "/"},
	900: {[]string{"/dev/null"}, "/usr/bin/bun", ""},
	950: {[]string{"/dev/null"}, "/usr/bin/sleep", "/"},
	960: {[]string{"/dev/null"}, "/usr/bin/sleep", "/"},
}

// fakeProc copies testdata/proc to a temporary directory and adds the links.
// Process 700's fd entry is a plain file, so reading it as a directory fails
// as it would with EACCES for a non-root reader (root cannot be denied by
// permissions, and the tests may run as root). Process 400 (a zombie) has no
// fd directory at all.
func fakeProc(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "proc")
	if err := os.CopyFS(root, os.DirFS("testdata/proc")); err != nil {
		t.Fatal(err)
	}
	for pid, l := range fakeLinks {
		fds := l.fds
		if fds == nil && pid != 700 {
			fds = []string{}
		}
		if err := fakeproc.Links(root, pid, fds, l.exe, l.cwd); err != nil {
			t.Fatal(err)
		}
	}
	if err := fakeproc.HideFdDir(root, 700); err != nil {
		t.Fatal(err)
	}
	return root
}

// writeRunFile writes <home>/<short>/run/<name> with the given mtime.
func writeRunFile(t *testing.T, home, short, name, content string, mtime time.Time) string {
	t.Helper()
	dir := filepath.Join(home, short, "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// fakeHome lays out the pidfiles of the fake world.
func fakeHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	at := func(sec float64) time.Time { return fakeBoot.Add(time.Duration(sec * float64(time.Second))) }
	writeRunFile(t, home, "hub", "hub.pid", "100\n", at(501))
	writeRunFile(t, home, "hub", "hub.port", "1939\n", at(501))
	writeRunFile(t, home, "vault", "vault.pid", "200\n", at(600.5))
	writeRunFile(t, home, "scribe", "scribe.pid", "123abc", at(700))
	writeRunFile(t, home, "app", "app.pid", "400\n", at(800))
	writeRunFile(t, home, "surface", "surface.pid", "500\n", at(800))   // 500 started at 900: reused
	writeRunFile(t, home, "runner", "runner.pid", "600\n", at(200))     // a CI runner: not ours by argv
	writeRunFile(t, home, "notes", "notes.pid", "900\n", at(400.5))     // `bun server.ts`, cwd unreadable
	writeRunFile(t, home, "channel", "channel.pid", "garbage\n", at(1)) // invalid
	if err := os.MkdirAll(filepath.Join(home, "agent", "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, "/etc/passwd", filepath.Join(home, "agent", "run", "agent.pid"))
	return home
}

func fakeDesired(home string) spec.Desired {
	return spec.Desired{
		Model:      spec.Supervised,
		Home:       home,
		HubPort:    1939,
		HubCommand: []string{"/home/op/.bun/bin/bun", "/opt/hub/src/cli.ts", "serve"},
		User:       spec.User{Name: "op", UID: 1000, Home: "/home/op"},
		Manifest: spec.Manifest{Exists: true, Modules: []spec.Module{
			{Name: "parachute-vault", Short: "vault", Port: 1940, InstallDir: "/home/op/.bun/install/global/node_modules/@openparachute/vault"},
			{Name: "parachute-vault-team", Short: "parachute-vault-team", Port: 1940},
			{Name: "parachute-runner", Short: "parachute-runner", Port: 1941, LegacyShorts: []string{"runner"}},
			{Name: "parachute-notes", Short: "notes", Port: 1942, InstallDir: "/opt/notes"},
			{Name: "parachute-scribe", Short: "scribe", Port: 1943},
			{Name: "parachute-app", Short: "app", Port: 1944},
			{Name: "parachute-surface", Short: "surface", Port: 1946},
		}},
	}
}

// pipeConn is one end of an in-memory connection that reports a chosen local
// address, as a loopback TCP connection would.
type pipeConn struct {
	net.Conn
	local net.Addr
}

func (c pipeConn) LocalAddr() net.Addr { return c.local }

// pipeHealth returns an Env.Dial that connects to an in-memory hub answering
// GET /health with status and body, from client address local. It counts
// dials and checks that only 127.0.0.1 is asked for.
func pipeHealth(t *testing.T, local string, status int, body string) (func(context.Context, string, string) (net.Conn, error), *[]string) {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	var mu sync.Mutex
	var asked []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		asked = append(asked, network+" "+addr)
		mu.Unlock()
		client, server := net.Pipe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer server.Close()
			req, err := http.ReadRequest(bufio.NewReader(server))
			if err != nil {
				return
			}
			if req.URL.Path != "/health" || req.Method != http.MethodGet {
				status = http.StatusNotFound
			}
			fmt.Fprintf(server, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, http.StatusText(status), len(body), body)
			io.Copy(io.Discard, server) // hold until the client closes
		}()
		addrPort, err := net.ResolveTCPAddr("tcp", local)
		if err != nil {
			return nil, err
		}
		return pipeConn{Conn: client, local: addrPort}, nil
	}
	return dial, &asked
}

func fakeEnv(t *testing.T, root string, dial func(context.Context, string, string) (net.Conn, error)) (Env, map[int]int) {
	lookups := map[int]int{}
	return Env{
		ProcRoot: root,
		GOOS:     "linux",
		Now:      func() time.Time { return fakeBoot.Add(time.Hour) },
		Self:     5000,
		Parent:   4999,
		Dial:     dial,
		LookupUser: func(uid int) (string, error) {
			lookups[uid]++
			switch uid {
			case 0:
				return "root", nil
			case 1000:
				return "op", nil
			case 33:
				return "www-data", nil
			}
			return "", errors.New("unknown user")
		},
	}, lookups
}

const hubBody = `{"status":"ok","service":"parachute-hub","version":"0.7.15","db":"ok","instance":"5f0c"}`

func TestObserveFakeWorld(t *testing.T) {
	root := fakeProc(t)
	home := fakeHome(t)
	dial, asked := pipeHealth(t, "127.0.0.1:54321", 200, hubBody)
	env, lookups := fakeEnv(t, root, dial)
	units := newFakeUnits()
	units.Put("parachute-hub.service", UnitReport{
		Unit:     Unit{Manager: "systemd", Available: true, Scope: "user", Name: "parachute-hub.service", LoadState: "loaded", ActiveState: "active", MainPID: 960},
		Stale:    []StaleUnit{{Name: "parachute-vault.service", Short: "vault", Scope: "user"}, {Name: "parachute-app.service", Short: "app", Scope: "user"}},
		Problems: []string{"z: a problem from the unit observer"},
	})
	o := &Observer{Env: env, Units: units, Locate: func(d spec.Desired) UnitQuery {
		return UnitQuery{Manager: "systemd", Scope: "user", Name: "parachute-hub.service", Path: "/home/op/.config/systemd/user/parachute-hub.service"}
	}}
	d := fakeDesired(home)
	snap, err := o.Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("basics", func(t *testing.T) {
		if snap.Self != 5000 || snap.Parent != 4999 || snap.GOOS != "linux" || snap.HubPort != 1939 || snap.Home != home {
			t.Errorf("basics = self %d parent %d goos %s hubPort %d home %s", snap.Self, snap.Parent, snap.GOOS, snap.HubPort, snap.Home)
		}
		if !snap.Taken.Equal(fakeBoot.Add(time.Hour)) {
			t.Errorf("Taken = %v, want the injected clock", snap.Taken)
		}
		if len(snap.Modules) != 7 {
			t.Errorf("Modules = %d, want 7", len(snap.Modules))
		}
		if !slices.Equal(*asked, []string{"tcp4 127.0.0.1:1939"}) {
			t.Errorf("dialled %v, want exactly one tcp4 127.0.0.1:1939", *asked)
		}
	})

	t.Run("ports", func(t *testing.T) {
		want := []Port{
			{Port: 1939, Owner: "hub", Short: "hub", Listeners: []Listener{{Addr: "127.0.0.1:1939", Inode: 1001, UID: 1000, Pids: []int{100, 101}}}},
			{Port: 1940, Owner: "parachute-vault", Short: "vault", Listeners: []Listener{{Addr: "[::]:1940", Inode: 2001, UID: 1000, Pids: []int{202}}}},
			{Port: 1941, Owner: "parachute-runner", Short: "parachute-runner", Listeners: []Listener{}},
			{Port: 1942, Owner: "parachute-notes", Short: "notes", Listeners: []Listener{}},
			{Port: 1943, Owner: "parachute-scribe", Short: "scribe", Listeners: []Listener{{Addr: "[::1]:1943", Inode: 2002, UID: 1000, Pids: []int{123}}}},
			{Port: 1944, Owner: "parachute-app", Short: "app", Listeners: []Listener{{Addr: "0.0.0.0:1944", Inode: 4001, UID: 33, Pids: []int{800}}}},
			{Port: 1946, Owner: "parachute-surface", Short: "surface", Listeners: []Listener{{Addr: "0.0.0.0:1946", Inode: 3001, UID: 1001, Pids: []int{}}}},
		}
		assertJSONEqual(t, "Ports", snap.Ports, want)
	})

	t.Run("pidfiles", func(t *testing.T) {
		type row struct {
			Service string
			Module  string
			Legacy  bool
			Pid     int
			State   PidState
		}
		var got []row
		for _, p := range snap.Pidfiles {
			got = append(got, row{p.Service, p.Module, p.Legacy, p.Pid, p.State})
			if want := filepath.Join(home, p.Service, "run", p.Service+".pid"); p.Path != want {
				t.Errorf("pidfile path %s, want %s", p.Path, want)
			}
			if p.State != PidLive && p.Reason == "" {
				t.Errorf("pidfile %s is %s without a reason", p.Path, p.State)
			}
		}
		want := []row{ // sorted by path
			{"app", "parachute-app", false, 400, PidDead},
			{"channel", "", true, 0, PidInvalid},
			{"hub", "", false, 100, PidLive},
			// Live is a claim: notes (cwd unreadable) and runner (another
			// user, a stranger's argv) are the planner's to refuse.
			{"notes", "parachute-notes", false, 900, PidLive},
			{"runner", "parachute-runner", true, 600, PidLive},
			{"scribe", "parachute-scribe", false, 123, PidLive},
			{"surface", "parachute-surface", false, 500, PidReused},
			{"vault", "parachute-vault", false, 200, PidLive},
		}
		assertJSONEqual(t, "Pidfiles", got, want)
		for _, p := range snap.Pidfiles {
			switch p.Service {
			case "app":
				wantContains(t, p.Reason, "zombie")
			case "surface":
				wantContains(t, p.Reason, "after the file was written")
			case "runner", "notes", "hub":
				wantContains(t, p.Reason, "started before the file was written")
			}
		}
		if snap.HubPortFile == nil || snap.HubPortFile.Port != 1939 || snap.HubPortFile.Path != filepath.Join(home, "hub", "run", "hub.port") {
			t.Errorf("HubPortFile = %+v", snap.HubPortFile)
		}
	})

	t.Run("processes", func(t *testing.T) {
		var pids []int
		for _, p := range snap.Processes {
			pids = append(pids, p.Pid)
		}
		// holders 100 101 202 123 800 and ancestors (1, 201, 200); seeds 100
		// (group 90: 101, 950), 200 (201, 202), 123, 900; reused/dead pidfile
		// pids 400 500 600 as themselves; the unit's MainPID 960.
		if want := []int{1, 100, 101, 123, 200, 201, 202, 400, 500, 600, 800, 900, 950, 960}; !slices.Equal(pids, want) {
			t.Fatalf("process pids = %v, want %v", pids, want)
		}
		byPid := map[int]Process{}
		for _, p := range snap.Processes {
			byPid[p.Pid] = p
		}
		g := byPid[202]
		want202 := Process{Pid: 202, PPid: 201, Pgid: 202, Sid: 202, UID: 1000, User: "op", StartTicks: 60100,
			Started: fakeBoot.Add(601 * time.Second), Argv: []string{"node", "/opt/vault/node_modules/.bin/tsx", "server.ts"},
			Exe: "/usr/bin/node", Cwd: "/opt/vault", Cgroup: "/user.slice/user-1000.slice/session-3.scope", State: "S"}
		assertJSONEqual(t, "process 202", g, want202)
		if p := byPid[400]; !p.Zombie() {
			t.Errorf("400 = %+v, want a zombie", p)
		}
		// The fake /proc has no environ files: a live claim's environment
		// is reported unreadable.
		if p := byPid[123]; !slices.Equal(p.Unreadable, []string{"environ", "exe"}) || p.Cwd != "/home/op" {
			t.Errorf("123 unreadable = %v cwd %q, want [environ exe] /home/op", p.Unreadable, p.Cwd)
		}
		if p := byPid[600]; p.UID != 1001 || p.User != "" {
			t.Errorf("600 uid %d user %q, want 1001 and no name (lookup fails)", p.UID, p.User)
		}
		if p := byPid[100]; p.Pgid != 90 || p.Cgroup != "/user.slice/user-1000.slice/session-3.scope" {
			t.Errorf("100 = %+v", p)
		}
		for uid, n := range lookups {
			if n != 1 {
				t.Errorf("uid %d looked up %d times, want once (cached)", uid, n)
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		want := Health{URL: "http://127.0.0.1:1939/health", Status: 200, OK: true, Service: "parachute-hub",
			Version: "0.7.15", Instance: "5f0c", DB: "ok", AnsweredBy: 101}
		assertJSONEqual(t, "Health", snap.Health, want)
	})

	t.Run("unit", func(t *testing.T) {
		if snap.Unit.MainPID != 960 || snap.Unit.ActiveState != "active" || !snap.Unit.Available {
			t.Errorf("Unit = %+v", snap.Unit)
		}
		if len(snap.StaleUnits) != 2 || snap.StaleUnits[0].Name != "parachute-app.service" {
			t.Errorf("StaleUnits = %+v, want sorted by name", snap.StaleUnits)
		}
		q := units.queries[0]
		if q.User != d.User {
			t.Errorf("query user = %+v, want the desired user", q.User)
		}
		// The hub's catalogue of every era, sorted; never a row's own
		// name (parachute-runner, parachute-vault-team).
		want := []string{"agent", "app", "channel", "notes", "runner", "scribe", "surface", "vault"}
		if !slices.Equal(q.StaleShorts, want) {
			t.Errorf("StaleShorts = %v, want %v", q.StaleShorts, want)
		}
	})

	t.Run("problems", func(t *testing.T) {
		if !slices.IsSorted(snap.Problems) {
			t.Errorf("problems not sorted: %q", snap.Problems)
		}
		for _, want := range []string{
			"port 1946: listener 0.0.0.0:1946 (inode 3001, uid 1001) held, owner unknown: the open files of 1 processes are unreadable here (700)",
			fmt.Sprintf("%s is a symlink to /etc/passwd: refusing to go through a link", filepath.Join(home, "agent", "run", "agent.pid")),
			"z: a problem from the unit observer",
		} {
			if !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("no problem containing %q in %q", want, snap.Problems)
			}
		}
		if len(snap.Problems) != 3 {
			t.Errorf("%d problems, want 3: %q", len(snap.Problems), snap.Problems)
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		dial2, _ := pipeHealth(t, "127.0.0.1:54321", 200, hubBody)
		o2 := &Observer{Env: o.Env, Units: o.Units, Locate: o.Locate}
		o2.Env.Dial = dial2
		again, err := o2.Observe(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(snap)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Errorf("two observations of the same world differ:\n%s\n%s", a, b)
		}
	})
}

// The server side of the health connection decides who answered; without it
// (no matching ESTABLISHED row), a listener shared by a process and its
// child (a worker, or a fork before its exec) is the parent's, and a single
// owner is taken.
func TestObserveAnsweredByFallback(t *testing.T) {
	d := fakeDesired(t.TempDir())
	root := fakeProc(t)
	dial, _ := pipeHealth(t, "127.0.0.1:60000", 200, hubBody) // no row has this peer
	env, _ := fakeEnv(t, root, dial)
	snap, err := New(env).Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.AnsweredBy != 100 || !snap.Health.OK {
		t.Errorf("listener shared by 100 and its child 101, no server side: AnsweredBy = %d, want 100; health %+v", snap.Health.AnsweredBy, snap.Health)
	}

	// Only 100 holds the listener now.
	if err := os.Remove(filepath.Join(root, "101", "fd", "1")); err != nil {
		t.Fatal(err)
	}
	dial, _ = pipeHealth(t, "127.0.0.1:60000", 200, hubBody)
	env.Dial = dial
	snap, err = New(env).Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.AnsweredBy != 100 {
		t.Errorf("single listener owner: AnsweredBy = %d, want 100", snap.Health.AnsweredBy)
	}
}

func TestObserveNoUnitsNoHealth(t *testing.T) {
	root := fakeProc(t)
	env, _ := fakeEnv(t, root, func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("connect: connection refused")
	})
	d := fakeDesired(t.TempDir())
	snap, err := New(env).Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Unit.Available || snap.Unit.Problem != "no service manager observer" {
		t.Errorf("Unit = %+v, want unavailable with the no-observer problem", snap.Unit)
	}
	if snap.Health.Status != 0 || snap.Health.OK || !strings.Contains(snap.Health.Error, "connection refused") || snap.Health.AnsweredBy != 100 && snap.Health.AnsweredBy != 0 {
		t.Errorf("Health = %+v", snap.Health)
	}
	if len(snap.Pidfiles) != 0 || snap.HubPortFile != nil {
		t.Errorf("empty home: pidfiles %v, port file %v", snap.Pidfiles, snap.HubPortFile)
	}
	// No pidfiles, no unit: the processes are the holders and their ancestors.
	var pids []int
	for _, p := range snap.Processes {
		pids = append(pids, p.Pid)
	}
	if want := []int{1, 100, 101, 123, 200, 201, 202, 800}; !slices.Equal(pids, want) {
		t.Errorf("pids = %v, want %v", pids, want)
	}
}

func TestObserveUnitFailure(t *testing.T) {
	root := fakeProc(t)
	env, _ := fakeEnv(t, root, func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("refused") })
	units := newFakeUnits()
	units.FailNext(errors.New("dbus: connection reset"))
	o := &Observer{Env: env, Units: units, Locate: func(spec.Desired) UnitQuery {
		return UnitQuery{Manager: "systemd", Scope: "user", Name: "parachute-hub.service", Path: "/u/parachute-hub.service"}
	}}
	snap, err := o.Observe(context.Background(), fakeDesired(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Unit.Available || snap.Unit.Name != "parachute-hub.service" || snap.Unit.File.Path != "/u/parachute-hub.service" || !strings.Contains(snap.Unit.Problem, "connection reset") {
		t.Errorf("Unit = %+v", snap.Unit)
	}
	if !slices.Contains(snap.Problems, "hub unit parachute-hub.service: dbus: connection reset") {
		t.Errorf("Problems = %q", snap.Problems)
	}
}

// A missing process table is a problem, not "everything is free and dead".
func TestObserveNoProc(t *testing.T) {
	home := fakeHome(t)
	env, _ := fakeEnv(t, filepath.Join(t.TempDir(), "nothing"), func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("refused") })
	snap, err := New(env).Observe(context.Background(), fakeDesired(home))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"start times unknown", "listening sockets unknown", "port 1939: cannot tell whether it is free", "read process table"} {
		if !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem containing %q in %q", want, snap.Problems)
		}
	}
	for _, p := range snap.Pidfiles {
		if p.State == PidDead || p.State == PidLive {
			t.Errorf("pidfile %s is %s with no process table; want unknown (or invalid)", p.Service, p.State)
		}
	}
}

func TestObserveRejects(t *testing.T) {
	o := New(Env{ProcRoot: "testdata/proc"})
	if _, err := o.Observe(context.Background(), spec.Desired{}); err == nil {
		t.Error("no home: want error")
	}
	if _, err := o.Observe(context.Background(), spec.Desired{Home: "rel/home"}); err == nil {
		t.Error("relative home: want error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Observe(ctx, spec.Desired{Home: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func assertJSONEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func wantContains(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}

// Unreadable open files are normal for a non-root observer; they are a
// problem only when a declared port's listener is left without an owner.
func TestObserveUnreadableFdsElsewhere(t *testing.T) {
	root := fakeProc(t)
	env, _ := fakeEnv(t, root, func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("refused") })
	d := fakeDesired(t.TempDir())
	d.Manifest.Modules = d.Manifest.Modules[:1] // vault only: 1946 is not declared
	snap, err := New(env).Observe(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) != 0 {
		t.Errorf("problems = %q, want none", snap.Problems)
	}
	if len(snap.Ports) != 2 || len(snap.Ports[1].Listeners) != 1 || !slices.Equal(snap.Ports[1].Listeners[0].Pids, []int{202}) {
		t.Errorf("ports = %+v", snap.Ports)
	}
}

func TestPortHoldersAndProbeHealthFake(t *testing.T) {
	root := fakeProc(t)
	dial, _ := pipeHealth(t, "127.0.0.1:54321", 200, hubBody)
	env, _ := fakeEnv(t, root, dial)
	o := New(env)
	tests := []struct {
		port    int
		pids    []int
		unknown int
	}{
		{1939, []int{100, 101}, 0},
		{1940, []int{202}, 0},
		{1946, nil, 1}, // held, fds unreadable
		{1941, nil, 0}, // only a TIME_WAIT row: free
		{2000, nil, 0},
	}
	for _, tt := range tests {
		pids, unknown, err := o.PortHolders(tt.port)
		if err != nil || !slices.Equal(pids, tt.pids) || unknown != tt.unknown {
			t.Errorf("PortHolders(%d) = %v, %d, %v; want %v, %d", tt.port, pids, unknown, err, tt.pids, tt.unknown)
		}
	}
	ok, by, err := o.ProbeHealth(context.Background(), 1939)
	if err != nil || !ok || by != 101 {
		t.Errorf("ProbeHealth = %v, %d, %v; want true, 101 (the server side's holder)", ok, by, err)
	}
	o.Env.Dial = func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("connect: connection refused")
	}
	if ok, by, err := o.ProbeHealth(context.Background(), 1939); err == nil || ok || by != 0 {
		t.Errorf("refused: ProbeHealth = %v, %d, %v; want an error", ok, by, err)
	}
	o.Env.ProcRoot = filepath.Join(t.TempDir(), "none")
	if _, _, err := o.PortHolders(1939); err == nil {
		t.Error("no socket tables: PortHolders must fail, not say free")
	}
}
