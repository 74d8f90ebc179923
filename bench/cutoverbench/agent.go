package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// hubUnit is the unit the cutover installs (system scope: the agent is root).
const hubUnit = "parachute-hub.service"

// tenModules are the box's modules: the five first-party ones on their
// canonical ports and five more on layout's spare offsets, 1940–1949.
const tenModules = "vault,notes,scribe,app,surface,mail,calendar,tasks,search,feeds"

// wrapped is the module layout runs through a wrapper whose child holds the
// port, as the e2e example box does.
const wrapped = "scribe"

// poll is the agent's polling interval for ports and /health: finer than the
// reconciler's (10 ms, backing off to 80 ms), so the limit is not inflated
// by its own sampling.
const poll = 500 * time.Microsecond

// Run is one run's figures, measured inside one fresh sandbox.
type Run struct {
	// StopPortsFree is SIGTERM to every process of a detached box until
	// its last declared port is free (limit part one).
	StopPortsFree time.Duration `json:"stopPortsFree"`
	// StopProcsGone is the same until the last signalled process (and
	// every module's process group) is gone, for comparison.
	StopProcsGone time.Duration `json:"stopProcsGone"`
	// SlowestPort is the port that was freed last.
	SlowestPort int `json:"slowestPort"`
	// Cutover is the wall time of `parachute reconcile --desired
	// supervised` on a fresh detached box, exec to exit.
	Cutover time.Duration `json:"cutover"`
	// Events are the cutover's step events with their arrival times.
	Events []Event `json:"events"`
	// Applied is how many steps the cutover applied.
	Applied int `json:"applied"`
	// Noop are the wall times of the reruns on the converged box.
	Noop []time.Duration `json:"noop"`
	// StartDBus is StartUnit over D-Bus until /health answers 2xx from
	// the unit (limit part two); StartDBusJob is when the start job
	// finished.
	StartDBus    time.Duration `json:"startDBus"`
	StartDBusJob time.Duration `json:"startDBusJob"`
	// StartSystemctl is `systemctl start` until /health answers 2xx from
	// the unit; StartSystemctlExit is when systemctl exited.
	StartSystemctl     time.Duration `json:"startSystemctl"`
	StartSystemctlExit time.Duration `json:"startSystemctlExit"`
	// Processes is how many processes /proc showed inside the sandbox with
	// the converged box running.
	Processes int `json:"processes"`
	// Plan is `parachute reconcile --plan` on the detached box just before
	// the cutover: start-up, observe, plan and print, changing nothing.
	Plan time.Duration `json:"plan"`
	// Observe are `parachute observe --output json` on the converged box,
	// exec to exit.
	Observe []time.Duration `json:"observe"`
	// Reload are daemon-reloads over D-Bus timed on the converged box.
	Reload []time.Duration `json:"reload"`
	// LeftPidfiles are the pidfiles (relative to PARACHUTE_HOME) still on
	// disk after the cutover.
	LeftPidfiles []string `json:"leftPidfiles,omitempty"`
}

// Event is one step event of the cutover, as parachute printed it, with
// the time (since exec) at which the agent read it.
type Event struct {
	Event   string           `json:"event"`
	N       int              `json:"n"`
	Action  reconcile.Action `json:"action"`
	Target  string           `json:"target"`
	Elapsed string           `json:"elapsed,omitempty"`
	Error   string           `json:"error,omitempty"`
	At      time.Duration    `json:"at"`
}

// agentConfig is the agent's command line.
type agentConfig struct {
	bin, dir string
	reruns   int
}

