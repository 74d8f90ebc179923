package main

// `cutoverbench scale`: the figures of issue 11, each taken as whole
// processes beside the tool it is compared with, in one sandbox:
//
//   - the no-op reconcile of a converged three-module box against one
//     `systemctl is-active` (root, system unit) and one `systemctl --user
//     is-active` (a user unit, run as a user of the sandbox);
//   - `parachute observe` at 100 and 500 declared modules, each held by its
//     own process, against one `ss -Hltnp`;
//   - the cutover of 500 modules among 2,000 unrelated processes beside its
//     physical limit (every process gone after SIGTERM, then the unit's start
//     until /health answers), and the cutover of ten modules among the same
//     processes, for the cost per extra module;
//   - the peak RSS of every parachute run at 500 modules.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/parachute/reconcile/e2e/sandbox"
	"github.com/parachute/reconcile/reconcile"
)

// Pair is one side-by-side measurement: our command, then the tool's, run
// one right after the other.
type Pair struct {
	Ours time.Duration `json:"ours"`
	Tool time.Duration `json:"tool"`
	// OursRSS is the peak resident set of our command, KiB.
	OursRSS int64 `json:"oursRSS"`
	// Quiet is the no-op as the timer unit runs it (--quiet, no output on
	// a converged box), timed right after the tool; 0 elsewhere.
	Quiet time.Duration `json:"quiet,omitempty"`
	// Text is the no-op as a person types it (`parachute reconcile`, its
	// text report), timed after Quiet; 0 elsewhere.
	Text time.Duration `json:"text,omitempty"`
}

// ScaleCutover is one cutover of a large box and its limit.
type ScaleCutover struct {
	Modules int `json:"modules"`
	// StopProcsGone is SIGTERM to every process of an identical detached
	// box until every one (and every module's group) is gone;
	// StopPortsFree until the last declared port is free.
	StopProcsGone time.Duration `json:"stopProcsGone"`
	StopPortsFree time.Duration `json:"stopPortsFree"`
	// Start is StartUnit over D-Bus until /health answers 2xx from the
	// unit, on the converged box after stopping the unit.
	Start time.Duration `json:"start"`
	// StartModules is StartUnit until every module port accepts a
	// connection: the hub boots its modules one after another, and a
	// cutover that waits for them (wait-modules) cannot end before.
	StartModules time.Duration `json:"startModules"`
	// Cutover is `parachute reconcile --desired supervised`, exec to exit.
	Cutover time.Duration `json:"cutover"`
	Events  []Event       `json:"events,omitempty"`
	Applied int           `json:"applied"`
	// ModulesUp counts the modules the cutover's document reports up (the
	// hub boots them one after another; wait-modules waits for them, at
	// most timeouts.modules).
	ModulesUp int `json:"modulesUp"`
	// RSS are the peak resident sets (KiB) of the parachute runs on the box:
	// plan, cutover, absent (the teardown), and each observe.
	PlanRSS    int64 `json:"planRSS"`
	CutoverRSS int64 `json:"cutoverRSS"`
	AbsentRSS  int64 `json:"absentRSS"`
	// Observe are `parachute observe` against `ss -Hltnp` on the detached box.
	Observe []Pair `json:"observe,omitempty"`
	// Processes is how many processes /proc showed just before the cutover.
	Processes int `json:"processes"`
}

// limit is every process gone plus the unit's start to healthy.
func (c ScaleCutover) limit() time.Duration { return c.StopProcsGone + c.Start }

// modulesLimit is every process gone plus the unit's start until every
// module listens: the limit of a cutover that waits for the modules.
func (c ScaleCutover) modulesLimit() time.Duration { return c.StopProcsGone + c.StartModules }

// ScaleResult is what the root agent measured.
type ScaleResult struct {
	Unrelated  int             `json:"unrelated"`
	NoopSystem []Pair          `json:"noopSystem"`
	Observe100 []Pair          `json:"observe100"`
	Cutover10  []time.Duration `json:"cutover10"`
	// Cutover10WaitModules is the wait-modules part of each ten-module
	// cutover (from its step events).
	Cutover10WaitModules []time.Duration `json:"cutover10WaitModules"`
	Cutover500           []ScaleCutover  `json:"cutover500"`
	// ProcessesNoop is how many processes /proc showed during the no-op runs.
	ProcessesNoop int `json:"processesNoop"`
}

