// Package cli is the parachute command line: parse, load the spec, take the
// lock, observe, plan, render or apply, and map the outcome to an exit code.
// It writes only to the writers it is given and never calls os.Exit.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/pflag"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// Exit codes: the contract cron, boot units and Ansible rely on.
const (
	ExitConverged = 0  // converged: nothing to do, or changes applied and verified
	ExitFailed    = 1  // failed; safe to retry — the next run resumes (also: the unit crash-loops, the manager did not answer)
	ExitChanges   = 2  // with --plan: changes are pending
	ExitBlocked   = 3  // blocked: needs a person; retrying will not help
	ExitUsage     = 64 // usage error
	ExitInput     = 65 // invalid input: services.json unreadable as a whole, bad spec file
	ExitLocked    = 75 // another run holds the lock
)

const usageText = `usage: parachute <command> [flags]

Commands:
  reconcile   converge the box to a runtime model (supervised, detached, absent)
  observe     print what the reconciler sees on this box; changes nothing
  help        show this help, or help for a command

parachute reconcile [--desired supervised|detached|absent] [--plan]
                    [--home DIR] [--spec FILE] [--port N]
                    [--scope auto|user|system] [--manager auto|systemd|launchd]
                    [--output text|json] [--until-converged] [--timeout DURATION]
                    [--wait-lock DURATION] [--verbose]
parachute observe   [--home DIR] [--spec FILE] [--port N] [--output text|json]

Exit codes:
  0   converged (nothing to do, or changes applied and verified)
  1   failed; safe to retry — the next run resumes (a step failed, the hub
      unit crash-loops or failed, the service manager did not answer)
  2   with --plan: changes are pending
  3   blocked: needs a person (foreign port holder, no service manager,
      unreadable state, a module on the hub's port, a missing home, a
      drop-in that breaks the start); retrying will not help
  64  usage error
  65  invalid input (services.json unreadable as a whole, bad spec file)
  75  another run holds the lock
`

// Main runs the parachute command with args (without the program name).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return ExitUsage
	}
	switch args[0] {
	case "reconcile":
		return runReconcile(ctx, args[1:], stdout, stderr)
	case "observe":
		return runObserve(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return ExitConverged
	}
	pf(stderr, "parachute: unknown command %q\n\n%s", args[0], usageText)
	return ExitUsage
}

// flags are the values common to both commands.
type flags struct {
	fs      *pflag.FlagSet
	desired string
	plan    bool
	home    string
	spec    string
	port    int
	scope   string
	manager string
	output  string
	until   bool
	timeout time.Duration
	wait    time.Duration
	verbose bool
}

func newFlags(name string, stderr io.Writer, reconcileFlags bool) *flags {
	f := &flags{fs: pflag.NewFlagSet(name, pflag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.StringVar(&f.home, "home", "", "PARACHUTE_HOME (default $PARACHUTE_HOME, else ~/.parachute)")
	fs.StringVar(&f.spec, "spec", "", "YAML spec file; flags win over it")
	fs.IntVar(&f.port, "port", 0, "hub port (default 1939)")
	fs.StringVar(&f.scope, "scope", "", "systemd scope: auto, user or system (default auto: system for root)")
	fs.StringVar(&f.manager, "manager", "", "service manager: auto, systemd or launchd (default auto)")
	fs.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "say more on stderr")
	if reconcileFlags {
		fs.StringVar(&f.desired, "desired", "", "runtime model: supervised, detached or absent (default supervised)")
		fs.BoolVar(&f.plan, "plan", false, "print the plan and change nothing")
		fs.BoolVar(&f.until, "until-converged", false, "observe and apply again, with backoff, until converged or --timeout")
		fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "with --until-converged: give up after this long")
		fs.DurationVar(&f.wait, "wait-lock", 0, "wait this long for another run's lock instead of exiting 75")
	}
	// -h prints the usage to stdout from parse; a bad flag names itself on
	// stderr and points at `parachute help`.
	fs.Usage = func() {}
	return f
}

// parse parses args; it returns an exit code when the run should end.
func (f *flags) parse(args []string, stdout, stderr io.Writer) (int, bool) {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return ExitConverged, true
		}
		pf(stderr, "parachute %s: %v (see parachute help)\n", f.fs.Name(), err)
		return ExitUsage, true
	}
	if f.fs.NArg() > 0 {
		pf(stderr, "parachute %s: unexpected argument %q (see parachute help)\n", f.fs.Name(), f.fs.Arg(0))
		return ExitUsage, true
	}
	if f.output != "text" && f.output != "json" {
		pf(stderr, "parachute %s: --output must be text or json, not %q\n", f.fs.Name(), f.output)
		return ExitUsage, true
	}
	if f.fs.Changed("timeout") && !f.until {
		pf(stderr, "parachute %s: --timeout goes with --until-converged\n", f.fs.Name())
		return ExitUsage, true
	}
	return 0, false
}