// agentMain is `cutoverbench agent`: one run, its JSON on stdout.
func agentMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cutoverbench agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg agentConfig
	fs.StringVar(&cfg.bin, "bin", "", "directory with parachute, standin-hub, standin-module, layout")
	fs.StringVar(&cfg.dir, "dir", "", "this run's work directory")
	fs.IntVar(&cfg.reruns, "reruns", 5, "no-op reruns on the converged box")
	if err := fs.Parse(args); err != nil || cfg.bin == "" || cfg.dir == "" || cfg.reruns < 1 {
		fmt.Fprintln(stderr, "cutoverbench agent: usage: cutoverbench agent -bin DIR -dir DIR [-reruns N]")
		return 64
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := oneRun(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cutoverbench agent: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(r); err != nil {
		fmt.Fprintf(stderr, "cutoverbench agent: %v\n", err)
		return 1
	}
	return 0
}

// box is one laid-out detached-era box.
type box struct {
	cfg            agentConfig
	home, bin, lib string
	spec           string
	hubPort        int
	modulePorts    []int
	hub            started
	modules        []started
	parachute      string
	// lastRSS is the peak resident set (KiB) of the last parachute run,
	// when measureRSS is set (0 otherwise).
	lastRSS int64
	// measureRSS runs parachute under GNU time to measure lastRSS (see
	// peakRSSArgv); it adds a fork and exec to the timed run.
	measureRSS bool
}

// started is one process layout reports it started.
type started struct {
	Short string `json:"short"`
	Pid   int    `json:"pid"`
	Pgid  int    `json:"pgid"`
	Port  int    `json:"port"`
}

// ports are the hub port and every module port.
func (b *box) ports() []int { return append([]int{b.hubPort}, b.modulePorts...) }

// oneRun measures everything of one run in order: the stop limit on box A,
// the cutover of box B, the no-op reruns, then the start limit on B's unit.
func oneRun(ctx context.Context, cfg agentConfig, log io.Writer) (Run, error) {
	var r Run
	a, err := layOut(ctx, cfg, "a")
	if err != nil {
		return r, err
	}
	if r.StopPortsFree, r.StopProcsGone, r.SlowestPort, err = stopLimit(a); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "stop limit: last port free after %v (processes gone after %v)\n", r.StopPortsFree, r.StopProcsGone)

	b, err := layOut(ctx, cfg, "b")
	if err != nil {
		return r, err
	}
	if err := b.cutover(ctx, &r); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "cutover: %v, %d steps\n", r.Cutover, r.Applied)

	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return r, fmt.Errorf("system bus: %w", err)
	}
	defer conn.Close()
	if err := b.converged(ctx, conn); err != nil {
		return r, err
	}
	r.Processes = countProcesses()
	if r.Noop, r.Observe, err = b.noopReruns(ctx, cfg.reruns); err != nil {
		return r, err
	}
	if err := b.startLimits(ctx, conn, &r); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "start limit: %v over D-Bus, %v with systemctl\n", r.StartDBus, r.StartSystemctl)
	r.Reload, err = daemonReloads(ctx, conn, 3)
	return r, err
}

// cutover times `--plan` and then the cutover itself on b, and records
// them, the cutover's step events, its applied steps and the pidfiles it
// left in r.
func (b *box) cutover(ctx context.Context, r *Run) error {
	var err error
	if r.Plan, _, _, err = b.reconcile(ctx, exitChanges, "--desired", "supervised", "--plan"); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	var doc reconcile.Document
	if r.Cutover, r.Events, doc, err = b.reconcile(ctx, 0, "--desired", "supervised"); err != nil {
		return fmt.Errorf("cutover: %w", err)
	}
	if !doc.Converged || len(doc.Applied) == 0 {
		return fmt.Errorf("cutover: converged %t after %d steps: %s", doc.Converged, len(doc.Applied), doc.Error)
	}
	r.Applied = len(doc.Applied)
	r.LeftPidfiles, _ = filepath.Glob(filepath.Join(b.home, "*", "run", "*.pid"))
	for i, p := range r.LeftPidfiles {
		r.LeftPidfiles[i], _ = filepath.Rel(b.home, p)
	}
	return nil
}