// UserResult is what the agent run as a user measured.
type UserResult struct {
	NoopUser []Pair `json:"noopUser"`
}

// scaleConfig is the scale agents' command line.
type scaleConfig struct {
	agentConfig
	runs, pairs, modules, unrelated int
	// trace, when set, is a directory for syscall timelines (strace) of
	// one no-op run and one observe of the large box.
	trace string
	// noopOnly stops after the no-op figures: a quick loop for work on
	// the cron tick's cost.
	noopOnly bool
}

func scaleFlags(name string, args []string, stderr io.Writer) (scaleConfig, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c scaleConfig
	fs.StringVar(&c.bin, "bin", "", "directory with parachute, standin-hub, standin-module, layout")
	fs.StringVar(&c.dir, "dir", "", "work directory")
	fs.IntVar(&c.runs, "runs", 3, "cutovers of the large box")
	fs.IntVar(&c.pairs, "pairs", 11, "side-by-side pairs per comparison")
	fs.IntVar(&c.modules, "modules", 500, "modules of the large box")
	fs.IntVar(&c.unrelated, "unrelated", 2000, "unrelated processes")
	fs.StringVar(&c.trace, "trace", "", "directory for strace timelines of one no-op and one observe")
	fs.BoolVar(&c.noopOnly, "noop-only", false, "time the no-op pairs only")
	if err := fs.Parse(args); err != nil || c.bin == "" || c.dir == "" || c.runs < 1 || c.pairs < 1 || c.modules < 11 {
		fmt.Fprintf(stderr, "cutoverbench %s: usage: -bin DIR -dir DIR [-runs N] [-pairs N] [-modules N] [-unrelated N]\n", name)
		return c, false
	}
	return c, true
}

// shorts names n modules m001, m002, ….
func shorts(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("m%03d", i+1)
	}
	return strings.Join(s, ",")
}

// threeModules is the converged box of the no-op figures.
const threeModules = "vault,scribe,surface"

// scaleAgentMain is `cutoverbench scale-agent`, root inside the sandbox.
func scaleAgentMain(args []string, stdout, stderr io.Writer) int {
	cfg, ok := scaleFlags("scale-agent", args, stderr)
	if !ok {
		return 64
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	r, err := scaleRun(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cutoverbench scale-agent: %v\n", err)
		return 1
	}
	return writeOut(stdout, stderr, r)
}

// noopAgentMain is `cutoverbench noop-agent`, run as a user: the user
// unit's no-op against `systemctl --user is-active`.
func noopAgentMain(args []string, stdout, stderr io.Writer) int {
	cfg, ok := scaleFlags("noop-agent", args, stderr)
	if !ok {
		return 64
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := sddbus.NewUserConnectionContext(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "cutoverbench noop-agent: user manager: %v\n", err)
		return 1
	}
	defer conn.Close()
	pairs, _, err := noopPairs(ctx, cfg, conn, "user", []string{"systemctl", "--user", "is-active", hubUnit})
	if err != nil {
		fmt.Fprintf(stderr, "cutoverbench noop-agent: %v\n", err)
		return 1
	}
	return writeOut(stdout, stderr, UserResult{NoopUser: pairs})
}

func writeOut(stdout, stderr io.Writer, v any) int {
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		fmt.Fprintf(stderr, "cutoverbench: %v\n", err)
		return 1
	}
	return 0
}