// load builds the desired state; it maps spec errors to exit codes.
func (f *flags) load(stderr io.Writer) (spec.Desired, int, bool) {
	d, err := loadDesired(f)
	if err == nil {
		return d, 0, false
	}
	var ue *spec.UsageError
	var ie *spec.InputError
	switch {
	case errors.As(err, &ue):
		pf(stderr, "parachute %s: %v\n", f.fs.Name(), err)
		return d, ExitUsage, true
	case errors.As(err, &ie):
		pf(stderr, "parachute %s: %v\nnothing was changed\n", f.fs.Name(), err)
		return d, ExitInput, true
	}
	pf(stderr, "parachute %s: %v\nnothing was changed\n", f.fs.Name(), err)
	return d, ExitInput, true
}

// currentUser is the invoking user as the hub sees it: name from $USER,
// $LOGNAME or $USERNAME (else the account's name), home from $HOME.
func currentUser() spec.User {
	u := spec.User{UID: os.Getuid()}
	for _, k := range []string{"USER", "LOGNAME", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			u.Name = v
			break
		}
	}
	acct, err := user.Current()
	if u.Name == "" && err == nil {
		u.Name = acct.Username
	}
	if h, herr := os.UserHomeDir(); herr == nil {
		u.Home = h
	} else if err == nil {
		u.Home = acct.HomeDir
	}
	return u
}

// prepare parses args, loads the desired state and wires the system. It
// returns the exit code when the run ends there.
func prepare(name string, args []string, stdout, stderr io.Writer, reconcileFlags bool) (*flags, spec.Desired, *system, int, bool) {
	f := newFlags(name, stderr, reconcileFlags)
	if code, done := f.parse(args, stdout, stderr); done {
		return nil, spec.Desired{}, nil, code, true
	}
	d, code, done := f.load(stderr)
	if done {
		return nil, d, nil, code, true
	}
	sys, err := newSystem(d)
	if err != nil {
		pf(stderr, "parachute %s: %v\n", name, err)
		return nil, d, nil, ExitBlocked, true
	}
	return f, d, sys, 0, false
}

// observe takes one snapshot; with --verbose it reports what could not be
// read.
func (f *flags) observe(ctx context.Context, sys *system, d spec.Desired, stderr io.Writer) (observe.Snapshot, error) {
	snap, err := sys.observer.Observe(ctx, d)
	if err == nil && f.verbose {
		for _, p := range snap.Problems {
			pf(stderr, "parachute %s: observe: %s\n", f.fs.Name(), p)
		}
	}
	return snap, err
}

func runObserve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, d, sys, code, done := prepare("observe", args, stdout, stderr, false)
	if done {
		return code
	}
	defer sys.Close()
	snap, err := f.observe(ctx, sys, d, stderr)
	if err != nil {
		pf(stderr, "parachute observe: %v\n", err)
		return ExitBlocked
	}
	if f.output == "json" {
		return writeJSON(stdout, stderr, observeDocument{Schema: reconcile.Schema, Snapshot: snap})
	}
	renderSnapshot(stdout, snap)
	return ExitConverged
}

// observeDocument is `parachute observe --output json`: the snapshot, with
// the schema version every JSON document carries.
type observeDocument struct {
	Schema string `json:"schema"`
	observe.Snapshot
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		pf(stderr, "parachute: write output: %v\n", err)
		return ExitFailed
	}
	return ExitConverged
}

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, d, sys, code, done := prepare("reconcile", args, stdout, stderr, true)
	if done {
		return code
	}
	defer sys.Close()

	if f.plan {
		snap, err := f.observe(ctx, sys, d, stderr)
		if err != nil {
			pf(stderr, "parachute reconcile: %v\n", err)
			return ExitBlocked
		}
		p := reconcile.Compute(d, snap)
		if f.output == "json" {
			if c := writeJSON(stdout, stderr, reconcile.NewDocument(p, snap)); c != 0 {
				return c
			}
		} else {
			renderPlan(stdout, p, snap, applyHint(args))
		}
		return planExit(p)
	}

	if !d.Owner.Known || d.Owner.UID != d.User.UID {
		// Look before taking the lock, which is a write: a box without a
		// home (Owner unknown) that needs nothing must not get one just to
		// hold a lock, and a run on a home that belongs to someone else
		// (root on a user's box) is blocked and writes nothing at all, not
		// even the lock file.
		snap, err := f.observe(ctx, sys, d, stderr)
		if err == nil {
			if p := reconcile.Compute(d, snap); p.Converged || p.Outcome == reconcile.OutcomeBlocked {
				return finish(stdout, stderr, f.output == "json", p, snap, nil, nil, time.Now())
			}
		}
		if d.Owner.Known {
			pf(stderr, "parachute reconcile: %s belongs to uid %d, not to this user (uid %d); run it as the owner\n", d.Home, d.Owner.UID, d.User.UID)
			return ExitBlocked
		}
	}
	unlock, code := lock(ctx, d.Home, f.wait, stderr)
	if unlock == nil {
		return code
	}
	defer unlock()
	return apply(ctx, f, d, sys, stdout, stderr)
}