// converged checks that the cutover left b converged: the hub port held
// by the unit, every detached process and group gone, and, within 30s,
// every module port held by the unit.
func (b *box) converged(ctx context.Context, conn *sddbus.Conn) error {
	if err := b.ownedByUnit(ctx, conn, b.hubPort); err != nil {
		return fmt.Errorf("after the cutover: %w", err)
	}
	for _, p := range append([]started{b.hub}, b.modules...) {
		if processAlive(p.Pid) || p.Pgid == p.Pid && syscall.Kill(-p.Pgid, 0) == nil {
			return fmt.Errorf("after the cutover: detached %s (pid %d) or its group survived", cmp.Or(p.Short, "hub"), p.Pid)
		}
	}
	// A converged box is one whose hub has booted every module again.
	if err := waitFor(30*time.Second, func() error { return b.ownedByUnit(ctx, conn, b.modulePorts...) }); err != nil {
		return fmt.Errorf("modules under the unit: %w", err)
	}
	return nil
}

// noopReruns times n no-op reconciles on the converged box b, each
// followed by one `parachute observe --output json`.
func (b *box) noopReruns(ctx context.Context, n int) (noop, observe []time.Duration, err error) {
	for range n {
		d, evs, doc, err := b.reconcile(ctx, 0)
		if err != nil {
			return noop, observe, fmt.Errorf("no-op rerun: %w", err)
		}
		if !doc.Converged || len(doc.Applied) != 0 || len(doc.Steps) != 0 || len(evs) != 0 {
			return noop, observe, fmt.Errorf("no-op rerun: converged %t, %d applied, %d planned, %d events", doc.Converged, len(doc.Applied), len(doc.Steps), len(evs))
		}
		noop = append(noop, d)
		t0 := time.Now()
		if out, err := exec.CommandContext(ctx, b.parachute, "observe", "--spec", b.spec, "--output", "json").CombinedOutput(); err != nil {
			return noop, observe, fmt.Errorf("parachute observe: %w: %s", err, out)
		}
		observe = append(observe, time.Since(t0))
	}
	return noop, observe, nil
}

// startLimits times the start of b's unit until healthy twice, over D-Bus
// and with `systemctl start`, into r.
func (b *box) startLimits(ctx context.Context, conn *sddbus.Conn, r *Run) error {
	var err error
	if r.StartDBus, r.StartDBusJob, err = b.startLimit(ctx, conn, startJob(conn)); err != nil {
		return fmt.Errorf("start limit (D-Bus): %w", err)
	}
	if r.StartSystemctl, r.StartSystemctlExit, err = b.startLimit(ctx, conn, func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, "systemctl", "start", hubUnit).CombinedOutput()
		if err != nil {
			return fmt.Errorf("systemctl start: %w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("start limit (systemctl): %w", err)
	}
	return nil
}

// daemonReloads times n daemon-reloads over D-Bus.
func daemonReloads(ctx context.Context, conn *sddbus.Conn, n int) ([]time.Duration, error) {
	var ds []time.Duration
	for range n {
		t0 := time.Now()
		if err := conn.ReloadContext(ctx); err != nil {
			return ds, fmt.Errorf("daemon-reload: %w", err)
		}
		ds = append(ds, time.Since(t0))
	}
	return ds, nil
}

// layOut lays out and starts a detached-era box of ten modules in
// <dir>/<name> with examples/layout, in its own process group as a shell
// job would run it, and writes its spec file.
func layOut(ctx context.Context, cfg agentConfig, name string) (*box, error) {
	return layOutBox(ctx, cfg, name, tenModules, wrapped)
}

// layOutBox is layOut for any comma-separated list of module shorts, with
// wrapper (one of them, or "") run through a wrapper.
func layOutBox(ctx context.Context, cfg agentConfig, name, modules, wrapper string) (*box, error) {
	root := filepath.Join(cfg.dir, name)
	b := &box{cfg: cfg, home: filepath.Join(root, "home"), bin: filepath.Join(root, "bin"), lib: filepath.Join(root, "lib"),
		spec: filepath.Join(root, "spec.yaml"), parachute: filepath.Join(cfg.bin, "parachute")}
	args := []string{"--home", b.home, "--bin", b.bin, "--lib", b.lib,
		"--hub-binary", filepath.Join(cfg.bin, "standin-hub"), "--module-binary", filepath.Join(cfg.bin, "standin-module"),
		"--modules", modules, "--wait", "2m"}
	if wrapper != "" {
		args = append(args, "--wrapper", wrapper)
	}
	spec, err := runLayout(ctx, cfg.bin, append(args, "--print-spec")...)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.spec, spec, 0o644); err != nil {
		return nil, err
	}
	out, err := runLayout(ctx, cfg.bin, append(args, "--start")...)
	if err != nil {
		return nil, err
	}
	var sum struct {
		Ready   bool      `json:"ready"`
		Hub     started   `json:"hub"`
		Modules []started `json:"modules"`
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		return nil, fmt.Errorf("layout summary: %w", err)
	}
	if !sum.Ready || sum.Hub.Pid <= 0 || len(sum.Modules) != strings.Count(modules, ",")+1 {
		return nil, fmt.Errorf("layout %s: ready %t, hub pid %d, %d modules", name, sum.Ready, sum.Hub.Pid, len(sum.Modules))
	}
	b.hub, b.modules, b.hubPort = sum.Hub, sum.Modules, sum.Hub.Port
	for _, m := range sum.Modules {
		if m.Pid <= 0 {
			return nil, fmt.Errorf("layout %s: module %s not started", name, m.Short)
		}
		b.modulePorts = append(b.modulePorts, m.Port)
	}
	return b, nil
}

