package observe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/parachute/reconcile/internal/sdbus/sdbustest"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// systemdBox is a fake machine for the systemd observer: unit directories
// for both scopes in a temp dir and an in-memory manager for our scope.
type systemdBox struct {
	userDir, systemDir string
	mgr                *sdbustest.Manager
	sys                *sdbustest.Manager // the system manager a user's run asks read-only
	dialErr            error
	dials              []string
	linger             map[string]bool
}

func newSystemdBox(t *testing.T) *systemdBox {
	root := t.TempDir()
	b := &systemdBox{
		userDir:   filepath.Join(root, "home/op/.config/systemd/user"),
		systemDir: filepath.Join(root, "etc/systemd/system"),
		mgr:       sdbustest.New("/user.slice/user-1000.slice/user@1000.service/app.slice"),
		sys:       sdbustest.New("/system.slice"),
		linger:    map[string]bool{},
	}
	for _, d := range []string{b.userDir, b.systemDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *systemdBox) observer() SystemdUnits {
	return SystemdUnits{
		Dial: func(ctx context.Context, scope string, uid int) (SystemdManager, error) {
			b.dials = append(b.dials, scope)
			if b.dialErr != nil {
				return nil, b.dialErr
			}
			if scope == "system" {
				return b.sys, nil
			}
			return b.mgr, nil
		},
		Linger: func(ctx context.Context, user string) (bool, error) { return b.linger[user], nil },
	}
}

// write puts a unit file in dir and, for our scope, on the manager's disk.
func (b *systemdBox) write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	switch dir {
	case b.userDir:
		b.mgr.AddFile(name, content)
	case b.systemDir:
		b.sys.AddFile(name, content)
	}
}

func (b *systemdBox) query() UnitQuery {
	return UnitQuery{
		Manager: "systemd", Scope: "user", Name: unitfile.SystemdName,
		Path:        filepath.Join(b.userDir, unitfile.SystemdName),
		OtherPath:   filepath.Join(b.systemDir, unitfile.SystemdName),
		StaleShorts: []string{"hub", "notes", "scribe", "vault", "cloudflared-x"},
		User:        spec.User{Name: "op", UID: 1000, Home: "/home/op"},
	}
}

