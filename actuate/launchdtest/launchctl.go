package launchdtest

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/unitfile"
)

// Error numbers launchd answers with (`launchctl error <n>`).
const (
	ErrNoSuchFile     = 2   // No such file or directory
	ErrNoSuchProcess  = 3   // No such process: bootout of a job not loaded
	ErrIO             = 5   // Input/output error: bootstrap refused (window, loaded, disabled, bad plist)
	ErrInProgress     = 37  // Operation already in progress
	ErrNoDomain       = 112 // Could not find specified domain
	ErrNoService      = 113 // Could not find specified service
	ErrDisabled       = 119 // Service is disabled
	ErrDomainAction   = 125 // Domain does not support specified action
	ErrSessionRefused = 134 // Service cannot load in requested session
	exitUsage         = 64
)

var errText = map[int]string{
	ErrNoSuchFile: "No such file or directory", ErrNoSuchProcess: "No such process", ErrIO: "Input/output error",
	ErrInProgress: "Operation already in progress", ErrNoDomain: "Could not find specified domain",
	ErrNoService: "Could not find specified service", ErrDisabled: "Service is disabled",
	ErrDomainAction: "Domain does not support specified action", ErrSessionRefused: "Service cannot load in requested session",
}

// job is one loaded job.
type job struct {
	label, domain, path string
	argv                []string
	port                int
	keepAlive           bool
	throttle            time.Duration
	pid                 int
	lastExit            int
	lastExitKnown       bool
	lastSignal          string
	runs                int
	spawnedAt           time.Time
	// nextSpawn is when launchd starts a KeepAlive job again (zero: never).
	nextSpawn time.Time
	// removeAt is set by bootout: the label is released then.
	removeAt time.Time
}

func (j *job) state() string {
	switch {
	case j.pid > 0:
		return "running"
	case j.removeAt.IsZero() && j.keepAlive && !j.nextSpawn.IsZero():
		return "spawn scheduled"
	}
	return "not running"
}

type fault struct {
	code   int
	stderr string
}

// Launchctl is the fake launchd. Set the exported fields before the first
// Run; the zero values mean the defaults shown.
type Launchctl struct {
	// Window is how long after a bootout launchd refuses a bootstrap of the
	// same label (default 4 s; reports from macOS 26 measure 3 to 5 s).
	Window time.Duration
	// WindowCode is what bootstrap answers inside Window: ErrIO (default)
	// or ErrInProgress.
	WindowCode int
	// Linger is how long a booted-out label stays visible to print, while
	// launchd reaps the job (default 1 s).
	Linger time.Duration
	// NoDomainCode is what print answers for a domain that does not exist
	// (default ErrDomainAction; older systems answer ErrNoDomain).
	NoDomainCode int

	mu        sync.Mutex
	w         *actuatetest.World
	domains   map[string]bool
	jobs      map[string]*job            // by service target
	overrides map[string]map[string]bool // domain → label → disabled
	bootedOut map[string]time.Time       // service target → its last bootout
	broken    map[string]int             // program → exit code
	faults    map[string][]fault
	calls     []string
}

// New returns the launchd of w's user: the domains gui/<uid> (a GUI login
// session) and user/<uid> exist, nothing is loaded. It sets w.Launchctl.
func New(w *actuatetest.World) *Launchctl {
	uid := w.User.UID
	l := &Launchctl{w: w,
		domains: map[string]bool{fmt.Sprintf("gui/%d", uid): true, fmt.Sprintf("user/%d", uid): true},
		jobs:    map[string]*job{}, overrides: map[string]map[string]bool{}, bootedOut: map[string]time.Time{},
		broken: map[string]int{}, faults: map[string][]fault{},
	}
	w.Launchctl = l
	return l
}

// Break makes every start of program (a job's ProgramArguments[0]) fail at
// once with exit code code, as a missing or broken program does.
func (l *Launchctl) Break(program string, code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.broken[program] = code
}

// Repair undoes Break.
func (l *Launchctl) Repair(program string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.broken, program)
}