// runLayout runs the layout tool in its own process group and returns its
// standard output.
func runLayout(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "layout"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// stopLimit sends SIGTERM to every process of the box at once — each
// module's process group (layout makes each module a group leader) and the
// hub's pid (not a group leader: layout leaves it in its own group, which
// must not be signalled) — and times until every declared port is free and
// every signalled process and group is gone.
func stopLimit(b *box) (portsFree, procsGone time.Duration, slowest int, err error) {
	type target struct {
		pid, pgid int
		marker    string
	}
	targets := []target{{pid: b.hub.Pid, marker: "hub-server.ts"}}
	for _, m := range b.modules {
		targets = append(targets, target{pid: m.Pid, pgid: m.Pgid, marker: "parachute-" + m.Short})
	}
	// Only what layout started, checked before anything is signalled.
	for _, t := range targets {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(t.pid) + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(t.marker)) {
			return 0, 0, 0, fmt.Errorf("stop limit: pid %d is not %s (%q, %v); nothing signalled", t.pid, t.marker, cmdline, err)
		}
		if t.pgid != 0 && t.pgid != t.pid {
			return 0, 0, 0, fmt.Errorf("stop limit: module pid %d leads no group (pgid %d); nothing signalled", t.pid, t.pgid)
		}
	}
	ports := b.ports()
	t0 := time.Now()
	for _, t := range targets {
		target := t.pid
		if t.pgid != 0 {
			target = -t.pgid
		}
		if err := syscall.Kill(target, syscall.SIGTERM); err != nil {
			return 0, 0, 0, fmt.Errorf("stop limit: SIGTERM %d: %w", target, err)
		}
	}
	freeAt := map[int]time.Duration{}
	var goneAt time.Duration
	deadline := t0.Add(20 * time.Second)
	for len(freeAt) < len(ports) || goneAt == 0 {
		now := time.Since(t0)
		for _, p := range ports {
			if _, ok := freeAt[p]; !ok && portFree(p) {
				freeAt[p] = now
			}
		}
		if goneAt == 0 {
			alive := false
			for _, t := range targets {
				if processAlive(t.pid) || t.pgid != 0 && syscall.Kill(-t.pgid, 0) == nil {
					alive = true
					break
				}
			}
			if !alive {
				goneAt = now
			}
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("stop limit: ports or processes still there after 20s (free: %v)", freeAt)
		}
		time.Sleep(poll)
	}
	for p, at := range freeAt {
		if at > portsFree || at == portsFree && p < slowest {
			portsFree, slowest = at, p
		}
	}
	return portsFree, goneAt, slowest, nil
}