func hubUnit(t *testing.T) string {
	t.Helper()
	data, err := unitfile.RenderSystemd(unitfile.Hub{
		Home: "/home/op/.parachute", Port: 1939, Command: []string{"/home/op/.bun/bin/bun", "/x/cli.ts", "serve"},
		User: spec.User{Name: "op", UID: 1000, Home: "/home/op"}, GOOS: "linux", GOARCH: "amd64",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestSystemdUnitsConverged(t *testing.T) {
	ctx := context.Background()
	b := newSystemdBox(t)
	content := hubUnit(t)
	b.write(t, b.userDir, unitfile.SystemdName, content)
	b.write(t, b.systemDir, unitfile.SystemdName, "[Service]\nExecStart=/old\n")
	b.write(t, b.userDir, "parachute-vault.service", "[Service]\nExecStart=/v\n[Install]\nWantedBy=default.target\n")
	b.write(t, b.systemDir, "parachute-notes.service", "[Service]\nExecStart=/n\n")
	b.linger["op"] = true
	if err := b.mgr.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{unitfile.SystemdName, "parachute-vault.service"} {
		if err := b.mgr.Enable(ctx, []string{n}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.mgr.Start(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	before := len(b.mgr.Calls())
	rep, err := b.observer().ObserveUnit(ctx, b.query())
	if err != nil {
		t.Fatal(err)
	}
	u := rep.Unit
	if !u.Available || u.Problem != "" || u.Manager != "systemd" || u.Scope != "user" || u.Name != unitfile.SystemdName {
		t.Errorf("unit header %+v", u)
	}
	if !u.File.Exists || u.File.Content != content || u.File.ParseError != "" || u.File.Symlink != "" {
		t.Errorf("unit file %+v", u.File)
	}
	if u.LoadState != "loaded" || u.ActiveState != "active" || u.SubState != "running" || u.UnitFileState != "enabled" ||
		u.MainPID == 0 || !strings.HasSuffix(u.ControlGroup, "/"+unitfile.SystemdName) || u.NeedDaemonReload {
		t.Errorf("manager view %+v", u)
	}
	if rep.OtherScope == nil || rep.OtherScope.Content != "[Service]\nExecStart=/old\n" {
		t.Errorf("other scope %+v", rep.OtherScope)
	}
	want := []StaleUnit{
		// The system manager is asked read-only: it loads the file on demand.
		{Name: "parachute-notes.service", Short: "notes", Scope: "system", LoadState: "loaded", ActiveState: "inactive", UnitFileState: "disabled",
			Manageable: false, ExecStart: [][]string{{"/n"}}},
		{Name: "parachute-vault.service", Short: "vault", Scope: "user", LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled",
			MainPID: rep.Stale[1].MainPID, ControlGroup: "/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-vault.service", Manageable: true,
			ExecStart: [][]string{{"/v"}}},
	}
	if !reflect.DeepEqual(rep.Stale, want) || rep.Stale[1].MainPID == 0 {
		t.Errorf("stale\n%+v\nwant\n%+v", rep.Stale, want)
	}
	if rep.Linger == nil || !*rep.Linger {
		t.Errorf("linger %v", rep.Linger)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems %q", rep.Problems)
	}
	if !b.mgr.Closed() {
		t.Error("connection not closed")
	}
	// It only read, and never asked about the protected or invalid shorts.
	var asked []string
	for _, c := range b.mgr.Calls()[before:] {
		if !strings.HasPrefix(c, "UnitProps ") {
			t.Errorf("the observer changed something: %s", c)
		}
		asked = append(asked, strings.TrimPrefix(c, "UnitProps "))
	}
	wantAsked := []string{unitfile.SystemdName, "parachute-notes.service", "parachute-scribe.service", "parachute-vault.service"}
	if !reflect.DeepEqual(asked, wantAsked) {
		t.Errorf("asked about %q, want %q", asked, wantAsked)
	}
}

func TestSystemdUnitsManagerUnreachable(t *testing.T) {
	b := newSystemdBox(t)
	b.write(t, b.userDir, unitfile.SystemdName, hubUnit(t))
	b.write(t, b.userDir, "parachute-scribe.service", "[Service]\nExecStart=/s\n")
	b.dialErr = errors.New("user manager unreachable: /run/user/1000/bus does not exist (no user session and linger off? run `loginctl enable-linger op`)")

	rep, err := b.observer().ObserveUnit(context.Background(), b.query())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unit.Available || rep.Unit.Problem != b.dialErr.Error() {
		t.Errorf("unit %+v", rep.Unit)
	}
	if !rep.Unit.File.Exists || rep.Unit.LoadState != "" {
		t.Errorf("file or state wrong without a manager: %+v", rep.Unit)
	}
	want := []StaleUnit{{Name: "parachute-scribe.service", Short: "scribe", Scope: "user", Manageable: true, ExecStart: [][]string{{"/s"}}}}
	if !reflect.DeepEqual(rep.Stale, want) {
		t.Errorf("stale %+v", rep.Stale)
	}
	if rep.Linger == nil || *rep.Linger {
		t.Errorf("linger %v (the file is the source of truth, no bus needed)", rep.Linger)
	}
}

func TestSystemdUnitsManagerFails(t *testing.T) {
	b := newSystemdBox(t)
	b.mgr.FailNext("UnitProps", errors.New("The name org.freedesktop.systemd1 was not provided by any .service files"))
	rep, err := b.observer().ObserveUnit(context.Background(), b.query())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unit.Available || !strings.Contains(rep.Unit.Problem, "user manager did not answer") || !strings.Contains(rep.Unit.Problem, "systemd1") {
		t.Errorf("unit %+v", rep.Unit)
	}
	if rep.Unit.File.Exists {
		t.Errorf("no file was written: %+v", rep.Unit.File)
	}
}

func TestSystemdUnitsStaleReadProblem(t *testing.T) {
	b := newSystemdBox(t)
	q := b.query()
	q.StaleShorts = []string{"vault"}
	obs := b.observer()
	// The hub unit read succeeds, the stale unit's fails.
	dial := obs.Dial
	obs.Dial = func(ctx context.Context, scope string, uid int) (SystemdManager, error) {
		m, err := dial(ctx, scope, uid)
		if err == nil {
			// Queued failures are consumed in order: the hub unit's read
			// gets a nil one (succeeds), the stale unit's the timeout.
			b.mgr.FailNext("UnitProps", nil)
			b.mgr.FailNext("UnitProps", errors.New("timeout"))
		}
		return m, err
	}
	rep, err := obs.ObserveUnit(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "stale unit parachute-vault.service: read unit parachute-vault.service: timeout") {
		t.Errorf("problems %q", rep.Problems)
	}
}

func TestSystemdUnitsOddFiles(t *testing.T) {
	b := newSystemdBox(t)
	q := b.query()
	q.StaleShorts = nil

	// Masked: a link to /dev/null reads as empty, parses, and keeps the target.
	if err := os.Symlink(os.DevNull, q.Path); err != nil {
		t.Fatal(err)
	}
	rep, _ := b.observer().ObserveUnit(context.Background(), q)
	if f := rep.Unit.File; !f.Exists || f.Symlink != os.DevNull || f.Content != "" || f.ParseError != "" {
		t.Errorf("masked unit %+v", f)
	}

	// Broken: a parse error is recorded, not a problem.
	os.Remove(q.Path)
	if err := os.WriteFile(q.Path, []byte("[Service\nExecStart=/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ = b.observer().ObserveUnit(context.Background(), q)
	if f := rep.Unit.File; !f.Exists || f.ParseError == "" || f.Content == "" {
		t.Errorf("broken unit %+v", f)
	}

	// A FIFO is reported, never opened for reading (that would block).
	os.Remove(q.Path)
	if err := syscall.Mkfifo(q.Path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	rep, _ = b.observer().ObserveUnit(context.Background(), q)
	if f := rep.Unit.File; !f.Exists || !strings.Contains(f.ParseError, "not a regular file") || len(rep.Problems) != 1 {
		t.Errorf("fifo %+v, problems %q", f, rep.Problems)
	}

	// A dangling symlink exists as a link and says why it cannot be read.
	os.Remove(q.Path)
	if err := os.Symlink("/nonexistent/unit", q.Path); err != nil {
		t.Fatal(err)
	}
	rep, _ = b.observer().ObserveUnit(context.Background(), q)
	if f := rep.Unit.File; !f.Exists || f.Symlink != "/nonexistent/unit" || f.ParseError == "" {
		t.Errorf("dangling link %+v", f)
	}
}

func TestSystemdUnitsSystemScope(t *testing.T) {
	b := newSystemdBox(t)
	q := b.query()
	q.Scope = "system"
	q.Path, q.OtherPath = filepath.Join(b.systemDir, unitfile.SystemdName), filepath.Join(b.userDir, unitfile.SystemdName)
	q.User = spec.User{Name: "root", UID: 0, Home: "/root"}
	q.StaleShorts = []string{"vault"}
	if err := os.WriteFile(filepath.Join(b.userDir, "parachute-vault.service"), []byte("[Service]\nExecStart=/v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.linger["root"] = true
	rep, err := b.observer().ObserveUnit(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Linger != nil {
		t.Errorf("linger asked for a system unit: %v", *rep.Linger)
	}
	want := []StaleUnit{{Name: "parachute-vault.service", Short: "vault", Scope: "user", Manageable: false, ExecStart: [][]string{{"/v"}}}}
	if !reflect.DeepEqual(rep.Stale, want) {
		t.Errorf("stale %+v", rep.Stale)
	}
	if !reflect.DeepEqual(b.dials, []string{"system"}) {
		t.Errorf("dialled %q", b.dials)
	}
}

func TestManagersDispatch(t *testing.T) {
	dir := t.TempDir()
	m := Managers{GOOS: "freebsd"}
	rep, err := m.ObserveUnit(context.Background(), UnitQuery{Name: "x"})
	if err != nil || rep.Unit.Available || rep.Unit.Problem != "no service manager (systemd/launchd) on freebsd" {
		t.Errorf("no manager: %+v, %v", rep.Unit, err)
	}
	m.GOOS = "linux"
	path := filepath.Join(dir, "computer.parachute.hub.plist")
	os.WriteFile(path, []byte("x"), 0o644)
	rep, _ = m.ObserveUnit(context.Background(), UnitQuery{Manager: "launchd", Name: "computer.parachute.hub", Path: path})
	if rep.Unit.Available || rep.Unit.Problem != "service manager launchd cannot be asked from linux" || !rep.Unit.File.Exists {
		t.Errorf("launchd on linux: %+v", rep.Unit)
	}
	b := newSystemdBox(t)
	m.Systemd = b.observer()
	rep, _ = m.ObserveUnit(context.Background(), b.query())
	if !rep.Unit.Available || len(b.dials) != 1 {
		t.Errorf("systemd not dispatched: %+v", rep.Unit)
	}
}

func TestLocateUnit(t *testing.T) {
	d := spec.Desired{Manager: spec.ManagerAuto, Scope: spec.ScopeAuto, User: spec.User{Name: "op", UID: 1000, Home: "/home/op"},
		Manifest: spec.Manifest{Modules: []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}}}}
	q := LocateUnit("linux")(d)
	if q.Manager != "systemd" || q.Scope != "user" || q.Path != "/home/op/.config/systemd/user/parachute-hub.service" ||
		q.OtherPath != "/etc/systemd/system/parachute-hub.service" || q.User != d.User {
		t.Errorf("query %+v", q)
	}
	if !reflect.DeepEqual(q.StaleShorts, unitfile.StaleShorts()) {
		t.Errorf("stale shorts %q", q.StaleShorts)
	}
	d.Manager = spec.ManagerLaunchd
	if q := LocateUnit("linux")(d); q.Manager != "" || q.User != d.User {
		t.Errorf("impossible manager gave %+v", q)
	}
}

// A user's run asks the system manager, read only, about the system
// scope's stale module units: root's active parachute-vault.service is
// reported with its state, not as a file only.
func TestSystemdUnitsOtherScopeQueried(t *testing.T) {
	ctx := context.Background()
	b := newSystemdBox(t)
	b.write(t, b.systemDir, "parachute-vault.service", "[Service]\nExecStart=/usr/bin/parachute-vault serve\n[Install]\nWantedBy=multi-user.target\n")
	if err := b.sys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.sys.Enable(ctx, []string{"parachute-vault.service"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sys.Start(ctx, "parachute-vault.service"); err != nil {
		t.Fatal(err)
	}
	rep, err := b.observer().ObserveUnit(ctx, b.query())
	if err != nil {
		t.Fatal(err)
	}
	var got *StaleUnit
	for i, st := range rep.Stale {
		if st.Scope == "system" && st.Name == "parachute-vault.service" {
			got = &rep.Stale[i]
		}
	}
	if got == nil || got.ActiveState != "active" || got.UnitFileState != "enabled" || got.Manageable || got.MainPID == 0 {
		t.Fatalf("system scope vault unit = %+v; stale %+v", got, rep.Stale)
	}
	for _, c := range b.sys.Calls() {
		if !strings.HasPrefix(c, "UnitProps") && !strings.HasPrefix(c, "LoadStates") && !strings.HasPrefix(c, "Reload") && !strings.HasPrefix(c, "Enable") && !strings.HasPrefix(c, "Start") {
			t.Errorf("the observer changed the system manager: %s", c)
		}
	}
}

// A user's run asks the system manager about a stale module unit whose file
// is anywhere the system manager loads units from (here a vendor directory,
// not /etc/systemd/system where the other scope's hub unit would be), and
// does not dial it at all when no such file exists anywhere.
func TestSystemdUnitsOtherScopeFromAnyUnitDirectory(t *testing.T) {
	ctx := context.Background()
	b := newSystemdBox(t)
	b.write(t, b.userDir, unitfile.SystemdName, hubUnit(t))
	vendor := t.TempDir()
	o := b.observer()
	o.SystemUnitDirs = []string{b.systemDir, vendor}

	if _, err := o.ObserveUnit(ctx, b.query()); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(b.dials, "system") {
		t.Fatalf("dialled the system manager with no stale unit file anywhere: %v", b.dials)
	}

	if err := os.WriteFile(filepath.Join(vendor, "parachute-scribe.service"), []byte("[Service]\nExecStart=/s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.sys.AddFile("parachute-scribe.service", "[Service]\nExecStart=/s\n")
	rep, err := o.ObserveUnit(ctx, b.query())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Stale, func(s StaleUnit) bool {
		return s.Name == "parachute-scribe.service" && s.Scope == "system" && s.LoadState == "loaded" && !s.Manageable
	}) {
		t.Errorf("a system unit loaded from a vendor directory is not reported: %+v", rep.Stale)
	}
}
