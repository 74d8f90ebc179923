package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/parachute/reconcile/reconcile"
)

// TestMain makes the test binary double as the parachute command inside
// scripts, under both of its names (testscript re-executes it under each).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"parachute": main, "parachute-reconcile": main})
}

// The example box's programs, built once for all scripts.
var examples struct {
	once sync.Once
	dir  string
	err  error
}

func buildExamples(t *testing.T) string {
	examples.once.Do(func() {
		dir, err := os.MkdirTemp("", "parachute-script-bin-")
		if err != nil {
			examples.err = err
			return
		}
		examples.dir = dir
		for _, pkg := range []string{"standin-hub", "standin-module", "layout"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "../../examples/"+pkg)
			if out, err := cmd.CombinedOutput(); err != nil {
				examples.err = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if examples.err != nil {
		t.Fatal(examples.err)
	}
	return examples.dir
}

// TestScripts runs testdata/script/*.txtar against the real binary, real
// processes on loopback and a sandboxed PARACHUTE_HOME. Refresh golden
// output with -update.
func TestScripts(t *testing.T) {
	bin := buildExamples(t)
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
		Setup: func(env *testscript.Env) error {
			base, err := freePortRange(12)
			if err != nil {
				return err
			}
			env.Setenv("EXAMPLES", bin)
			env.Setenv("HUB_PORT", strconv.Itoa(base))
			env.Setenv("PORT_BASE", strconv.Itoa(base))
			for _, m := range []struct {
				short string
				port  int
			}{{"VAULT", 1940}, {"SCRIBE", 1943}, {"SURFACE", 1946}} {
				env.Setenv(m.short+"_PORT", strconv.Itoa(base+m.port-1939))
			}
			env.Setenv("HOME", filepath.Join(env.WorkDir, "userhome"))
			env.Setenv("PARACHUTE_HOME", filepath.Join(env.WorkDir, "box"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"box":        cmdBox,
			"expect":     cmdExpect,
			"squat":      cmdSquat,
			"alive":      cmdAlive,
			"hold-lock":  cmdHoldLock,
			"plan-check": cmdPlanCheck,
			"snapshot":   cmdSnapshot,
			"stray":      cmdStray,
			"kill-group": cmdKillGroup,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "systemd" {
				// systemd is PID 1 here (sd_booted's test).
				_, err := os.Stat("/run/systemd/system")
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// freePortRange finds n consecutive free loopback ports.
func freePortRange(n int) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65000 {
			continue
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free port range")
}

// box [--start] [layout flags…]: lay out the example box (detached era)
// in $PARACHUTE_HOME with ports from $PORT_BASE, write spec.yaml, and kill
// what it started when the script ends (the tool under test is expected to
// have stopped it already; this only guards against leaks).
func cmdBox(ts *testscript.TestScript, neg bool, args []string) {
	bin := ts.Getenv("EXAMPLES")
	flags := []string{"--home", ts.Getenv("PARACHUTE_HOME"), "--bin", ts.MkAbs("boxbin"), "--lib", ts.MkAbs("lib"),
		"--hub-binary", filepath.Join(bin, "standin-hub"), "--module-binary", filepath.Join(bin, "standin-module"),
		"--hub-port", ts.Getenv("HUB_PORT"), "--port-base", ts.Getenv("PORT_BASE")}
	layout := exec.Command(filepath.Join(bin, "layout"), append(flags, args...)...)
	// Its own group: the detached-era hub stays in it, never in ours.
	layout.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := layout.Output()
	if err != nil {
		ts.Fatalf("layout: %v\n%s", err, exitStderr(err))
	}
	var summary struct {
		Hub     struct{ Pid int }
		Modules []struct{ Pid, Pgid int }
	}
	if json.Unmarshal(out, &summary) == nil {
		ts.Defer(func() {
			if summary.Hub.Pid > 0 {
				_ = syscall.Kill(summary.Hub.Pid, syscall.SIGKILL)
			}
			for _, m := range summary.Modules {
				if m.Pgid > 1 {
					_ = syscall.Kill(-m.Pgid, syscall.SIGKILL)
				}
			}
		})
	}
	spec, err := exec.Command(filepath.Join(bin, "layout"), append(flags, "--print-spec")...).Output()
	if err != nil {
		ts.Fatalf("layout --print-spec: %v", err)
	}
	ts.Check(os.WriteFile(ts.MkAbs("spec.yaml"), spec, 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("layout.json"), out, 0o644))
	// The hub a later run starts detached is no child of the script:
	// stop it (by the pid it wrote) when the script ends.
	home := ts.Getenv("PARACHUTE_HOME")
	ts.Defer(func() {
		if b, err := os.ReadFile(filepath.Join(home, "hub", "run", "hub.pid")); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 1 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
}

func exitStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// expect CODE PROG ARGS…: run PROG and require exit status CODE; its
// output is kept for the stdout/stderr commands.
func cmdExpect(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: expect CODE PROG [ARGS…]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// squat PORT: a process that is not part of the box listens on PORT until
// the script ends. Its pid goes to $WORK/squatter.pid.
func cmdSquat(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: squat PORT")
	}
	// A copy of the stand-in module under a name and path with no
	// parachute marker: an operator's own dev server.
	dev := ts.MkAbs("devtools/webserver-" + args[0])
	ts.Check(os.MkdirAll(filepath.Dir(dev), 0o755))
	data, err := os.ReadFile(filepath.Join(ts.Getenv("EXAMPLES"), "standin-module"))
	ts.Check(err)
	ts.Check(os.WriteFile(dev, data, 0o755))
	// A child another script forked while the file was open for writing
	// holds that descriptor until its own exec: starting the file then
	// fails with ETXTBSY for a moment (golang.org/issue/22315).
	var cmd *exec.Cmd
	for i := 0; ; i++ {
		cmd = exec.Command(dev, "serve")
		cmd.Env = append(os.Environ(), "PORT="+args[0])
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err = cmd.Start()
		if !errors.Is(err, syscall.ETXTBSY) || i == 100 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Check(err)
	ts.Defer(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ts.Check(os.WriteFile(ts.MkAbs("squatter.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp4", "127.0.0.1:"+args[0], 50*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("squatter never listened on :%s", args[0])
}

// stray FILE: start a process that is not part of the box (sleep) and
// write its pid to FILE.
func cmdStray(ts *testscript.TestScript, neg bool, args []string) {
	cmd := exec.Command("sleep", "300")
	ts.Check(cmd.Start())
	ts.Defer(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
}

// kill-group PIDFILE: SIGKILL the process group led by the pid in PIDFILE
// (one the script's box started) and wait until it is gone.
func cmdKillGroup(ts *testscript.TestScript, neg bool, args []string) {
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	ts.Check(err)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 250 && syscall.Kill(pid, 0) == nil && !zombie(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// alive FILE…: each FILE holds a pid (a pidfile); require it alive (with
// !, dead).
func cmdAlive(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(f)))
		ts.Check(err)
		up := syscall.Kill(pid, 0) == nil && !zombie(pid)
		if up == neg {
			ts.Fatalf("pid %d (%s) alive=%v", pid, f, up)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// hold-lock DIR: take DIR/.reconcile.lock until the script ends.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	fl := flock.New(filepath.Join(dir, ".reconcile.lock"))
	ok, err := fl.TryLock()
	ts.Check(err)
	if !ok {
		ts.Fatalf("lock already held")
	}
	ts.Defer(func() { _ = fl.Unlock() })
}

// plan-check FILE CHECK…: checks on a JSON plan document. Checks:
//
//	order             write-unit < stops < wait-port-free < start-unit < wait-healthy
//	no-stop PIDFILE   no stop step names the pid in PIDFILE
//	stops-all         every live pidfile's pid has a stop step (or is in a stopped group)
//	stops-none        no stop steps at all
//	blocker PIDFILE   a blocker names the pid in PIDFILE, with argv
func cmdPlanCheck(ts *testscript.TestScript, neg bool, args []string) {
	var doc reconcile.Document
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc))
	if doc.Schema != reconcile.Schema {
		ts.Fatalf("schema %q", doc.Schema)
	}
	pidIn := func(f string) int {
		pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(f)))
		ts.Check(err)
		return pid
	}
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "order":
			rank := map[reconcile.Action]int{reconcile.WriteUnit: 0, reconcile.Stop: 1, reconcile.WaitPortFree: 3, reconcile.StartUnit: 4, reconcile.StartDetached: 4, reconcile.WaitHealthy: 5}
			last := -1
			for _, st := range doc.Steps {
				r, ok := rank[st.Action]
				if !ok {
					continue
				}
				if r < last {
					ts.Fatalf("step %d %s out of order", st.N, st.Action)
				}
				last = r
			}
		case "no-stop":
			i++
			pid := pidIn(args[i])
			for _, st := range doc.Steps {
				if st.Action == reconcile.Stop && st.Pid == pid {
					ts.Fatalf("step %d stops pid %d", st.N, pid)
				}
			}
		case "stops-none":
			for _, st := range doc.Steps {
				if st.Action == reconcile.Stop || st.Action == reconcile.StopUnit || st.Action == reconcile.DisableUnit {
					ts.Fatalf("step %d %s in a plan that must stop nothing", st.N, st.Action)
				}
			}
		case "stops-all":
			groups := map[int]bool{}
			pids := map[int]bool{}
			for _, st := range doc.Steps {
				if st.Action == reconcile.Stop {
					pids[st.Pid] = true
					if st.Pgid > 0 {
						groups[st.Pgid] = true
					}
				}
			}
			for _, pf := range doc.Snapshot.Pidfiles {
				if pf.State == "live" && !pids[pf.Pid] && !groups[pf.Pid] {
					ts.Fatalf("live detached pid %d (%s) has no stop step", pf.Pid, pf.Path)
				}
			}
		case "blocker":
			i++
			pid := pidIn(args[i])
			found := false
			for _, b := range doc.Blockers {
				if b.Pid == pid && len(b.Argv) > 0 && b.Reason != "" {
					found = true
				}
			}
			if !found {
				ts.Fatalf("no blocker names pid %d with its argv: %+v", pid, doc.Blockers)
			}
		default:
			ts.Fatalf("unknown check %q", args[i])
		}
	}
}

// snapshot DIR OUT: record every file under DIR with its size, mode and
// content hash into OUT, and the live pids named by its pidfiles, so that
// two snapshots can be compared with cmp.
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	dir := ts.MkAbs(args[0])
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b, _ := os.ReadFile(p)
		line := fmt.Sprintf("%s %v %d %x", rel, fi.Mode(), len(b), fnv(b))
		if strings.HasSuffix(p, ".pid") {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			line += fmt.Sprintf(" alive=%v", pid > 0 && syscall.Kill(pid, 0) == nil && !zombie(pid))
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

func fnv(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