// planExit maps a plan (with --plan) to its exit code.
func planExit(p reconcile.Plan) int {
	switch p.Outcome {
	case reconcile.OutcomeConverged:
		return ExitConverged
	case reconcile.OutcomeBlocked:
		return ExitBlocked
	case reconcile.OutcomeFailed:
		return ExitFailed
	case reconcile.OutcomeChanges, reconcile.OutcomePending:
	}
	return ExitChanges
}

// applyHint is the command that applies what --plan showed.
func applyHint(args []string) string {
	var kept []string
	for _, a := range args {
		if a != "--plan" {
			kept = append(kept, a)
		}
	}
	return strings.TrimSpace("parachute reconcile " + strings.Join(kept, " "))
}

// lock takes <home>/.reconcile.lock. It returns the unlock function, or nil
// and the exit code.
func lock(ctx context.Context, home string, wait time.Duration, stderr io.Writer) (func(), int) {
	if err := os.MkdirAll(home, 0o755); err != nil {
		pf(stderr, "parachute reconcile: create %s: %v\n", home, err)
		return nil, ExitFailed
	}
	path := filepath.Join(home, ".reconcile.lock")
	// O_NOFOLLOW: a planted .reconcile.lock symlink must not make a root run
	// create (or truncate) a file elsewhere.
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW), flock.SetPermissions(0o644))
	var ok bool
	var err error
	if wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = fl.TryLockContext(wctx, 50*time.Millisecond)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	} else {
		ok, err = fl.TryLock()
	}
	switch {
	case err != nil && lockNeedsPerson(err):
		pf(stderr, "parachute reconcile: lock %s: %v\nfix: %s is not a lock file this user can create: remove or fix it (it must be a plain file, or absent), then run again\n", esc(path), esc(err.Error()), esc(path))
		return nil, ExitBlocked
	case err != nil:
		pf(stderr, "parachute reconcile: lock %s: %v\n", esc(path), esc(err.Error()))
		return nil, ExitFailed
	case !ok:
		pf(stderr, "parachute reconcile: another run holds %s; exiting (use --wait-lock DURATION to wait)\n", path)
		return nil, ExitLocked
	}
	return func() { _ = fl.Unlock() }, 0
}

