package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/parachute/reconcile/examples/internal/boxtest"
)

var bins boxtest.Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "layout-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if bins, err = boxtest.Build(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// testBox is a box directory tree in a test's temporary directory.
type testBox struct {
	root, home, bin, lib string
}

func newTestBox(t *testing.T) testBox {
	root := t.TempDir()
	return testBox{root: root, home: filepath.Join(root, "home"), bin: filepath.Join(root, "bin"), lib: filepath.Join(root, "lib", "node_modules")}
}

// layout runs the layout tool in its own process group (as a shell job
// would be), so the hub it leaves in that group never shares the test's.
func (b testBox) layout(t *testing.T, args ...string) (code int, stdout, stderr string, pid int) {
	t.Helper()
	cmd := exec.Command(bins.Layout, append([]string{"--home", b.home, "--bin", b.bin,
		"--hub-binary", bins.Hub, "--module-binary", bins.Module}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String(), cmd.Process.Pid
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServicesJSONIsWrittenLikeTheHub(t *testing.T) {
	b := newTestBox(t)
	code, _, stderr, _ := b.layout(t, "--modules", "vault,scribe,surface,app,runner")
	if code != 0 {
		t.Fatalf("layout exit %d: %s", code, stderr)
	}
	want := strings.ReplaceAll(read(t, "testdata/services.json.golden"), "@LIB@", b.lib)
	if got := read(t, filepath.Join(b.home, "services.json")); got != want {
		t.Fatalf("services.json:\n%s\nwant:\n%s", got, want)
	}
	// Everything else a detached-era box has, byte for byte where it matters.
	for path, content := range map[string]string{
		filepath.Join(b.home, "vault", ".env"):              "VAULT_TOKEN=standin-vault-token\n",
		filepath.Join(b.home, "runner", ".env"):             "RUNNER_TOKEN=standin-runner-token\n",
		filepath.Join(b.home, "vault", "logs", "vault.log"): "",
		filepath.Join(b.home, "hub", "logs", "hub.log"):     "",
		filepath.Join(b.lib, "@openparachute", "scribe", ".parachute", "module.json"): "{\n  \"startCmd\": [\n    \"" +
			filepath.Join(b.lib, "@openparachute", "scribe", "bin", "parachute-scribe") + "\",\n    \"serve\",\n    \"--health\",\n    \"/scribe/health\"\n  ]\n}\n",
	} {
		if got := read(t, path); got != content {
			t.Errorf("%s = %q, want %q", path, got, content)
		}
	}
	if fi, _ := os.Stat(filepath.Join(b.home, "vault", ".env")); fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, want 0600", fi.Mode().Perm())
	}
	for _, dir := range []string{"hub/run", "vault/run", "well-known"} {
		if fi, err := os.Stat(filepath.Join(b.home, dir)); err != nil || !fi.IsDir() {
			t.Errorf("%s: not a directory (%v)", dir, err)
		}
	}
	for _, f := range []string{"hub/run/hub.pid", "hub/run/hub.port", "vault/run/vault.pid", "hub-instance.json"} {
		if _, err := os.Stat(filepath.Join(b.home, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists without --start", f)
		}
	}
	cli := filepath.Join(b.lib, "@openparachute", "hub", "src", "cli.ts")
	if fi, _ := os.Stat(cli); fi.Mode().Perm() != 0o755 || !strings.HasPrefix(read(t, cli), "#!/usr/bin/env bun\n") {
		t.Errorf("cli.ts: mode %v, want an executable bun script", fi.Mode().Perm())
	}
	for link, target := range map[string]string{
		filepath.Join(b.bin, "bun"):                                               bins.Hub,
		filepath.Join(b.bin, "parachute"):                                         cli,
		filepath.Join(b.lib, "@openparachute", "vault", "bin", "parachute-vault"): bins.Module,
	} {
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Errorf("%s -> %q (%v), want -> %s", link, got, err, target)
		}
	}
}

func TestPrintSpecMatchesDiscoveryOnPATH(t *testing.T) {
	b := newTestBox(t)
	code, stdout, stderr, _ := b.layout(t, "--print-spec", "--hub-port", "21939")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(b.home); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("--print-spec wrote the box")
	}
	var spec struct {
		Desired string `json:"desired"`
		Home    string `json:"home"`
		Hub     struct {
			Port    int      `json:"port"`
			Command []string `json:"command"`
		} `json:"hub"`
	}
	if err := yaml.UnmarshalStrict([]byte(stdout), &spec); err != nil {
		t.Fatalf("spec does not parse: %v\n%s", err, stdout)
	}
	cli := filepath.Join(b.lib, "@openparachute", "hub", "src", "cli.ts")
	if spec.Desired != "supervised" || spec.Home != b.home || spec.Hub.Port != 21939 ||
		!reflect.DeepEqual(spec.Hub.Command, []string{filepath.Join(b.bin, "bun"), cli, "serve"}) {
		t.Fatalf("spec %+v", spec)
	}

	// After laying the box out, docs/design.md's discovery on PATH=<bin>:$PATH finds
	// the same command: parachute -> src/cli.ts, run by the bun on PATH.
	if code, _, stderr, _ := b.layout(t); code != 0 {
		t.Fatalf("layout exit %d: %s", code, stderr)
	}
	t.Setenv("PATH", b.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	parachute, err := exec.LookPath("parachute")
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(parachute)
	if err != nil || resolved != cli {
		t.Fatalf("parachute on PATH resolves to %q (%v), want %s", resolved, err, cli)
	}
	if bun, err := exec.LookPath("bun"); err != nil || bun != spec.Hub.Command[0] {
		t.Fatalf("bun on PATH is %q (%v), want %s", bun, err, spec.Hub.Command[0])
	}
}

func TestLayoutIsIdempotentAndRefusesToClobber(t *testing.T) {
	b := newTestBox(t)
	if code, _, stderr, _ := b.layout(t); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	env := filepath.Join(b.home, "vault", ".env")
	if err := os.WriteFile(env, []byte("VAULT_TOKEN=operator-rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, b.root)
	if code, _, stderr, _ := b.layout(t); code != 0 {
		t.Fatalf("rerun exit %d: %s", code, stderr)
	}
	if after := snapshotTree(t, b.root); !reflect.DeepEqual(before, after) {
		t.Fatalf("a rerun changed the tree:\nbefore %v\nafter  %v", before, after)
	}

	manifest := filepath.Join(b.home, "services.json")
	old := read(t, manifest)
	code, _, stderr, _ := b.layout(t, "--modules", "vault")
	if code != 1 || !strings.Contains(stderr, "refusing to replace it without --force") || read(t, manifest) != old {
		t.Fatalf("different modules without --force: exit %d, %q; services.json must stay", code, stderr)
	}
	if code, _, stderr, _ := b.layout(t, "--modules", "vault", "--force"); code != 0 || read(t, manifest) == old {
		t.Fatalf("--force: exit %d, %q; services.json must be replaced", code, stderr)
	}
	if got := read(t, env); got != "VAULT_TOKEN=operator-rotated\n" {
		t.Fatalf(".env was overwritten: %q", got)
	}

	bun := filepath.Join(b.bin, "bun")
	if err := os.Remove(bun); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bun, []byte("a real bun\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr, _ := b.layout(t, "--modules", "vault"); code != 1 || !strings.Contains(stderr, "is not a symlink") {
		t.Fatalf("bun is a real file: exit %d, %q; want a refusal", code, stderr)
	}
	if read(t, bun) != "a real bun\n" {
		t.Fatal("a real bun was replaced")
	}

	for _, args := range [][]string{
		{"--modules", "vault,vault"}, {"--modules", "Vault"}, {"--modules", "hub"},
		{"--wrapper", "app"}, {"--hub-port", "1940"}, {"stray"},
	} {
		if code, _, _, _ := b.layout(t, args...); code != 64 {
			t.Errorf("args %q: exit %d, want 64", args, code)
		}
	}
}

// snapshotTree maps every path under root to its mode and content (or link
// target), with modification times left out on purpose.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			entry += " -> " + target
		case info.Mode().IsRegular():
			b, _ := os.ReadFile(path)
			entry += " " + string(b)
		}
		tree[path] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestStartRefusesABusyPortBeforeStartingAnything(t *testing.T) {
	b := newTestBox(t)
	hubPort := boxtest.FreePorts(t, 1)[0]
	base := boxtest.FreePortBase(t, 1, 4)
	squatter, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(base+4))
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	code, stdout, stderr, _ := b.layout(t, "--modules", "vault,scribe", "--start",
		"--hub-port", strconv.Itoa(hubPort), "--port-base", strconv.Itoa(base))
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("port %d is not free", base+4)) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var sum summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Started || sum.Hub.Pid != 0 || len(sum.Problems) != 1 {
		t.Fatalf("summary %+v (%v): want nothing started and the problem named", sum, err)
	}
	for _, f := range []string{"hub/run/hub.pid", "vault/run/vault.pid", "scribe/run/scribe.pid"} {
		if _, err := os.Stat(filepath.Join(b.home, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s written although nothing was started", f)
		}
	}
	if boxtest.PortOpen(base+1) || boxtest.PortOpen(hubPort) {
		t.Fatal("something was started")
	}
}

// cleanupBox SIGKILLs what a started box runs, using only the pids layout
// reported (groups only for group leaders) and the extra pids given.
func cleanupBox(t *testing.T, sum summary, extra *[]int) {
	t.Cleanup(func() {
		for _, pid := range *extra {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, m := range sum.Modules {
			if m.Pid > 0 {
				// Descendants too, by pid: a wrapper's child need not share
				// the group when a test fails half-way.
				kids := boxtest.Descendants(m.Pid)
				_ = boxtest.KillGroupOrPid(m.Pid, m.Pgid, syscall.SIGKILL)
				for _, pid := range kids {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if sum.Hub.Pid > 0 {
			_ = boxtest.KillGroupOrPid(sum.Hub.Pid, sum.Hub.Pgid, syscall.SIGKILL)
		}
	})
}

func TestStartLeavesADetachedEraBoxRunning(t *testing.T) {
	b := newTestBox(t)
	base := boxtest.FreePortBase(t, 1, 4, 7)
	hubPort := boxtest.FreePorts(t, 1)[0]
	for hubPort == base+1 || hubPort == base+4 || hubPort == base+7 {
		hubPort = boxtest.FreePorts(t, 1)[0]
	}
	code, stdout, stderr, layoutPid := b.layout(t, "--modules", "vault,scribe,surface", "--wrapper", "scribe",
		"--setsid-child", "surface", "--start", "--hub-port", strconv.Itoa(hubPort), "--port-base", strconv.Itoa(base))
	var sum summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary: %v\n%s\n%s", err, stdout, stderr)
	}
	var extra []int
	cleanupBox(t, sum, &extra)
	if code != 0 || !sum.Started || !sum.Ready || len(sum.Modules) != 3 {
		t.Fatalf("exit %d, summary %+v, stderr %s", code, sum, stderr)
	}
	// layout has exited; all its processes run on, every port answers.
	for _, p := range []int{hubPort, base + 1, base + 4, base + 7} {
		if !boxtest.PortOpen(p) {
			t.Errorf("port %d does not answer after layout exited", p)
		}
	}

	// The hub: pidfile and port file byte for byte, argv of the detached
	// era, in layout's process group (not a group leader), holding its port.
	hub := sum.Hub
	if got := read(t, filepath.Join(b.home, "hub", "run", "hub.pid")); got != fmt.Sprintf("%d\n", hub.Pid) {
		t.Errorf("hub.pid %q, want %d", got, hub.Pid)
	}
	if got := read(t, filepath.Join(b.home, "hub", "run", "hub.port")); got != fmt.Sprintf("%d\n", hubPort) {
		t.Errorf("hub.port %q, want %d", got, hubPort)
	}
	hst, err := boxtest.ReadStat(hub.Pid)
	if err != nil || hst.Pgid != layoutPid || hst.Pgid == hub.Pid || hst.Pgid != hub.Pgid || hst.Sid != hub.Sid {
		t.Errorf("hub stat %+v (%v): want the group of layout (pid %d), not its own; summary %+v", hst, err, layoutPid, hub)
	}
	wantArgv := []string{filepath.Join(b.bin, "bun"), filepath.Join(b.lib, "@openparachute", "hub", "src", "hub-server.ts"),
		"--port", strconv.Itoa(hubPort), "--well-known-dir", filepath.Join(b.home, "well-known"), "--db", filepath.Join(b.home, "hub.db")}
	if argv, _ := boxtest.Cmdline(hub.Pid); !reflect.DeepEqual(argv, wantArgv) || !reflect.DeepEqual(hub.Argv, wantArgv) {
		t.Errorf("hub argv %q (summary %q), want %q", argv, hub.Argv, wantArgv)
	}
	if pids, _ := boxtest.PortHolders(hubPort); !reflect.DeepEqual(pids, []int{hub.Pid}) {
		t.Errorf("hub port holders %v, want [%d]", pids, hub.Pid)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", hubPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"status":"ok","service":"parachute-hub","version":"0.7.15-standin","db":"ok"}` {
		t.Errorf("/health: %d %s", resp.StatusCode, body)
	}
	if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", hub.Pid)); link != filepath.Join(b.home, "hub", "logs", "hub.log") {
		t.Errorf("hub stdout is %q, want hub.log", link)
	}

	// The modules: each a group leader with its pidfile, started as the old
	// CLI did, and the right process holding its port.
	byShort := map[string]moduleSummary{}
	for _, m := range sum.Modules {
		byShort[m.Short] = m
		if got := read(t, m.Pidfile); got != fmt.Sprintf("%d\n", m.Pid) {
			t.Errorf("%s pidfile %q, want %d", m.Short, got, m.Pid)
		}
		st, err := boxtest.ReadStat(m.Pid)
		if err != nil || st.Pgid != m.Pid || m.Pgid != m.Pid || st.Sid != hst.Sid {
			t.Errorf("%s stat %+v (%v): want its own group in layout's session", m.Short, st, err)
		}
		argv, _ := boxtest.Cmdline(m.Pid)
		if len(argv) < 2 || !strings.Contains(argv[0], "parachute-"+m.Short) || argv[1] != "serve" {
			t.Errorf("%s argv %q lacks the module markers", m.Short, argv)
		}
		if cwd, _ := boxtest.Cwd(m.Pid); cwd != m.InstallDir {
			t.Errorf("%s cwd %s, want %s", m.Short, cwd, m.InstallDir)
		}
		environ, _ := boxtest.Environ(m.Pid)
		upper := strings.ToUpper(m.Short)
		for _, kv := range []string{"PORT=" + strconv.Itoa(m.Port), upper + "_TOKEN=standin-" + m.Short + "-token", "PARACHUTE_HOME=" + b.home} {
			if !slices.Contains(environ, kv) {
				t.Errorf("%s env lacks %s", m.Short, kv)
			}
		}
		if in, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", m.Pid)); in != "/dev/null" {
			t.Errorf("%s stdin is %q, want /dev/null", m.Short, in)
		}
		for _, fd := range []int{1, 2} {
			if out, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", m.Pid, fd)); out != m.Log {
				t.Errorf("%s fd %d is %q, want its log", m.Short, fd, out)
			}
		}
	}
	vault, scribe, surface := byShort["vault"], byShort["scribe"], byShort["surface"]
	if pids, _ := boxtest.PortHolders(vault.Port); !reflect.DeepEqual(pids, []int{vault.Pid}) {
		t.Errorf("vault port holders %v, want the pidfile's %d", pids, vault.Pid)
	}
	if !strings.Contains(read(t, vault.Log), fmt.Sprintf("parachute-vault listening on 127.0.0.1:%d", vault.Port)) {
		t.Errorf("vault.log: %q", read(t, vault.Log))
	}

	// scribe: the wrapper's child holds the port, inside the wrapper's group.
	sh, _ := boxtest.PortHolders(scribe.Port)
	if len(sh) != 1 || sh[0] == scribe.Pid || !slices.Contains(boxtest.Children(scribe.Pid), sh[0]) {
		t.Fatalf("scribe port holders %v: want one child of the wrapper %d (children %v)", sh, scribe.Pid, boxtest.Children(scribe.Pid))
	}
	if st, _ := boxtest.ReadStat(sh[0]); st.Pgid != scribe.Pid {
		t.Errorf("scribe holder %+v: want it in the wrapper's group %d", st, scribe.Pid)
	}

	// surface: the holder called setsid: its own session, still a child.
	fh, _ := boxtest.PortHolders(surface.Port)
	if len(fh) == 1 {
		extra = append(extra, fh[0])
	}
	if len(fh) != 1 || !slices.Contains(boxtest.Children(surface.Pid), fh[0]) {
		t.Fatalf("surface port holders %v: want one child of %d", fh, surface.Pid)
	}
	if st, _ := boxtest.ReadStat(fh[0]); st.Sid != fh[0] || st.Pgid != fh[0] {
		t.Errorf("surface holder %+v: want a session and group of its own", st)
	}

	// Stopping as the reconciler will: SIGTERM to the hub's pid (never its
	// group: that is layout's) clears hub.pid and hub.port; group kills end
	// the modules and the wrapper's child, not the setsid child.
	if err := syscall.Kill(hub.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, m := range sum.Modules {
		if err := syscall.Kill(-m.Pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := boxtest.WaitDead(ctx, hub.Pid, vault.Pid, scribe.Pid, sh[0], surface.Pid); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hub.pid", "hub.port"} {
		if _, err := os.Stat(filepath.Join(b.home, "hub", "run", f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("hub/run/%s still there after the hub stopped", f)
		}
	}
	if !boxtest.Alive(fh[0]) || !boxtest.PortOpen(surface.Port) {
		t.Error("the setsid child died with its wrapper's group")
	}
	for _, p := range []int{hubPort, vault.Port, scribe.Port} {
		if boxtest.PortOpen(p) {
			t.Errorf("port %d still open", p)
		}
	}
}

func TestSpecCommandRunsTheBoxSupervised(t *testing.T) {
	b := newTestBox(t)
	base := boxtest.FreePortBase(t, 1, 4)
	hubPort := boxtest.FreePorts(t, 1)[0]
	code, stdout, stderr, _ := b.layout(t, "--modules", "vault,scribe", "--wrapper", "scribe",
		"--hub-port", strconv.Itoa(hubPort), "--port-base", strconv.Itoa(base))
	if code != 0 {
		t.Fatalf("layout exit %d: %s %s", code, stdout, stderr)
	}
	// `parachute serve` through PATH: the cli.ts link's #!/usr/bin/env bun
	// line runs the stand-in bun, which follows the link to cli.ts.
	out, err := os.Create(filepath.Join(b.root, "hub.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	hub := exec.Command(filepath.Join(b.bin, "parachute"), "serve")
	hub.Env = append(os.Environ(), "PATH="+b.bin+":"+os.Getenv("PATH"), "PARACHUTE_HOME="+b.home,
		"PORT="+strconv.Itoa(hubPort), "PARACHUTE_BIND_HOST=127.0.0.1")
	hub.Stdout, hub.Stderr = out, out
	hub.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = hub.Wait(); close(done) }()
	defer func() {
		select {
		case <-done:
		default:
			kids := boxtest.Descendants(hub.Process.Pid)
			_ = syscall.Kill(-hub.Process.Pid, syscall.SIGKILL)
			for _, pid := range kids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			<-done
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []int{hubPort, base + 1, base + 4} {
		if err := boxtest.WaitPort(ctx, p, true); err != nil {
			t.Fatalf("%v\n%s", err, read(t, out.Name()))
		}
	}
	argv, _ := boxtest.Cmdline(hub.Process.Pid)
	cli := filepath.Join(b.bin, "parachute")
	// env execs the bun it finds on PATH with argv[0] "bun".
	if len(argv) != 3 || argv[0] != "bun" || argv[1] != cli || argv[2] != "serve" {
		t.Errorf("hub argv %q, want [bun %s serve]", argv, cli)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", hub.Process.Pid)); exe != bins.Hub {
		t.Errorf("hub exe %s, want the stand-in hub %s", exe, bins.Hub)
	}
	var holders []int
	for _, p := range []int{base + 1, base + 4} {
		pids, _ := boxtest.PortHolders(p)
		if len(pids) != 1 || !slices.Contains(boxtest.Descendants(hub.Process.Pid), pids[0]) {
			t.Fatalf("port %d holders %v: want one descendant of the hub %d", p, pids, hub.Process.Pid)
		}
		holders = append(holders, pids[0])
	}
	if err := hub.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("hub exit: %v\n%s", waitErr, read(t, out.Name()))
		}
	case <-ctx.Done():
		t.Fatal("hub did not stop")
	}
	if err := boxtest.WaitDead(ctx, holders...); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.home, "hub-instance.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("hub-instance.json left behind")
	}
}
