package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// hubUnit is the hub's unit name in both scopes.
const hubUnit = "parachute-hub.service"

// fastTimeouts bounds the waits of the tests' runs (appended to the spec
// file). They only matter when something is wrong: the stand-in box stops
// and answers /health within milliseconds, so these budgets keep a broken
// run from costing the suite the defaults' 15 s and 30 s.
const fastTimeouts = "timeouts: {stop: 5s, portFree: 10s, healthy: 10s}\n"

// userName is the non-root account the user-scope tests add inside their
// sandbox.
const userName = "op"

// newUserBox boots a sandbox, adds a non-root user there and gives the box a
// work directory the user owns (home, bin and lib below it), so the layout
// tool and the reconciler both run as that user.
func newUserBox(t *testing.T) *box {
	t.Helper()
	b := newBox(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := b.in.AddUser(ctx, userName)
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	dir := filepath.Join(b.in.WorkDir(), userName)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	b.as, b.dir = &u, dir
	b.home = filepath.Join(dir, "home")
	b.spec = filepath.Join(dir, "spec.yaml")
	return b
}

// unitPath is where the hub unit of the box's scope lives, inside the
// sandbox.
func (b *box) unitPath(unit string) string {
	if b.as != nil {
		return filepath.Join(b.as.Home, ".config/systemd/user", unit)
	}
	return filepath.Join("/etc/systemd/system", unit)
}

// layoutSummary is the part of the layout tool's JSON summary the tests use.
type layoutSummary struct {
	Hub     struct{ Pid int } `json:"hub"`
	Modules []layoutModule    `json:"modules"`
}

// layoutModule is one module of the layout summary.
type layoutModule struct {
	Short string `json:"short"`
	Pid   int    `json:"pid"`
	Port  int    `json:"port"`
}

// layout runs the layout tool (as the box's user) with the box's paths and
// extra flags, and writes the spec file it prints with specExtra (YAML
// lines such as fastTimeouts) appended.
func (b *box) layout(specExtra string, extra ...string) layoutSummary {
	b.t.Helper()
	out, err := b.runOut(b.layoutArgs(extra...)...)
	if err != nil {
		b.t.Fatalf("layout %v: %v\n%s", extra, err, out)
	}
	var sum layoutSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		b.t.Fatalf("layout summary: %v\n%s", err, out)
	}
	spec, err := b.run(b.layoutArgs("--print-spec")...)
	if err != nil {
		b.t.Fatalf("layout --print-spec: %v\n%s", err, spec)
	}
	if err := os.WriteFile(b.spec, []byte(spec+specExtra), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return sum
}

// runOut runs argv inside and returns its standard output only.
func (b *box) runOut(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := b.cmd(ctx, argv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// mustRun runs argv inside as root and fails the test when it fails.
func (b *box) mustRun(argv ...string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := b.in.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("%q: %v\n%s", argv, err, out)
	}
	return string(out)
}

// startStranger starts argv inside, as root, as its own session with its
// output discarded and the working directory /, and returns its pid. It
// stays running until the sandbox shuts down or the test kills it.
func (b *box) startStranger(argv ...string) int {
	b.t.Helper()
	script := `cd / && exec setsid "$@" </dev/null >/dev/null 2>&1 & echo $!`
	args := append([]string{"sh", "-c", script, "stranger"}, argv...)
	out := strings.TrimSpace(b.mustRun(args...))
	pid, err := strconv.Atoi(out)
	if err != nil {
		b.t.Fatalf("start %q: pid %q", argv, out)
	}
	return pid
}

// killPid SIGKILLs pid inside (a process this test started) and waits
// until it is gone or a zombie.
func (b *box) killPid(pid int) {
	b.t.Helper()
	if pid <= 1 {
		b.t.Fatalf("refusing to kill pid %d", pid)
	}
	b.mustRun("kill", "-9", strconv.Itoa(pid))
	deadline := time.Now().Add(10 * time.Second)
	for b.procs(pid)[pid].Alive {
		if time.Now().After(deadline) {
			b.t.Fatalf("pid %d survived SIGKILL for 10s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFree waits until nothing listens on 127.0.0.1:port inside.
func (b *box) waitFree(port int) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := b.run("ss", "-Hltn", "sport = :"+strconv.Itoa(port))
		if strings.TrimSpace(out) == "" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf(":%d still held after 10s: %s", port, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitListening waits until something listens on 127.0.0.1:port inside.
func (b *box) waitListening(port int) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := b.run("ss", "-Hltn", "sport = :"+strconv.Itoa(port))
		if strings.TrimSpace(out) != "" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("nothing listens on :%d after 10s", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procInfo is what the tests read about a process inside: whether it runs
// (not a zombie), its start time (field 22 of /proc/PID/stat, to tell it
// from a later process with the same pid), its cgroup and its command line.
type procInfo struct {
	Alive      bool
	StartTicks string
	Cgroup     string
	Argv       string
}

// procs reads several processes inside in one command (one nsenter instead
// of one per pid).
func (b *box) procs(pids ...int) map[int]procInfo {
	b.t.Helper()
	out := map[int]procInfo{}
	if len(pids) == 0 {
		return out
	}
	const script = `for p in "$@"; do
	{
		s=$(cat /proc/$p/stat) || { echo "$p -"; continue; }
		c=$(sed -n 's/^0:://p' /proc/$p/cgroup)
		a=$(tr '\0' ' ' </proc/$p/cmdline)
		echo "$p + ${s##*) } | $c | $a"
	} 2>/dev/null
done`
	args := []string{"sh", "-c", script, "procs"}
	for _, p := range pids {
		args = append(args, strconv.Itoa(p))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw, err := b.in.Command(ctx, args...).Output()
	if err != nil {
		b.t.Fatalf("read processes %v: %v", pids, err)
	}
	text := string(raw)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		_, rest, ok := strings.Cut(line, " + ")
		if f[1] == "-" || !ok {
			out[pid] = procInfo{}
			continue
		}
		parts := strings.SplitN(rest, " | ", 3)
		stat := strings.Fields(parts[0])
		info := procInfo{Alive: len(stat) > 0 && stat[0] != "Z" && stat[0] != "X"}
		if len(stat) > 19 {
			info.StartTicks = stat[19] // field 22 overall; stat[0] is field 3
		}
		if len(parts) > 1 {
			info.Cgroup = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 {
			info.Argv = strings.TrimSpace(parts[2])
		}
		out[pid] = info
	}
	return out
}

// boxProcs is every process the box has now (boxPids of an observation),
// as procs reads them: what a run that must change nothing is checked
// against (untouched).
func (b *box) boxProcs() map[int]procInfo {
	b.t.Helper()
	return b.procs(boxPids(b.observe())...)
}

// untouched fails t for every process of before that is gone now, or
// whose pid names another process: what a run that is blocked, refused or
// only planning must leave running. before must be a non-empty set of
// processes that were running: a check of nothing passes nothing. what
// names the run in the messages.
func (b *box) untouched(t testing.TB, before map[int]procInfo, what string) {
	t.Helper()
	if len(before) == 0 {
		t.Fatalf("no process to check %s left running", what)
	}
	pids := slices.Sorted(maps.Keys(before))
	after := b.procs(pids...)
	for _, pid := range pids {
		if !before[pid].Alive {
			t.Fatalf("pid %d was not running before %s", pid, what)
		}
		if !after[pid].Alive || after[pid].StartTicks != before[pid].StartTicks {
			t.Errorf("pid %d (%v) did not survive %s", pid, before[pid].Argv, what)
		}
	}
}

// boxPids is every pid the snapshot attributes to the box: the live
// pidfiles' and every listener's on a declared port.
func boxPids(s observe.Snapshot) []int {
	seen := map[int]bool{}
	var out []int
	add := func(p int) {
		if p > 0 && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, pf := range s.Pidfiles {
		if pf.State == observe.PidLive {
			add(pf.Pid)
		}
	}
	for _, p := range s.Ports {
		for _, l := range p.Listeners {
			for _, pid := range l.Pids {
				add(pid)
			}
		}
	}
	sort.Ints(out)
	return out
}

// dataFiles reads what the reconciler must never write: services.json,
// every module's .env and the hub's database, by path.
func (b *box) dataFiles() map[string]string {
	b.t.Helper()
	out := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(b.home, "*", ".env"))
	paths = append(paths, filepath.Join(b.home, "services.json"), filepath.Join(b.home, "hub.db"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.t.Fatalf("read %s: %v", p, err)
		}
		out[p] = string(data)
	}
	if len(out) < 3 {
		b.t.Fatalf("the box has only %d data files: %v", len(out), paths)
	}
	return out
}

// sameData reports every data file that changed since before.
func (b *box) sameData(before map[string]string) {
	b.t.Helper()
	now := b.dataFiles()
	for p, data := range before {
		if now[p] != data {
			b.t.Errorf("%s changed (%d bytes, was %d)", p, len(now[p]), len(data))
		}
	}
	if len(now) != len(before) {
		b.t.Errorf("data files: %d now, %d before", len(now), len(before))
	}
}

// hubLog is the hub's log, where the unit's output and the detached hub's
// both go.
func (b *box) hubLog() string {
	data, _ := os.ReadFile(filepath.Join(b.home, "hub", "logs", "hub.log"))
	return string(data)
}

// twoHubMarks are what the stand-in hub (and its supervisor) print when a
// port it wants is already held: a hub that found another hub on its port,
// or a supervised module that found a leftover on its own.
var twoHubMarks = []string{"already in use", "port_squatter"}

// noTwoHubs fails when the hub log, from offset on, shows that a hub or a
// supervised module ever started while the port was held.
func (b *box) noTwoHubs(offset int) {
	b.t.Helper()
	log := b.hubLog()
	if offset > len(log) {
		offset = 0
	}
	for _, line := range strings.Split(log[offset:], "\n") {
		for _, m := range twoHubMarks {
			if strings.Contains(line, m) {
				b.t.Errorf("hub.log: %s", line)
			}
		}
	}
}

// unitCgroup is the hub unit's control group ("" when it has none).
func (b *box) unitCgroup() string { return b.prop(hubUnit, "ControlGroup") }

// checkSupervised asserts docs/design.md's supervised row on the running box:
// the unit active and enabled, /health answered from inside its control
// group, every module port held from it (within a bounded wait), none of
// the old pids alive, no restart of the unit since it started.
func (b *box) checkSupervised(old []int) {
	b.t.Helper()
	if got := b.systemctl("is-active", hubUnit); got != "active" {
		b.t.Fatalf("hub unit is %q, want active", got)
	}
	if got := b.systemctl("is-enabled", hubUnit); got != "enabled" {
		b.t.Errorf("hub unit is %q, want enabled", got)
	}
	if got := b.prop(hubUnit, "NRestarts"); got != "0" {
		b.t.Errorf("hub unit restarted %s times (a hub that could not bind?)", got)
	}
	cg := b.unitCgroup()
	if cg == "" {
		b.t.Fatal("the active hub unit has no control group")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := b.observe()
		problems := ownedByUnit(s, cg, b.procs(boxPids(s)...))
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("not owned by the unit (%s) after 15s:\n  %s", cg, strings.Join(problems, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for pid, info := range b.procs(old...) {
		if info.Alive && !underCgroup(info.Cgroup, cg) {
			b.t.Errorf("old pid %d (%s) is still alive outside the unit, in %s", pid, info.Argv, info.Cgroup)
		}
	}
}

// ownedByUnit lists what breaks supervised ownership in s: /health not
// answered from inside cg, a declared port not held or held from outside it.
func ownedByUnit(s observe.Snapshot, cg string, procs map[int]procInfo) []string {
	var problems []string
	if !s.Health.OK || s.Health.AnsweredBy == 0 {
		problems = append(problems, fmt.Sprintf("/health: %+v", s.Health))
	} else if c := procs[s.Health.AnsweredBy].Cgroup; !underCgroup(c, cg) {
		// AnsweredBy may be missing from procs when it holds no port; read it.
		problems = append(problems, fmt.Sprintf("/health answered by pid %d in %q", s.Health.AnsweredBy, c))
	}
	for _, p := range s.Ports {
		if len(p.Listeners) == 0 {
			problems = append(problems, fmt.Sprintf("port %d (%s) not held", p.Port, p.Owner))
		}
		for _, l := range p.Listeners {
			for _, pid := range l.Pids {
				if c := procs[pid].Cgroup; !underCgroup(c, cg) {
					problems = append(problems, fmt.Sprintf("port %d held by pid %d in %q", p.Port, pid, c))
				}
			}
		}
	}
	return problems
}

// underCgroup reports whether cgroup c is cg or below it.
func underCgroup(c, cg string) bool {
	return cg != "" && (c == cg || strings.HasPrefix(c, strings.TrimSuffix(cg, "/")+"/"))
}

// checkDetached asserts the detached row: no unit file, the unit not loaded
// or running, hub.pid live and the one that answers /health, every module
// port held, none of the old pids alive.
func (b *box) checkDetached(old []int) {
	b.t.Helper()
	b.noUnit()
	data, err := os.ReadFile(filepath.Join(b.home, "hub", "run", "hub.pid"))
	if err != nil {
		b.t.Fatalf("hub.pid: %v", err)
	}
	hub, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if port, err := os.ReadFile(filepath.Join(b.home, "hub", "run", "hub.port")); err != nil || strings.TrimSpace(string(port)) != "1939" {
		b.t.Errorf("hub.port: %q, %v", port, err)
	}
	s := b.observe()
	if !s.Health.OK || s.Health.AnsweredBy != hub {
		b.t.Errorf("/health %+v, want answered by hub.pid %d", s.Health, hub)
	}
	info := b.procs(append([]int{hub}, old...)...)
	if !info[hub].Alive {
		b.t.Errorf("hub.pid %d is not alive", hub)
	}
	for _, pid := range old {
		if pid != hub && info[pid].Alive {
			b.t.Errorf("old pid %d (%s) is still alive", pid, info[pid].Argv)
		}
	}
}

// noUnit asserts that no hub unit is on disk or known to the manager.
func (b *box) noUnit() {
	b.t.Helper()
	if _, err := os.Lstat(b.in.HostPath(b.unitPath(hubUnit))); !os.IsNotExist(err) {
		b.t.Errorf("hub unit file still there: %v", err)
	}
	if got := b.prop(hubUnit, "LoadState"); got != "not-found" {
		b.t.Errorf("hub unit LoadState %q, want not-found", got)
	}
	if got := b.prop(hubUnit, "ActiveState"); got != "inactive" {
		b.t.Errorf("hub unit ActiveState %q, want inactive", got)
	}
}

// checkAbsent asserts the absent row: no unit, nothing of the box running,
// no live pidfile, no declared port held by the box.
func (b *box) checkAbsent(old []int) {
	b.t.Helper()
	b.noUnit()
	s := b.observe()
	for _, pf := range s.Pidfiles {
		if pf.State == observe.PidLive {
			b.t.Errorf("live pidfile %s (pid %d)", pf.Path, pf.Pid)
		}
	}
	for _, p := range s.Ports {
		if len(p.Listeners) > 0 {
			b.t.Errorf("port %d still held: %+v", p.Port, p.Listeners)
		}
	}
	for pid, info := range b.procs(old...) {
		if info.Alive {
			b.t.Errorf("old pid %d (%s) is still alive", pid, info.Argv)
		}
	}
}

// converge runs the reconciler to desired and fails unless it converges.
func (b *box) converge(desired string) result {
	b.t.Helper()
	r := b.reconcileTo(desired)
	if r.code != 0 || !r.doc.Converged {
		b.t.Fatalf("reconcile --desired %s: %s", desired, describe(r))
	}
	b.noFailedStep(r)
	return r
}

// reconcileTo runs `parachute reconcile --desired desired` once.
func (b *box) reconcileTo(desired string) result {
	b.t.Helper()
	return b.parachute("reconcile", "--desired", desired)
}

// describe renders a run for a failure message.
func describe(r result) string {
	u := r.doc.Snapshot.Unit
	return fmt.Sprintf("exit %d, converged %v, error %q\nevents: %s\nsteps left %v\nblockers %+v\nunit %s/%s main %d, health %+v\nholders %+v\nnotes %q\nstderr: %s",
		r.code, r.doc.Converged, r.doc.Error, eventTrail(r.events), stepNames(r.doc.Steps), r.doc.Blockers,
		u.ActiveState, u.SubState, u.MainPID, r.doc.Snapshot.Health, r.doc.Holders, r.doc.Notes, r.stderr)
}

// noFailedStep fails when a run that converged still reports a failed step:
// every step of a clean run ends with step-done, and its document carries no
// error.
func (b *box) noFailedStep(r result) {
	b.t.Helper()
	for _, ev := range r.events {
		if ev["event"] == "step-failed" {
			b.t.Errorf("step %v %v (%v) failed in a run that converged: %v", ev["n"], ev["action"], ev["target"], ev["error"])
		}
	}
	if r.doc.Error != "" {
		b.t.Errorf("a converged run's document carries an error: %s", r.doc.Error)
	}
}

// stepNames renders steps as "n action target" for messages.
func stepNames(steps []reconcile.Step) []string {
	var out []string
	for _, st := range steps {
		out = append(out, fmt.Sprintf("%d %s %s", st.N, st.Action, st.Target))
	}
	return out
}

// fileTree fingerprints every file, directory and symlink under root (name,
// mode, size, mtime, content hash), for "nothing changed" checks.
func fileTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:8])
		case fi.Mode()&fs.ModeSymlink != 0:
			sum, _ = os.Readlink(p)
		}
		out[p] = fmt.Sprintf("%v %d %d %s", fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// diffTrees lists what differs between two fileTree results.
func diffTrees(a, b map[string]string) []string {
	var out []string
	for p, v := range a {
		if w, ok := b[p]; !ok {
			out = append(out, "removed "+p)
		} else if v != w {
			out = append(out, fmt.Sprintf("changed %s: %s -> %s", p, v, w))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, "added "+p)
		}
	}
	sort.Strings(out)
	return out
}

// crashRun is one reconciler run that was SIGKILLed at an event.
type crashRun struct {
	events []map[string]any
	killed bool
	// last is the index in events of the last event printed before the
	// process died: where it really stopped (a step prints step-start
	// before it acts).
	last int
	// paused says the run was held after each write (strace was found).
	paused bool
	took   time.Duration
}

// pauseAfterWrite is how long a killed run's every write(2) is held before
// it returns, when strace is on this machine: the event just printed is
// already readable, and the reconciler cannot start the next step before
// the SIGKILL, sent within a millisecond of reading it, lands. Without
// strace the kill still follows the event within about a millisecond, but
// steps that take microseconds (pidfile removals, waits for free ports)
// may have run on by then; crashRun.last says where it stopped. 20 ms was
// once outrun on a loaded 2-core machine (the test's read, decode and kill
// were descheduled that long); 50 ms costs the suite a few seconds.
const pauseAfterWrite = 50 * time.Millisecond

// parachuteKilledAt runs `parachute reconcile ARGS --spec … --output json`
// inside and, as soon as it prints the event kind ("step-start", or
// "step-end" for step-done or step-failed) of step n, SIGKILLs it. The
// signal goes straight from the goroutine that reads the event, through a
// pidfd on the reconciler's host pid, found from the pid a shell prints
// inside before exec'ing the reconciler (or strace, which then runs the
// reconciler as its child: -f for its threads, -b execve so that what the
// reconciler starts is not traced).
func (b *box) parachuteKilledAt(kind string, n int, args ...string) crashRun {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	argv := []string{"sh", "-c", `echo "$$"; exec "$@"`, "sh"}
	tracer, _ := exec.LookPath("strace") // the root file system is shared
	if tracer != "" {
		argv = append(argv, tracer, "-f", "-qq", "-b", "execve", "-o", "/dev/null", "-e", "trace=write",
			"-e", fmt.Sprintf("inject=write:delay_exit=%d", pauseAfterWrite.Microseconds()), "--")
	}
	argv = append(append(argv, b.bins.parachute), args...)
	argv = append(argv, "--spec", b.spec, "--output", "json")
	cmd := b.cmd(ctx, argv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start parachute: %v", err)
	}
	var lead, target *pidfd
	defer func() {
		lead.close()
		target.close()
	}()
	cr := crashRun{last: -1, paused: tracer != ""}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if lead == nil {
			inner, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				b.t.Fatalf("first line %q is not a pid", line)
			}
			lead = childPidfd(b.t, cmd.Process.Pid, func(host int) bool { return innermostPid(host) == inner })
			continue
		}
		if !strings.HasPrefix(line, `{"event":`) {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			b.t.Fatalf("bad event line %q: %v", line, err)
		}
		cr.events = append(cr.events, ev)
		if target == nil {
			target = lead
			if tracer != "" {
				want, _ := filepath.EvalSymlinks(b.bins.parachute)
				target = childPidfd(b.t, lead.host, func(host int) bool {
					exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", host))
					return exe == want
				})
			}
		}
		if cr.killed || int(num(ev["n"])) != n || !isEvent(ev, kind) {
			continue
		}
		if err := target.kill(); err != nil {
			b.t.Fatalf("SIGKILL the reconciler: %v", err)
		}
		cr.killed = true
	}
	_ = cmd.Wait()
	cr.took = time.Since(t0)
	cr.last = len(cr.events) - 1
	return cr
}

// isEvent reports whether ev is kind: "step-start", or "step-end" (a
// step-done or a step-failed).
func isEvent(ev map[string]any, kind string) bool {
	e := ev["event"]
	return (kind == "step-start" && e == "step-start") || (kind == "step-end" && (e == "step-done" || e == "step-failed"))
}

// num reads a JSON number.
func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