// FailNext makes the next call of verb answer code with stderr, and do
// nothing. Code 0 is launchctl exiting 0 although the verb did nothing:
// only print can tell. An empty stderr gets launchctl's usual message.
func (l *Launchctl) FailNext(verb string, code int, stderr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults[verb] = append(l.faults[verb], fault{code: code, stderr: stderr})
}

// Logout ends the user's GUI session: launchd tears the gui/<uid> domain
// down with every job in it. (Over SSH the domain never existed.)
func (l *Launchctl) Logout() {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.gui()
	for _, t := range l.targets() {
		if j := l.jobs[t]; j.domain == d {
			if j.pid > 0 {
				l.w.StopTree(j.pid)
			}
			delete(l.jobs, t)
		}
	}
	delete(l.domains, d)
}

// Login starts a GUI session: launchd creates gui/<uid> and loads every
// plist in ~/Library/LaunchAgents whose label is not disabled, starting
// those with RunAtLoad.
func (l *Launchctl) Login() {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.gui()
	l.domains[d] = true
	dir := filepath.Dir(l.w.AgentPath("x"))
	for _, path := range l.w.FilesUnder(dir) {
		if strings.HasSuffix(path, ".plist") {
			_, _, _, _ = l.bootstrap(d, path, true)
		}
	}
}

// JobInfo is a loaded job as a test may inspect it.
type JobInfo struct {
	Path     string
	PID      int
	State    string
	LastExit int
	Runs     int
}

// Job returns the job label in the GUI domain, and whether it is loaded.
func (l *Launchctl) Job(label string) (JobInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settle(l.w.Now())
	j, ok := l.jobs[l.gui()+"/"+label]
	if !ok || !j.removeAt.IsZero() {
		return JobInfo{}, false
	}
	return JobInfo{Path: j.path, PID: j.pid, State: j.state(), LastExit: j.lastExit, Runs: j.runs}, true
}

// Disabled reports whether label has a disabled override in the GUI domain.
func (l *Launchctl) Disabled(label string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.overrides[l.gui()][label]
}

// Calls returns every command run, as "verb arg …", in order.
func (l *Launchctl) Calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// Mutations returns the calls that change launchd (everything but print
// and print-disabled).
func (l *Launchctl) Mutations() []string {
	var out []string
	for _, c := range l.Calls() {
		if !strings.HasPrefix(c, "print") {
			out = append(out, c)
		}
	}
	return out
}

func (l *Launchctl) gui() string { return fmt.Sprintf("gui/%d", l.w.User.UID) }

func (l *Launchctl) window() time.Duration {
	if l.Window <= 0 {
		return 4 * time.Second
	}
	return l.Window
}

func (l *Launchctl) linger() time.Duration {
	if l.Linger <= 0 {
		return time.Second
	}
	return l.Linger
}