// noopPairs lays out a three-module box, cuts it over, waits until the hub
// has booted every module under the unit, then times pairs of a no-op
// `parachute reconcile` and tool; it removes the box again (`--desired
// absent`) before returning.
func noopPairs(ctx context.Context, cfg scaleConfig, conn *sddbus.Conn, name string, tool []string) ([]Pair, int, error) {
	b, err := layOutBox(ctx, cfg.agentConfig, "noop-"+name, threeModules, "scribe")
	if err != nil {
		return nil, 0, err
	}
	if _, _, doc, err := b.reconcile(ctx, 0, "--desired", "supervised"); err != nil || !doc.Converged {
		return nil, 0, fmt.Errorf("cutover of the three-module box: converged %t: %v", doc.Converged, err)
	}
	if err := waitFor(30*time.Second, func() error { return b.ownedByUnit(ctx, conn, b.ports()...) }); err != nil {
		return nil, 0, fmt.Errorf("modules under the unit: %w", err)
	}
	procs := countProcesses()
	var pairs []Pair
	for range cfg.pairs {
		d, evs, doc, err := b.reconcile(ctx, 0)
		if err != nil {
			return nil, 0, fmt.Errorf("no-op: %w", err)
		}
		if !doc.Converged || len(doc.Steps) != 0 || len(evs) != 0 {
			return nil, 0, fmt.Errorf("no-op: converged %t, %d planned, %d events", doc.Converged, len(doc.Steps), len(evs))
		}
		p := Pair{Ours: d}
		if p.Tool, err = timeCmd(ctx, tool...); err != nil {
			return nil, 0, err
		}
		if p.Quiet, err = quietNoop(ctx, b); err != nil {
			return nil, 0, err
		}
		if p.Text, err = timeCmd(ctx, b.parachute, "reconcile", "--spec", b.spec); err != nil {
			return nil, 0, fmt.Errorf("no-op, text report: %w", err)
		}
		pairs = append(pairs, p)
	}
	if cfg.trace != "" {
		straceRun(ctx, cfg.trace, "noop-"+name, b.parachute, "reconcile", "--spec", b.spec, "--output", "json")
	}
	if _, _, _, err := b.reconcile(ctx, 0, "--desired", "absent"); err != nil {
		return nil, 0, fmt.Errorf("remove the three-module box: %w", err)
	}
	return pairs, procs, nil
}

// timeCmd runs argv, exec to exit, and returns its wall time; a non-zero
// exit is an error.
func timeCmd(ctx context.Context, argv ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return d, nil
}

// peakRSS runs argv once more under GNU time (peakRSSArgv) and returns its
// peak resident set, KiB: an untimed run, so the wrapper adds nothing to
// the timed ones.
func peakRSS(ctx context.Context, dir string, argv ...string) (int64, error) {
	file := filepath.Join(dir, "rss")
	_ = os.Remove(file)
	if _, err := timeCmd(ctx, peakRSSArgv(file, argv)...); err != nil {
		return 0, err
	}
	return readPeakRSS(file), nil
}