// portFree reports whether nothing listens on port, v4 or v6: a dual-stack
// wildcard bind fails while any listener holds it. (Go sets SO_REUSEADDR,
// so closed connections in TIME_WAIT do not count.)
func portFree(port int) bool {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// processAlive reports whether pid is a live, non-zombie process.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// peakRSSArgv is argv run under GNU time, which writes the peak resident
// set (KiB) of argv to file. The rusage a Go program gets for its own child
// cannot say it: Go starts children with clone(CLONE_VM|CLONE_VFORK), the
// child shares the parent's memory until it execs, and Linux carries that
// memory's high-water mark into the child's ru_maxrss at exec. Every
// "peak RSS" this bench reported before was therefore at least the bench's
// own (which grows during a run to over 20 MiB), not the reconciler's.
// time(1) starts its child with fork(2) from a small process. A cancelled
// run kills time(1), not the command under it, which then runs to its end.
func peakRSSArgv(file string, argv []string) []string {
	return append([]string{"/usr/bin/time", "-f", "%M", "-o", file}, argv...)
}

// readPeakRSS reads the figure peakRSSArgv wrote; 0 when there is none.
func readPeakRSS(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	// time(1) prefixes "Command exited with non-zero status N" lines.
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	return n
}

// exitChanges is parachute's exit code for "--plan: changes are pending".
const exitChanges = 2

// reconcile runs `parachute reconcile ARGS --spec S --output json` and
// returns its wall time, its step events stamped with their arrival, and
// its result document. An exit other than want is an error.
func (b *box) reconcile(ctx context.Context, want int, args ...string) (time.Duration, []Event, reconcile.Document, error) {
	var doc reconcile.Document
	argv := append(append([]string{"reconcile"}, args...), "--spec", b.spec, "--output", "json")
	run := append([]string{b.parachute}, argv...)
	var rssFile string
	if b.measureRSS {
		rssFile = filepath.Join(b.cfg.dir, "rss")
		_ = os.Remove(rssFile) // a run time(1) could not start reports 0, not the last figure
		run = peakRSSArgv(rssFile, run)
	}
	cmd := exec.CommandContext(ctx, run[0], run[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, doc, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, nil, doc, err
	}
	var events []Event
	var rest bytes.Buffer
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		at := time.Since(t0)
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte(`{"event":`)) {
			var ev Event
			if err := json.Unmarshal(line, &ev); err != nil {
				return 0, nil, doc, fmt.Errorf("event line %q: %w", line, err)
			}
			ev.At = at
			events = append(events, ev)
			continue
		}
		rest.Write(line)
		rest.WriteByte('\n')
	}
	scanErr := sc.Err()
	err = cmd.Wait()
	wall := time.Since(t0)
	b.lastRSS = 0
	if rssFile != "" {
		b.lastRSS = readPeakRSS(rssFile)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == want {
		err = nil
	} else if err == nil && want != 0 {
		err = fmt.Errorf("exit 0, want %d", want)
	}
	if err != nil {
		return wall, events, doc, fmt.Errorf("parachute %s: %w\nstderr: %s\nstdout: %s", strings.Join(argv, " "), err, stderr.Bytes(), rest.Bytes())
	}
	if scanErr != nil {
		return wall, events, doc, fmt.Errorf("read parachute output: %w", scanErr)
	}
	if err := json.Unmarshal(rest.Bytes(), &doc); err != nil {
		return wall, events, doc, fmt.Errorf("result document: %w", err)
	}
	return wall, events, doc, nil
}

// unitCgroup reads the hub unit's control group and active state.
func unitCgroup(ctx context.Context, conn *sddbus.Conn) (cgroup, state string, err error) {
	p, err := conn.GetUnitPropertyContext(ctx, hubUnit, "ActiveState")
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", hubUnit, err)
	}
	s, err := conn.GetUnitTypePropertiesContext(ctx, hubUnit, "Service")
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", hubUnit, err)
	}
	cg, _ := s["ControlGroup"].(string)
	st, _ := p.Value.Value().(string)
	return cg, st, nil
}