func (l *Launchctl) targets() []string {
	ts := make([]string, 0, len(l.jobs))
	for t := range l.jobs {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Run implements the exec interface of actuate.Launchctl and
// observe.Launchctl.
func (l *Launchctl) Run(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", -1, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, strings.Join(args, " "))
	l.settle(l.w.Now())
	if len(args) == 0 {
		return "", "Usage: launchctl <subcommand> ... | help [subcommand]\n", exitUsage, nil
	}
	verb := args[0]
	if fs := l.faults[verb]; len(fs) > 0 {
		f := fs[0]
		l.faults[verb] = fs[1:]
		if f.stderr == "" && f.code != 0 {
			f.stderr = fmt.Sprintf("%s failed: %d: %s\n", verb, f.code, errText[f.code])
		}
		return "", f.stderr, f.code, nil
	}
	switch verb {
	case "print":
		if len(args) != 2 {
			return usage(verb)
		}
		return l.print(args[1])
	case "print-disabled":
		if len(args) != 2 {
			return usage(verb)
		}
		return l.printDisabled(args[1])
	case "bootstrap":
		if len(args) != 3 {
			return usage(verb)
		}
		return l.bootstrap(args[1], args[2], false)
	case "bootout":
		if len(args) != 2 {
			return usage(verb)
		}
		return l.bootout(args[1])
	case "enable", "disable":
		if len(args) != 2 {
			return usage(verb)
		}
		return l.override(args[1], verb == "disable")
	case "kickstart":
		kill := false
		rest := args[1:]
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			switch rest[0] {
			case "-k":
				kill = true
			case "-p":
			default:
				return usage(verb)
			}
			rest = rest[1:]
		}
		if len(rest) != 1 {
			return usage(verb)
		}
		return l.kickstart(rest[0], kill)
	}
	return "", fmt.Sprintf("Unrecognized subcommand: %s\nUsage: launchctl <subcommand> ... | help [subcommand]\n", verb), exitUsage, nil
}

func usage(verb string) (string, string, int, error) {
	return "", fmt.Sprintf("Usage: launchctl %s <arguments>\n", verb), exitUsage, nil
}

// split cuts a service target "gui/501/label" into domain and label.
func split(target string) (domain, label string) {
	parts := strings.SplitN(target, "/", 3)
	switch {
	case len(parts) == 3:
		return parts[0] + "/" + parts[1], parts[2]
	case len(parts) == 2 && parts[0] == "system":
		return "system", parts[1]
	}
	return target, ""
}

// settle lets time act: booted-out labels are released, exited programs
// are noticed, KeepAlive jobs are started again after their throttle.
func (l *Launchctl) settle(now time.Time) {
	for _, t := range l.targets() {
		j := l.jobs[t]
		if !j.removeAt.IsZero() {
			if !now.Before(j.removeAt) {
				delete(l.jobs, t)
			}
			continue
		}
		if j.pid > 0 && !l.w.Alive(j.pid) {
			// Exited behind launchd's back (killed): no exit code, a signal.
			j.pid, j.lastExitKnown, j.lastSignal = 0, false, "Terminated: 15"
			if j.keepAlive {
				j.nextSpawn = later(now, j.spawnedAt.Add(j.throttle))
			}
		}
		if j.pid == 0 && j.keepAlive && !j.nextSpawn.IsZero() && !now.Before(j.nextSpawn) && !l.overrides[j.domain][j.label] {
			l.spawn(j, now, false)
		}
	}
}

// spawn starts j's program in the world.
func (l *Launchctl) spawn(j *job, now time.Time, requested bool) {
	j.runs++
	j.spawnedAt, j.nextSpawn, j.lastSignal = now, time.Time{}, ""
	exit, broken := l.broken[j.argv[0]]
	if !broken {
		pid, alive := l.w.SpawnJob(actuatetest.JobSpawn{Label: j.label, Argv: j.argv, Port: j.port, Requested: requested})
		if alive {
			j.pid = pid
			return
		}
		exit = 1 // the hub: "hub port 1939 is already in use"; a module: EADDRINUSE
	}
	j.pid, j.lastExit, j.lastExitKnown = 0, exit, true
	if j.keepAlive {
		j.nextSpawn = now.Add(j.throttle)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// noDomain is print's answer for a domain that does not exist.
func (l *Launchctl) noDomain(domain string) (string, string, int, error) {
	code := l.NoDomainCode
	if code == 0 {
		code = ErrDomainAction
	}
	kind, id, _ := strings.Cut(domain, "/")
	return "", fmt.Sprintf("Bad request.\nCould not find domain for %s: %s\n", kind, id), code, nil
}

// loaded returns the job at target unless it is gone or being booted out.
func (l *Launchctl) loaded(target string) *job {
	j, ok := l.jobs[target]
	if !ok || !j.removeAt.IsZero() {
		return nil
	}
	return j
}

func (l *Launchctl) print(target string) (string, string, int, error) {
	domain, label := split(target)
	if !l.domains[domain] {
		return l.noDomain(domain)
	}
	if label == "" {
		var b strings.Builder
		fmt.Fprintf(&b, "%s = {\n\ttype = login\n\thandle = 100005\n\tservices = {\n", domain)
		for _, t := range l.targets() {
			if j := l.jobs[t]; j.domain == domain {
				fmt.Fprintf(&b, "\t\t%d\t%s\t%s\n", j.pid, exitColumn(j), j.label)
			}
		}
		b.WriteString("\t}\n}\n")
		return b.String(), "", 0, nil
	}
	j, ok := l.jobs[target]
	if !ok { // a job being booted out is still printed until released
		kind, id, _ := strings.Cut(domain, "/")
		return "", fmt.Sprintf("Bad request.\nCould not find service %q in domain for %s: %s\n", label, kind, id), ErrNoService, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s = {\n\tactive count = %d\n\tpath = %s\n\ttype = LaunchAgent\n\tstate = %s\n\n", target, boolInt(j.pid > 0), j.path, j.state())
	fmt.Fprintf(&b, "\tprogram = %s\n\targuments = {\n", j.argv[0])
	for _, a := range j.argv {
		fmt.Fprintf(&b, "\t\t%s\n", a)
	}
	b.WriteString("\t}\n\n")
	fmt.Fprintf(&b, "\tdomain = %s [100005]\n\truns = %d\n", domain, j.runs)
	if j.pid > 0 {
		fmt.Fprintf(&b, "\tpid = %d\n", j.pid)
	}
	b.WriteString("\timmediate reason = speculative\n\tforks = 0\n\texecs = 1\n")
	if j.lastSignal != "" {
		fmt.Fprintf(&b, "\tlast terminating signal = %s\n", j.lastSignal)
	}
	fmt.Fprintf(&b, "\tlast exit code = %s\n\n\tspawn type = daemon (3)\n\tjetsam properties = {\n\t\tpid = 1\n\t}\n", exitText(j))
	props := "runatload"
	if j.keepAlive {
		props = "keepalive | runatload"
	}
	fmt.Fprintf(&b, "\tproperties = %s\n}\n", props)
	return b.String(), "", 0, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func exitText(j *job) string {
	if !j.lastExitKnown {
		return "(never exited)"
	}
	if j.lastExit == 78 {
		return "78: EX_CONFIG"
	}
	return fmt.Sprint(j.lastExit)
}

func exitColumn(j *job) string {
	if !j.lastExitKnown {
		return "-"
	}
	return fmt.Sprint(j.lastExit)
}

func (l *Launchctl) printDisabled(domain string) (string, string, int, error) {
	if !l.domains[domain] {
		return "", fmt.Sprintf("Could not print domain: %d: %s\n", ErrDomainAction, errText[ErrDomainAction]), ErrDomainAction, nil
	}
	var b strings.Builder
	b.WriteString("disabled services = {\n")
	labels := make([]string, 0, len(l.overrides[domain]))
	for label := range l.overrides[domain] {
		labels = append(labels, label)
	}
	sort.Strings(labels)
	for _, label := range labels {
		word := "enabled"
		if l.overrides[domain][label] {
			word = "disabled"
		}
		fmt.Fprintf(&b, "\t%q => %s\n", label, word)
	}
	b.WriteString("}\n\nlogin item associations = {\n}\n")
	return b.String(), "", 0, nil
}

func bootstrapFailed(code int) (string, string, int, error) {
	msg := fmt.Sprintf("Bootstrap failed: %d: %s\n", code, errText[code])
	if code == ErrIO {
		msg += "Try re-running the command as root for richer errors.\n"
	}
	return "", msg, code, nil
}

// bootstrap loads the plist at path into domain. atLogin is launchd's own
// load at a GUI login, which skips disabled labels silently.
func (l *Launchctl) bootstrap(domain, path string, atLogin bool) (string, string, int, error) {
	if !l.domains[domain] {
		return bootstrapFailed(ErrDomainAction)
	}
	data, ok := l.w.File(path)
	if !ok {
		return bootstrapFailed(ErrNoSuchFile)
	}
	pl, err := unitfile.ParseLaunchd([]byte(data))
	label, _ := pl["Label"].(string)
	argv := stringsOf(pl["ProgramArguments"])
	if err != nil || label == "" || len(argv) == 0 {
		return bootstrapFailed(ErrIO)
	}
	target := domain + "/" + label
	now := l.w.Now()
	inWindow := false
	if j, ok := l.jobs[target]; ok && !j.removeAt.IsZero() {
		inWindow = true
	}
	if t, ok := l.bootedOut[target]; ok && now.Before(t.Add(l.window())) {
		inWindow = true
	}
	if inWindow {
		// launchd is still tearing the booted-out job down.
		code := l.WindowCode
		if code == 0 {
			code = ErrIO
		}
		return bootstrapFailed(code)
	}
	if l.jobs[target] != nil {
		return bootstrapFailed(ErrIO) // already loaded
	}
	if l.overrides[domain][label] {
		if atLogin {
			return "", "", 0, nil
		}
		return bootstrapFailed(ErrIO) // disabled (119 before macOS 13)
	}
	j := &job{label: label, domain: domain, path: path, argv: argv, throttle: 10 * time.Second}
	j.keepAlive, _ = pl["KeepAlive"].(bool)
	if n, ok := pl["ThrottleInterval"].(int64); ok && n > 0 {
		j.throttle = time.Duration(n) * time.Second
	}
	if env, ok := pl["EnvironmentVariables"].(map[string]any); ok {
		if p, ok := env["PORT"].(string); ok {
			j.port, _ = strconv.Atoi(p) // not a number: the program listens nowhere
		}
	}
	l.jobs[target] = j
	if ral, _ := pl["RunAtLoad"].(bool); ral {
		l.spawn(j, now, !atLogin)
	}
	return "", "", 0, nil
}

func stringsOf(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (l *Launchctl) bootout(target string) (string, string, int, error) {
	domain, _ := split(target)
	if !l.domains[domain] {
		return "", fmt.Sprintf("Boot-out failed: %d: %s\n", ErrDomainAction, errText[ErrDomainAction]), ErrDomainAction, nil
	}
	j := l.loaded(target)
	if j == nil {
		return "", fmt.Sprintf("Boot-out failed: %d: %s\n", ErrNoSuchProcess, errText[ErrNoSuchProcess]), ErrNoSuchProcess, nil
	}
	// SIGTERM: the hub stops its modules and exits. bootout returns now;
	// launchd releases the label a little later.
	if j.pid > 0 {
		l.w.StopTree(j.pid)
	}
	now := l.w.Now()
	j.pid, j.nextSpawn, j.removeAt = 0, time.Time{}, now.Add(l.linger())
	l.bootedOut[target] = now
	return "", "", 0, nil
}

func (l *Launchctl) override(target string, disabled bool) (string, string, int, error) {
	domain, label := split(target)
	if !l.domains[domain] {
		return "", fmt.Sprintf("Could not %s service: %d: %s\n", map[bool]string{true: "disable", false: "enable"}[disabled], ErrDomainAction, errText[ErrDomainAction]), ErrDomainAction, nil
	}
	if l.overrides[domain] == nil {
		l.overrides[domain] = map[string]bool{}
	}
	l.overrides[domain][label] = disabled
	return "", "", 0, nil
}

func (l *Launchctl) kickstart(target string, kill bool) (string, string, int, error) {
	domain, label := split(target)
	if !l.domains[domain] {
		return "", fmt.Sprintf("Could not kickstart service %q: %d: %s\n", label, ErrDomainAction, errText[ErrDomainAction]), ErrDomainAction, nil
	}
	j := l.loaded(target)
	if j == nil {
		kind, id, _ := strings.Cut(domain, "/")
		return "", fmt.Sprintf("Could not find service %q in domain for %s: %s\n", label, kind, id), ErrNoService, nil
	}
	if l.overrides[domain][label] {
		return "", fmt.Sprintf("Could not kickstart service %q: %d: %s\n", label, ErrDisabled, errText[ErrDisabled]), ErrDisabled, nil
	}
	if j.pid > 0 && !kill {
		return "", "", 0, nil
	}
	if j.pid > 0 {
		l.w.StopTree(j.pid)
		j.pid = 0
	}
	// kickstart returns once the program is spawned: a program that fails
	// at once still exits 0 here.
	l.spawn(j, l.w.Now(), true)
	return "", "", 0, nil
}