// observePairs times `parachute observe` on b against `ss -Hltnp`.
func observePairs(ctx context.Context, b *box, n int) ([]Pair, error) {
	var pairs []Pair
	for range n {
		var p Pair
		var err error
		observe := []string{b.parachute, "observe", "--spec", b.spec, "--output", "json"}
		if p.Ours, err = timeCmd(ctx, observe...); err != nil {
			return nil, err
		}
		if p.Tool, err = timeCmd(ctx, "ss", "-Hltnp"); err != nil {
			return nil, err
		}
		if p.OursRSS, err = peakRSS(ctx, b.cfg.dir, observe...); err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// unrelated starts n processes that are nothing of any box (`sleep`, each
// its own group) and returns a function that ends them, by pid.
func unrelated(n int) (func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for range n {
		c := exec.Command("sleep", "3600")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start unrelated process %d: %w", len(cmds)+1, err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// scaleRun measures everything the root agent reports, in order: the no-op
// of a converged three-module system unit (before the unrelated processes
// exist: an ordinary machine), then, among the unrelated processes, observe
// at 100 modules, and per run a ten-module cutover and a large one beside
// its limit.
func scaleRun(ctx context.Context, cfg scaleConfig, log io.Writer) (ScaleResult, error) {
	var r ScaleResult
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return r, fmt.Errorf("system bus: %w", err)
	}
	defer conn.Close()
	if r.NoopSystem, r.ProcessesNoop, err = noopPairs(ctx, cfg, conn, "system", []string{"systemctl", "is-active", hubUnit}); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "no-op (system): %d pairs\n", len(r.NoopSystem))
	if cfg.noopOnly {
		return r, nil
	}

	stop, err := unrelated(cfg.unrelated)
	if err != nil {
		return r, err
	}
	defer stop()
	r.Unrelated = cfg.unrelated

	o, err := layOutBox(ctx, cfg.agentConfig, "observe-100", shorts(100), "")
	if err != nil {
		return r, err
	}
	if r.Observe100, err = observePairs(ctx, o, cfg.pairs); err != nil {
		return r, err
	}
	if _, _, _, err := stopLimit(o); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "observe at 100 modules: %d pairs\n", len(r.Observe100))

	for i := range cfg.runs {
		c10, err := layOutBox(ctx, cfg.agentConfig, fmt.Sprintf("ten-%d", i+1), tenModules, wrapped)
		if err != nil {
			return r, err
		}
		d, evs, doc, err := c10.reconcile(ctx, 0, "--desired", "supervised")
		if err != nil || !doc.Converged {
			return r, fmt.Errorf("ten-module cutover: converged %t: %v", doc.Converged, err)
		}
		parts, _, _ := phases(evs, d)
		r.Cutover10 = append(r.Cutover10, d)
		r.Cutover10WaitModules = append(r.Cutover10WaitModules, parts[string(reconcile.WaitModules)])
		if _, _, _, err := c10.reconcile(ctx, 0, "--desired", "absent"); err != nil {
			return r, fmt.Errorf("remove the ten-module box: %w", err)
		}
		c, err := largeCutover(ctx, cfg, conn, i+1, log)
		if err != nil {
			return r, fmt.Errorf("run %d: %w", i+1, err)
		}
		r.Cutover500 = append(r.Cutover500, c)
		fmt.Fprintf(log, "run %d: ten modules %v; %d modules %v (limit %v: gone %v + start %v), RSS %d KiB\n",
			i+1, ms(d), c.Modules, ms(c.Cutover), ms(c.limit()), ms(c.StopProcsGone), ms(c.Start), c.CutoverRSS)
	}
	return r, nil
}

// largeCutover is one run at cfg.modules: the stop limit on box A, observe
// and the cutover on box B, the start limit on B's unit, then B removed.
func largeCutover(ctx context.Context, cfg scaleConfig, conn *sddbus.Conn, run int, log io.Writer) (ScaleCutover, error) {
	c := ScaleCutover{Modules: cfg.modules}
	mods := shorts(cfg.modules)
	a, err := layOutBox(ctx, cfg.agentConfig, fmt.Sprintf("large-%d-a", run), mods, "")
	if err != nil {
		return c, err
	}
	if c.StopPortsFree, c.StopProcsGone, _, err = stopLimit(a); err != nil {
		return c, err
	}
	b, err := layOutBox(ctx, cfg.agentConfig, fmt.Sprintf("large-%d-b", run), mods, "")
	if err != nil {
		return c, err
	}
	if c.Observe, err = observePairs(ctx, b, 3); err != nil {
		return c, err
	}
	if cfg.trace != "" && run == 1 {
		straceRun(ctx, cfg.trace, "observe-large", b.parachute, "observe", "--spec", b.spec, "--output", "json")
	}
	b.measureRSS = true // the runs below are seconds long: time(1)'s exec is noise there
	if _, _, _, err = b.reconcile(ctx, exitChanges, "--desired", "supervised", "--plan"); err != nil {
		return c, fmt.Errorf("plan: %w", err)
	}
	c.PlanRSS = b.lastRSS
	c.Processes = countProcesses()
	d, evs, doc, err := b.reconcile(ctx, 0, "--desired", "supervised")
	if err != nil || !doc.Converged {
		return c, fmt.Errorf("cutover: converged %t: %v", doc.Converged, err)
	}
	c.Cutover, c.Events, c.Applied, c.CutoverRSS = d, evs, len(doc.Applied), b.lastRSS
	for _, m := range doc.Modules {
		if m.State == reconcile.ModuleUp {
			c.ModulesUp++
		}
	}
	if err := b.ownedByUnit(ctx, conn, b.hubPort); err != nil {
		return c, fmt.Errorf("after the cutover: %w", err)
	}
	for _, p := range append([]started{b.hub}, b.modules...) {
		if processAlive(p.Pid) {
			return c, fmt.Errorf("after the cutover: detached %s (pid %d) survived", cmp.Or(p.Short, "hub"), p.Pid)
		}
	}
	// The start limit, on the hub port alone: the modules the hub boots
	// come after /health.
	hubOnly := *b
	hubOnly.modulePorts = nil
	if c.Start, _, err = hubOnly.startLimit(ctx, conn, startJob(conn)); err != nil {
		return c, fmt.Errorf("start limit: %w", err)
	}
	if c.StartModules, err = b.modulesStartLimit(ctx, conn); err != nil {
		return c, fmt.Errorf("start limit with the modules: %w", err)
	}
	if _, _, _, err := b.reconcile(ctx, 0, "--desired", "absent"); err != nil {
		return c, fmt.Errorf("remove the box: %w", err)
	}
	c.AbsentRSS = b.lastRSS
	// Every port free again before the next box is laid out.
	if err := waitFor(30*time.Second, func() error {
		for _, p := range b.ports() {
			if !portFree(p) {
				return fmt.Errorf(":%d still held after removing the box", p)
			}
		}
		return nil
	}); err != nil {
		return c, err
	}
	return c, nil
}

// hostScale boots one sandbox, runs the root agent and the user agent in
// it, and renders section 3 of the report.
func hostScale(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cutoverbench scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "directory with the binaries (visible inside the sandbox)")
	work := fs.String("work", "", "work directory (visible inside the sandbox)")
	runs := fs.Int("runs", 3, "cutovers of the large box")
	pairs := fs.Int("pairs", 11, "side-by-side pairs per comparison")
	modules := fs.Int("modules", 500, "modules of the large box")
	nUnrelated := fs.Int("unrelated", 2000, "unrelated processes")
	trace := fs.String("trace", "", "directory for strace timelines of one no-op and one observe (visible inside the sandbox)")
	jsonOut := fs.String("json", "", "also write every figure to this file, one JSON object per line")
	noopOnly := fs.Bool("noop-only", false, "time the no-op pairs only (system and user), for a quick look at the cron tick")
	if err := fs.Parse(args); err != nil || *bin == "" || *work == "" {
		fmt.Fprintln(stderr, "cutoverbench scale: usage: cutoverbench scale -bin DIR -work DIR [-runs N] [-pairs N] [-modules N] [-unrelated N] [-json FILE]")
		return 64
	}
	res, err := scaleHost(*bin, *work, []string{"-runs", strconv.Itoa(*runs), "-pairs", strconv.Itoa(*pairs),
		"-modules", strconv.Itoa(*modules), "-unrelated", strconv.Itoa(*nUnrelated), "-trace", *trace, "-noop-only=" + strconv.FormatBool(*noopOnly)}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cutoverbench scale: %v\n", err)
		return 1
	}
	if *jsonOut != "" {
		var b bytes.Buffer
		writeScaleLines(&b, res)
		if err := os.WriteFile(*jsonOut, b.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "cutoverbench scale: %v\n", err)
			return 1
		}
	}
	renderScale(stdout, res)
	return 0
}