// ownedByUnit checks that the unit is active and that every port is held,
// and only by processes inside the unit's control group.
func (b *box) ownedByUnit(ctx context.Context, conn *sddbus.Conn, ports ...int) error {
	cg, state, err := unitCgroup(ctx, conn)
	if err != nil {
		return err
	}
	if state != "active" || cg == "" {
		return fmt.Errorf("%s is %s (control group %q)", hubUnit, state, cg)
	}
	obs := observe.New(observe.Env{})
	for _, port := range ports {
		pids, unknown, err := obs.PortHolders(port)
		if err != nil {
			return err
		}
		if len(pids) == 0 || unknown > 0 {
			return fmt.Errorf(":%d held by %v (+%d unknown), want a process of %s", port, pids, unknown, cg)
		}
		for _, pid := range pids {
			if pcg := procCgroup(pid); pcg != cg && !strings.HasPrefix(pcg, cg+"/") {
				return fmt.Errorf(":%d held by pid %d in %q, outside %s", port, pid, pcg, cg)
			}
		}
	}
	return nil
}

// procCgroup is pid's unified (cgroup2) path.
func procCgroup(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest
		}
	}
	return ""
}

// startLimit stops the unit, waits until every port is free, then times
// start (which queues the start and waits for its job) until GET /health
// answers 2xx, polling every 500 µs from the moment start is called. It
// returns that time and when start itself returned, after checking that the
// answer came from inside the unit.
func (b *box) startLimit(ctx context.Context, conn *sddbus.Conn, start func(context.Context) error) (healthy, started time.Duration, err error) {
	if err := b.stopUnit(ctx, conn, 20*time.Second); err != nil {
		return 0, 0, err
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(b.hubPort) + "/health"
	done := make(chan error, 1)
	var startedAt time.Duration
	t0 := time.Now()
	go func() {
		err := start(ctx)
		startedAt = time.Since(t0)
		done <- err
	}()
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				healthy = time.Since(t0)
				break
			}
		}
		if time.Since(t0) > 20*time.Second {
			<-done
			return 0, 0, fmt.Errorf("no 2xx /health within 20s of starting %s", hubUnit)
		}
		time.Sleep(poll)
	}
	if err := <-done; err != nil {
		return 0, 0, err
	}
	// Checked again for up to a second: while the hub forks its modules, a
	// child briefly holds copies of the hub's sockets (and may be gone by
	// the time its cgroup is read).
	if err := waitFor(time.Second, func() error { return b.ownedByUnit(ctx, conn, b.hubPort) }); err != nil {
		return 0, 0, fmt.Errorf("who answered: %w", err)
	}
	return healthy, startedAt, nil
}

// stopUnit stops the hub unit over D-Bus and waits, at most wait, until
// every port of b is free.
func (b *box) stopUnit(ctx context.Context, conn *sddbus.Conn, wait time.Duration) error {
	ch := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, hubUnit, "replace", ch); err != nil {
		return fmt.Errorf("stop %s: %w", hubUnit, err)
	}
	if res := <-ch; res != "done" {
		return fmt.Errorf("stop %s: job %s", hubUnit, res)
	}
	return waitFor(wait, func() error {
		for _, p := range b.ports() {
			if !portFree(p) {
				return fmt.Errorf(":%d still held after stopping %s", p, hubUnit)
			}
		}
		return nil
	})
}

// waitFor calls check every 10 ms until it returns nil or d passes, and
// returns its last error then.
func waitFor(d time.Duration, check func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countProcesses counts the pids in /proc.
func countProcesses() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}

// startJob starts the hub unit over D-Bus and waits for its job: what the
// start limits time.
func startJob(conn *sddbus.Conn) func(context.Context) error {
	return func(ctx context.Context) error {
		ch := make(chan string, 1)
		if _, err := conn.StartUnitContext(ctx, hubUnit, "replace", ch); err != nil {
			return err
		}
		if res := <-ch; res != "done" {
			return fmt.Errorf("start job %s", res)
		}
		return nil
	}
}
