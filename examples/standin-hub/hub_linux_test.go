package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/examples/internal/boxtest"
)

// layoutBox lays out (does not start) a box with the layout tool and returns
// its home, hub port and module ports by short.
func layoutBox(t *testing.T, args ...string) (home string, hubPort, base int) {
	t.Helper()
	root := t.TempDir()
	home = filepath.Join(root, "home")
	hubPort = boxtest.FreePorts(t, 1)[0]
	base = boxtest.FreePortBase(t, 1, 4, 7)
	cmd := exec.Command(bins.Layout, append([]string{"--home", home, "--bin", filepath.Join(root, "bin"),
		"--hub-binary", bins.Hub, "--module-binary", bins.Module,
		"--hub-port", strconv.Itoa(hubPort), "--port-base", strconv.Itoa(base)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("layout: %v\n%s", err, out)
	}
	return home, hubPort, base
}

// hubProc is a stand-in hub started by a test.
type hubProc struct {
	*boxtest.Started
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
}

// startHub starts the stand-in hub with args and env (added to ours), in its
// own process group, and SIGKILLs that group when the test ends if it is
// still running.
func startHub(t *testing.T, env []string, args ...string) *hubProc {
	t.Helper()
	h := &hubProc{cmd: exec.Command(bins.Hub, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	h.cmd.Env = append(os.Environ(), env...)
	h.cmd.Stdout, h.cmd.Stderr = h.stdout, h.stderr
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h.Started = boxtest.Start(t, h.cmd)
	t.Cleanup(func() {
		select {
		case <-h.Done:
		default:
			// A test that failed half-way: the hub's children lead groups
			// of their own, so end them by pid before the hub goes.
			kids := boxtest.Descendants(h.cmd.Process.Pid)
			_ = boxtest.KillGroupOrPid(h.cmd.Process.Pid, h.cmd.Process.Pid, syscall.SIGKILL)
			for _, pid := range kids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			<-h.Done
		}
	})
	return h
}

// pid is the hub's pid.
func (h *hubProc) pid() int { return h.Pid() }

// signal sends sig to the hub alone.
func (h *hubProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the hub to exit and returns its exit code.
func (h *hubProc) wait(t *testing.T) int {
	t.Helper()
	return h.ExitCode(t, 20*time.Second)
}

func waitOpen(t *testing.T, ports ...int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range ports {
		if err := boxtest.WaitPort(ctx, p, true); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFile waits until path exists: the hub binds first and writes its
// files right after, so an open port does not yet mean they are there.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// holder returns the one pid holding port.
func holder(t *testing.T, port int) int {
	t.Helper()
	pids, err := boxtest.PortHolders(port)
	if err != nil || len(pids) != 1 {
		t.Fatalf("port %d holders %v (%v), want exactly one", port, pids, err)
	}
	return pids[0]
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestServeBindsFirstBootsModulesAndStopsThemOnSIGTERM(t *testing.T) {
	home, hubPort, base := layoutBox(t, "--modules", "vault,scribe", "--wrapper", "scribe")
	vaultPort, scribePort := base+1, base+4
	// A stale .env PORT must not win over services.json (hub#537).
	envPath := filepath.Join(home, "vault", ".env")
	f, err := os.OpenFile(envPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("PORT=1\nQUOTED=\"a b\"\n")
	_ = f.Close()

	env := []string{"PARACHUTE_HOME=" + home, "PORT=" + strconv.Itoa(hubPort), "PARACHUTE_BIND_HOST=127.0.0.1"}
	hub := startHub(t, env, "serve")
	waitOpen(t, hubPort, vaultPort, scribePort)

	// /health: the exact shape, from the hub's pid, with the instance of
	// hub-instance.json.
	resp, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/health", hubPort))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("/health: %d %v", resp.StatusCode, resp.Header)
	}
	var health map[string]string
	if err := json.Unmarshal(body, &health); err != nil {
		t.Fatalf("/health body %s: %v", body, err)
	}
	instance := health["instance"]
	wantBody := fmt.Sprintf(`{"status":"ok","service":"parachute-hub","version":"0.7.15-standin","db":"ok","instance":"%s"}`, instance)
	if string(body) != wantBody || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(instance) {
		t.Fatalf("/health body\n got %s\nwant %s", body, wantBody)
	}
	if got := holder(t, hubPort); got != hub.pid() {
		t.Fatalf("hub port held by %d, want the hub %d", got, hub.pid())
	}
	if ls, _ := boxtest.Listeners(hubPort); len(ls) != 1 || ls[0].Addr != fmt.Sprintf("127.0.0.1:%d", hubPort) {
		t.Fatalf("hub listeners %v, want only 127.0.0.1 (PARACHUTE_BIND_HOST)", ls)
	}
	instPath := filepath.Join(home, "hub-instance.json")
	waitFile(t, instPath)
	inst, err := os.ReadFile(instPath)
	if err != nil {
		t.Fatal(err)
	}
	instRE := regexp.MustCompile(fmt.Sprintf(`^\{\n  "instance": "%s",\n  "pid": %d,\n  "port": %d,\n  "startedAt": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\n\}\n$`,
		instance, hub.pid(), hubPort))
	if !instRE.Match(inst) {
		t.Fatalf("hub-instance.json:\n%s", inst)
	}
	if fi, _ := os.Stat(instPath); fi.Mode().Perm() != 0o644 {
		t.Fatalf("hub-instance.json mode %v", fi.Mode().Perm())
	}

	// vault: a child of the hub, leading its own group, PORT from
	// services.json, the rest of .env, cwd installDir.
	vault := holder(t, vaultPort)
	st, _ := boxtest.ReadStat(vault)
	if st.PPid != hub.pid() || st.Pgid != vault {
		t.Fatalf("vault %+v: want a child of the hub %d leading its own group", st, hub.pid())
	}
	environ, _ := boxtest.Environ(vault)
	for _, kv := range []string{"PORT=" + strconv.Itoa(vaultPort), "VAULT_TOKEN=standin-vault-token", "QUOTED=a b", "PARACHUTE_HOME=" + home} {
		if !slices.Contains(environ, kv) {
			t.Errorf("vault env lacks %s", kv)
		}
	}
	if slices.Contains(environ, "PORT=1") || slices.Contains(environ, "PORT="+strconv.Itoa(hubPort)) {
		t.Errorf("vault env has a wrong PORT: %v", environ)
	}
	if cwd, _ := boxtest.Cwd(vault); !strings.HasSuffix(cwd, "/@openparachute/vault") {
		t.Errorf("vault cwd %s, want its installDir", cwd)
	}
	// scribe runs through a wrapper: the port holder is the wrapper's child,
	// in the wrapper's group.
	scribe := holder(t, scribePort)
	sst, _ := boxtest.ReadStat(scribe)
	wst, _ := boxtest.ReadStat(sst.PPid)
	if wst.PPid != hub.pid() || wst.Pgid != wst.Pid || sst.Pgid != wst.Pid {
		t.Fatalf("scribe holder %+v, wrapper %+v: want hub -> wrapper (group leader) -> holder in that group", sst, wst)
	}

	// A second serve on the same port fails at the bind, before any module.
	second := startHub(t, env, "serve")
	if code := second.wait(t); code != 1 {
		t.Fatalf("second serve exited %d, want 1", code)
	}
	if want := fmt.Sprintf("parachute serve: hub port %d is already in use — another hub/supervisor is running.\n", hubPort); second.stderr.String() != want {
		t.Fatalf("second serve stderr %q, want %q", second.stderr.String(), want)
	}
	if second.stdout.String() != "" {
		t.Fatalf("second serve printed %q; it must boot nothing", second.stdout.String())
	}

	hub.signal(t, syscall.SIGTERM)
	if code := hub.wait(t); code != 0 {
		t.Fatalf("hub exited %d after SIGTERM, want 0\n%s", code, hub.stdout.String())
	}
	if _, err := os.Stat(instPath); !os.IsNotExist(err) {
		t.Fatalf("hub-instance.json still there after a graceful stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := boxtest.WaitDead(ctx, vault, scribe, wst.Pid); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{hubPort, vaultPort, scribePort} {
		if boxtest.PortOpen(p) {
			t.Errorf("port %d still open", p)
		}
	}
	out := hub.stdout.String()
	for _, want := range []string{"[supervisor] booting 2 module(s)", "[vault] parachute-vault listening on 127.0.0.1:" + strconv.Itoa(vaultPort), "[scribe] parachute-scribe wrapper"} {
		if !strings.Contains(out, want) {
			t.Errorf("hub output lacks %q:\n%s", want, out)
		}
	}
}

func TestServeDefaultsToAllIPv4Interfaces(t *testing.T) {
	home := t.TempDir()
	port := boxtest.FreePorts(t, 1)[0]
	hub := startHub(t, []string{"PARACHUTE_HOME=" + home, "PORT=" + strconv.Itoa(port), "PARACHUTE_BIND_HOST="}, "serve")
	waitOpen(t, port)
	if ls, _ := boxtest.Listeners(port); len(ls) != 1 || ls[0].Addr != fmt.Sprintf("0.0.0.0:%d", port) {
		t.Fatalf("listeners %v, want 0.0.0.0 only", ls)
	}
	hub.signal(t, syscall.SIGINT)
	if code := hub.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGINT", code)
	}
}

func TestHubServerModeWritesAndClearsPidAndPortFiles(t *testing.T) {
	for _, form := range []string{"script", "bare"} {
		t.Run(form, func(t *testing.T) {
			home := t.TempDir()
			port := boxtest.FreePorts(t, 1)[0]
			args := []string{"--port", strconv.Itoa(port), "--well-known-dir", filepath.Join(home, "well-known"), "--db", filepath.Join(home, "hub.db")}
			if form == "script" {
				args = append([]string{"/pkg/src/hub-server.ts"}, args...)
			}
			hub := startHub(t, []string{"PARACHUTE_HOME=" + home, "PARACHUTE_BIND_HOST="}, args...)
			waitOpen(t, port)
			pidfile, portfile := filepath.Join(home, "hub", "run", "hub.pid"), filepath.Join(home, "hub", "run", "hub.port")
			waitFile(t, portfile) // written after hub.pid
			if b, _ := os.ReadFile(pidfile); string(b) != fmt.Sprintf("%d\n", hub.pid()) {
				t.Fatalf("hub.pid %q, want %d", b, hub.pid())
			}
			if b, _ := os.ReadFile(portfile); string(b) != fmt.Sprintf("%d\n", port) {
				t.Fatalf("hub.port %q, want %d", b, port)
			}
			if ls, _ := boxtest.Listeners(port); len(ls) != 1 || ls[0].Addr != fmt.Sprintf("127.0.0.1:%d", port) {
				t.Fatalf("listeners %v, want 127.0.0.1 only", ls)
			}
			_, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/health", port))
			if string(body) != `{"status":"ok","service":"parachute-hub","version":"0.7.15-standin","db":"ok"}` {
				t.Fatalf("/health %s: want no instance from hub-server", body)
			}
			resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/modules/vault/start", port), "application/json", bytes.NewReader(nil))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || !strings.Contains(string(b), `"error":"supervisor_unavailable"`) {
				t.Fatalf("module op: %d %s, want 503 supervisor_unavailable", resp.StatusCode, b)
			}
			if _, err := os.Stat(filepath.Join(home, "hub-instance.json")); !os.IsNotExist(err) {
				t.Fatal("hub-server wrote hub-instance.json")
			}
			hub.signal(t, syscall.SIGTERM)
			if code := hub.wait(t); code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, p := range []string{pidfile, portfile} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s still there after SIGTERM", p)
				}
			}
		})
	}
}

func TestTestKnobsAndUsage(t *testing.T) {
	home := t.TempDir()
	port := boxtest.FreePorts(t, 1)[0]
	env := []string{"PARACHUTE_HOME=" + home, "PORT=" + strconv.Itoa(port)}

	failing := startHub(t, append(env, "STANDIN_HUB_FAIL=1"), "serve")
	if code := failing.wait(t); code != 1 || !strings.Contains(failing.stderr.String(), "STANDIN_HUB_FAIL") {
		t.Fatalf("STANDIN_HUB_FAIL: exit %d, stderr %q", code, failing.stderr.String())
	}

	// A signal during a slow bind: exit 0, never bound, nothing written.
	hub := startHub(t, append(env, "STANDIN_HUB_SLOW_BIND=1h"), "serve")
	time.Sleep(100 * time.Millisecond)
	if boxtest.PortOpen(port) {
		t.Fatal("bound during a 1h slow bind")
	}
	hub.signal(t, syscall.SIGTERM)
	if code := hub.wait(t); code != 0 {
		t.Fatalf("SIGTERM during slow bind: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(home, "hub-instance.json")); !os.IsNotExist(err) {
		t.Fatal("wrote hub-instance.json without binding")
	}

	// A short slow bind delays the bind by at least that long.
	start := time.Now()
	hub = startHub(t, append(env, "STANDIN_HUB_SLOW_BIND=300ms"), "serve")
	waitOpen(t, port)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("bound after %v, before the 300ms slow bind", waited)
	}
	hub.signal(t, syscall.SIGTERM)
	if code := hub.wait(t); code != 0 {
		t.Fatalf("exit %d after a slow bind", code)
	}

	for _, args := range [][]string{{}, {"start"}, {"/pkg/src/cli.ts", "migrate"}} {
		h := startHub(t, env, args...)
		if code := h.wait(t); code != 64 || !strings.Contains(h.stderr.String(), "unsupported invocation") {
			t.Errorf("args %q: exit %d, stderr %q; want 64", args, code, h.stderr.String())
		}
	}
	bad := startHub(t, []string{"PARACHUTE_HOME=" + home, "PORT=70000"}, "serve")
	if code := bad.wait(t); code != 1 || !strings.Contains(bad.stderr.String(), `PORT must be 1..65535, got "70000"`) {
		t.Fatalf("bad PORT: exit %d, stderr %q", code, bad.stderr.String())
	}
}