// lockNeedsPerson reports whether taking the lock failed for a reason no
// rerun can pass: the path is a directory or a link, a component is not a
// directory, or the user may not create or open it.
func lockNeedsPerson(err error) bool {
	for _, e := range []error{syscall.EISDIR, syscall.ELOOP, syscall.ENOTDIR, syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENXIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// apply is the level-based loop: observe, plan, apply, observe again to
// verify; with --until-converged repeat with backoff until converged or the
// deadline.
func apply(ctx context.Context, f *flags, d spec.Desired, sys *system, stdout, stderr io.Writer) int {
	start := time.Now()
	deadline := start.Add(f.timeout)
	jsonOut := f.output == "json"
	events := json.NewEncoder(stdout)
	tty := isTerminal(stdout)
	progressShown := false
	clearProgress := func() {
		if progressShown {
			fmt.Fprint(stdout, "\r\x1b[K")
			progressShown = false
		}
	}
	sys.actuator.Events = func(ev actuate.Event) {
		if jsonOut {
			_ = events.Encode(ev)
			return
		}
		switch ev.Event {
		case "step-progress":
			if tty {
				// One line, rewritten in place: "\r" and erase-line.
				pf(stdout, "\r\x1b[K  … %d. %s: %s", ev.N, string(ev.Action), ev.Progress)
				progressShown = true
			}
		case "step-done":
			clearProgress()
			pf(stdout, "  ✓ %d. %s %s (%s)\n", ev.N, string(ev.Action), ev.Target, ev.Elapsed)
		case "step-failed":
			clearProgress()
			pf(stdout, "  ✗ %d. %s %s: %s\n", ev.N, string(ev.Action), ev.Target, ev.Error)
		}
	}
	var applied []reconcile.Step
	// backoff waits before the next attempt: 1 s, doubling to 30 s, never
	// past the deadline.
	pause := time.Second
	backoff := func() error {
		err := (actuate.RealClock{}).Sleep(ctx, min(pause, time.Until(deadline)))
		pause = min(pause*2, 30*time.Second)
		return err
	}
	for attempt := 1; ; attempt++ {
		snap, err := f.observe(ctx, sys, d, stderr)
		if err != nil {
			pf(stderr, "parachute reconcile: %v\n", err)
			return ExitBlocked
		}
		p := reconcile.Compute(d, snap)
		if (p.Outcome == reconcile.OutcomeBlocked || p.Outcome == reconcile.OutcomeFailed) && f.until && time.Now().Before(deadline) && ctx.Err() == nil {
			// At boot a blocker may pass (the user manager comes up, a
			// squatter exits): look again until the deadline.
			if f.verbose {
				why := "failed"
				if len(p.Blockers) > 0 {
					why = "blocked: " + p.Blockers[0].Reason
				} else if p.Failure != nil {
					why = "failed: " + p.Failure.Reason
				}
				pf(stderr, "parachute reconcile: %s; looking again in %s\n", why, pause.String())
			}
			if backoff() == nil {
				continue
			}
		}
		if p.Outcome == reconcile.OutcomeConverged || p.Outcome == reconcile.OutcomeBlocked || p.Outcome == reconcile.OutcomeFailed {
			return finish(stdout, stderr, jsonOut, p, snap, applied, nil, start)
		}
		if !jsonOut {
			if attempt > 1 {
				pf(stdout, "\nattempt %d:\n", attempt)
			}
			renderPlan(stdout, p, snap, "")
			fmt.Fprintln(stdout)
		}
		// With --until-converged the deadline bounds each attempt too: a
		// step cut short leaves the box as resumable as a killed run.
		actx, cancel := ctx, context.CancelFunc(func() {})
		if f.until {
			actx, cancel = context.WithDeadline(ctx, deadline)
		}
		done, applyErr := sys.actuator.Apply(actx, p)
		cancel()
		applied = append(applied, done...)
		snap2, err := f.observe(ctx, sys, d, stderr)
		if err != nil {
			pf(stderr, "parachute reconcile: verify: %v\n", err)
			return ExitFailed
		}
		p2 := reconcile.Compute(d, snap2)
		if p2.Converged || !f.until || !time.Now().Before(deadline) || ctx.Err() != nil {
			return finish(stdout, stderr, jsonOut, p2, snap2, applied, applyErr, start)
		}
		if f.verbose {
			pf(stderr, "parachute reconcile: not converged after attempt %d (%v); again in %s\n", attempt, applyErr, pause)
		}
		if err := backoff(); err != nil {
			return finish(stdout, stderr, jsonOut, p2, snap2, applied, err, start)
		}
	}
}

// finish prints the result of an applying run and returns its exit code.
func finish(stdout, stderr io.Writer, jsonOut bool, p reconcile.Plan, snap observe.Snapshot, applied []reconcile.Step, applyErr error, start time.Time) int {
	code := ExitFailed
	switch {
	case p.Converged:
		code = ExitConverged
	case p.Outcome == reconcile.OutcomeBlocked:
		code = ExitBlocked
	}
	if jsonOut {
		doc := reconcile.NewDocument(p, snap)
		doc.Applied = applied
		if applyErr != nil {
			doc.Error = applyErr.Error()
		}
		if c := writeJSON(stdout, stderr, doc); c != 0 {
			return c
		}
		return code
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case p.Converged && len(applied) == 0:
		renderPlan(stdout, p, snap, "")
	case p.Converged:
		pf(stdout, "parachute: converged to %s in %s (%d %s applied).\n", string(p.Desired), took.String(), len(applied), plural(len(applied), "step", "steps"))
		if applyErr != nil {
			pf(stderr, "parachute reconcile: warning: %s; the box verified converged all the same\n", applyErr)
		}
		for _, n := range p.Notes {
			pf(stdout, "  - %s\n", n)
		}
		renderModules(stdout, p.Modules)
	case p.Outcome == reconcile.OutcomeBlocked, p.Outcome == reconcile.OutcomeFailed && len(applied) == 0 && applyErr == nil:
		renderPlan(stdout, p, snap, "")
	default:
		if applyErr != nil {
			pf(stderr, "parachute reconcile: %s\n", applyErr)
		}
		if len(p.Steps) > 0 {
			pf(stderr, "parachute reconcile: not converged after %s; the box now needs:\n", took.String())
			renderSteps(stderr, p.Steps, "  ")
		} else {
			pf(stderr, "parachute reconcile: not converged after %s\n", took.String())
		}
		renderFailure(stderr, p.Failure)
		fmt.Fprintln(stderr, "nothing is lost: run parachute reconcile again (or use --until-converged) to resume")
	}
	return code
}

// isTerminal reports whether w is a terminal (a character device): only
// then is a progress line rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// goos is the platform this binary runs on; the planner gets it through the
// snapshot, never from runtime itself.
var goos = runtime.GOOS