// scaleReport is everything section 3 shows.
type scaleReport struct {
	ScaleResult
	UserResult
	Systemd string `json:"systemd"`
	Kernel  string `json:"kernel"`
}

func scaleHost(bin, work string, agentArgs []string, stderr io.Writer) (scaleReport, error) {
	var rep scaleReport
	self, err := os.Executable()
	if err != nil {
		return rep, err
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return rep, err
	}
	if work, err = filepath.Abs(work); err != nil {
		return rep, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return rep, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	in, err := sandbox.Boot(ctx, sandbox.Options{WorkDir: filepath.Join(work, "scale"), Log: prefixed{stderr}})
	if err != nil {
		return rep, err
	}
	defer func() { _ = in.Shutdown(context.Background()) }()
	rep.Systemd, _ = in.Systemctl(ctx, "--version")
	rep.Systemd, _, _ = strings.Cut(rep.Systemd, "\n")

	run := func(cmd *exec.Cmd, v any) error {
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, prefixed{stderr}
		if err := cmd.Run(); err != nil {
			return err
		}
		return json.Unmarshal(out.Bytes(), v)
	}
	agentDir := filepath.Join(work, "scale-agent")
	if err := run(in.Command(ctx, append([]string{self, "scale-agent", "-bin", bin, "-dir", agentDir}, agentArgs...)...), &rep.ScaleResult); err != nil {
		return rep, fmt.Errorf("scale agent: %w", err)
	}
	u, err := in.AddUser(ctx, "benchop")
	if err != nil {
		return rep, err
	}
	userDir := filepath.Join(u.Home, "bench")
	if err := run(in.CommandAs(ctx, u, append([]string{self, "noop-agent", "-bin", bin, "-dir", userDir}, agentArgs...)...), &rep.UserResult); err != nil {
		return rep, fmt.Errorf("user agent: %w", err)
	}
	if err := in.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return rep, err
	}
	_ = os.RemoveAll(filepath.Join(work, "scale"))
	_ = os.RemoveAll(agentDir)
	return rep, nil
}

// straceRun runs argv once under `strace -f -r -T` and once under `strace
// -f -c`, writing <dir>/<name>.timeline and <dir>/<name>.summary: where a
// whole process's time goes. Failures are ignored: tracing is optional.
func straceRun(ctx context.Context, dir, name string, argv ...string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	for _, mode := range [][]string{{"-f", "-r", "-T", "-o", filepath.Join(dir, name+".timeline")}, {"-f", "-c", "-o", filepath.Join(dir, name+".summary")}} {
		_ = exec.CommandContext(ctx, "strace", append(mode, argv...)...).Run()
	}
}

// scaleLine is one line of the -json file: a record kind, its run or pair
// number, and the figures (durations in nanoseconds, RSS in KiB).
type scaleLine struct {
	Record string `json:"record"`
	N      int    `json:"n,omitempty"`
	*Pair
	*ScaleCutover
	Wall          time.Duration            `json:"wall,omitempty"`
	WaitModules   time.Duration            `json:"waitModules,omitempty"`
	Parts         map[string]time.Duration `json:"parts,omitempty"`
	Steps         map[string]int           `json:"steps,omitempty"`
	Systemd       string                   `json:"systemd,omitempty"`
	Kernel        string                   `json:"kernel,omitempty"`
	Unrelated     int                      `json:"unrelated,omitempty"`
	ProcessesNoop int                      `json:"processesNoop,omitempty"`
}

// writeScaleLines writes every figure of r as JSON Lines: one object per
// pair and per cutover, a cutover's step events summarised into the time
// and the number of steps of each part (what the report reads), so the
// committed file stays small and diffs line by line.
func writeScaleLines(w io.Writer, r scaleReport) {
	enc := json.NewEncoder(w)
	enc.Encode(scaleLine{Record: "machine", Systemd: r.Systemd, Kernel: r.Kernel, Unrelated: r.Unrelated, ProcessesNoop: r.ProcessesNoop})
	pairs := func(record string, ps []Pair) {
		for i := range ps {
			enc.Encode(scaleLine{Record: record, N: i + 1, Pair: &ps[i]})
		}
	}
	pairs("noop-system", r.NoopSystem)
	pairs("noop-user", r.NoopUser)
	pairs("observe-100", r.Observe100)
	for i, d := range r.Cutover10 {
		l := scaleLine{Record: "cutover-10", N: i + 1, Wall: d}
		if i < len(r.Cutover10WaitModules) {
			l.WaitModules = r.Cutover10WaitModules[i]
		}
		enc.Encode(l)
	}
	for i := range r.Cutover500 {
		c := r.Cutover500[i]
		parts, steps, _ := phases(c.Events, c.Cutover)
		pairs(fmt.Sprintf("observe-%d-run-%d", c.Modules, i+1), c.Observe)
		c.Events, c.Observe = nil, nil
		enc.Encode(scaleLine{Record: fmt.Sprintf("cutover-%d", c.Modules), N: i + 1, ScaleCutover: &c, Parts: parts, Steps: steps})
	}
}

// modulesStartLimit stops b's unit, waits until every port is free, then
// times StartUnit until every module port accepts a connection. Modules
// come up in order, so each poll goes on from the first port not yet up.
func (b *box) modulesStartLimit(ctx context.Context, conn *sddbus.Conn) (time.Duration, error) {
	if err := b.stopUnit(ctx, conn, 30*time.Second); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := startJob(conn)(ctx); err != nil {
		return 0, err
	}
	next := 0
	for next < len(b.modulePorts) {
		c, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(b.modulePorts[next]), time.Second)
		if err == nil {
			c.Close()
			next++
			continue
		}
		if time.Since(t0) > time.Minute {
			return 0, fmt.Errorf("%d of %d modules listening a minute after starting %s", next, len(b.modulePorts), hubUnit)
		}
		time.Sleep(poll)
	}
	return time.Since(t0), nil
}

// quietNoop times `parachute reconcile --spec S --quiet`, the timer unit's
// command: on a converged box it changes nothing and prints nothing, and
// anything printed (or a non-zero exit) is an error here.
func quietNoop(ctx context.Context, b *box) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.parachute, "reconcile", "--spec", b.spec, "--quiet")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil || out.Len() > 0 {
		return 0, fmt.Errorf("no-op --quiet: %v: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return d, nil
}
