package actuate

// launchd's Units: the hub's LaunchAgent driven through launchctl. Pure
// logic over the Launchctl interface, so it builds and is tested on Linux
// against launchdtest's stateful fake; launchd_darwin.go runs the real
// /bin/launchctl.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/parachute/reconcile/internal/launchctl"
)

// Launchctl runs launchctl with args and returns its standard output,
// standard error and exit status; err only when it could not be run at all
// (not installed, ctx ended). Its method set is observe.Launchctl's, so one
// value (the real /bin/launchctl, or launchdtest's fake) serves the observer
// and the actuator alike.
type Launchctl interface {
	Run(ctx context.Context, args ...string) (stdout, stderr string, code int, err error)
}

// defaultSettle bounds the bootout→bootstrap window: launchd answers a
// bootstrap of a label it is still tearing down with error 5 (or 37) for
// about 3 to 5 seconds after the bootout (measured on macOS 26 by others:
// ten failures over five seconds, then success).
const defaultSettle = 15 * time.Second

// LaunchdUnits is Units over launchd: the hub's LaunchAgent in one domain
// (gui/<uid>), driven through launchctl.
//
// Every error it returns is final (wrapped with Permanent): the retries
// launchd needs (the bootout→bootstrap window) happen inside, paced by Clock,
// and anything else would only fail the same way again.
type LaunchdUnits struct {
	// Launchctl runs launchctl.
	Launchctl Launchctl
	// Domain is the launchd domain of the hub's agent: "gui/<uid>".
	Domain string
	// Label is the hub's label (computer.parachute.hub). Stop also
	// disables any other label (a stale per-module agent).
	Label string
	// User names the account in messages.
	User string
	// Clock paces retries and waits; nil is the wall clock.
	Clock Clock
	// Settle bounds how long Start retries bootstrap through the window
	// after a bootout, and how long a bootout may take to release its
	// label; zero means 15 s.
	Settle time.Duration
	// LogPath is the hub's log (hub/logs/hub.log), named in failures.
	LogPath string
}

var _ Units = (*LaunchdUnits)(nil)

// Reload implements Units: launchd has no daemon-reload. It reads a plist
// only when the job is bootstrapped, which is why Start boots a loaded job
// out first.
func (u *LaunchdUnits) Reload(context.Context) error { return nil }

// EnableLinger implements Units: launchd has no linger. A LaunchAgent loads
// when its user logs in at the GUI (RunAtLoad), never before.
func (u *LaunchdUnits) EnableLinger(context.Context, string) error { return nil }

// Start implements Units: make the job named name run the plist at path.
//
//  1. The domain must exist: gui/<uid> only does while the user is logged
//     in at the GUI (a NoGUIError otherwise, with what works instead).
//  2. enable: a label disabled by an earlier `launchctl disable` refuses
//     bootstrap with the same error 5 as the bootout window, which no
//     retry cures (the hub skips this step and then fails for good).
//  3. A job already loaded runs the definition launchd read at its
//     bootstrap, not the plist now on disk: it is booted out first.
//  4. bootstrap, retried with backoff through the bootout window (5, 37).
//  5. kickstart -k, as the hub does, so the job runs even when RunAtLoad
//     did not fire.
//  6. print decides: launchctl exits 0 after a bootstrap that loaded
//     nothing, and kickstart exits 0 before the program has even run.
//     A job that exited at once is a JobFailedError.
func (u *LaunchdUnits) Start(ctx context.Context, name, path string) error {
	if err := u.domainReady(ctx); err != nil {
		return Permanent(err)
	}
	target := u.target(name)
	if _, _, err := u.run(ctx, "enable", target); err != nil {
		return Permanent(err)
	}
	_, loaded, err := u.print(ctx, target)
	if err != nil {
		return Permanent(err)
	}
	if loaded {
		if err := u.bootout(ctx, target); err != nil {
			return Permanent(err)
		}
	}
	if err := u.bootstrap(ctx, name, path); err != nil {
		return Permanent(err)
	}
	if _, _, err := u.run(ctx, "kickstart", "-k", target); err != nil {
		return Permanent(err)
	}
	return Permanent(u.verifyRunning(ctx, name))
}

// Stop implements Units: bootout (launchd sends the job SIGTERM; the hub
// stops its modules) and wait until launchd has released the label. A
// stale module agent is also disabled: its plist stays in
// ~/Library/LaunchAgents (it is not ours to delete) and launchd would load
// it again at the next login. The hub's own label is not disabled, as the
// hub's stop does not: its plist is removed by the step that follows, and
// an override left behind would outlive it and refuse the next bootstrap
// of the label (error 5) by any tool that does not enable first.
func (u *LaunchdUnits) Stop(ctx context.Context, name string) error {
	target := u.target(name)
	if err := u.bootout(ctx, target); err != nil {
		return Permanent(err)
	}
	if name != "" && name != u.Label {
		if _, _, err := u.run(ctx, "disable", target); err != nil {
			return Permanent(err)
		}
	}
	return nil
}

// Unload implements Units: bootout, before the plist is deleted.
func (u *LaunchdUnits) Unload(ctx context.Context, name string) error {
	return Permanent(u.bootout(ctx, u.target(name)))
}

// Owner implements Units from `launchctl print`: the job's pid (its process
// tree is the unit), launchd's state word, and Failed when the job is not
// running after a non-zero exit (launchd keeps respawning a KeepAlive job
// every ThrottleInterval, so "failed" is a phase, not an end).
func (u *LaunchdUnits) Owner(ctx context.Context, name string) (Ownership, error) {
	job, loaded, err := u.print(ctx, u.target(name))
	if err != nil {
		return Ownership{}, err
	}
	if !loaded {
		return Ownership{State: "not loaded"}, nil
	}
	return Ownership{MainPID: job.PID, Failed: jobFailed(job), State: jobState(job)}, nil
}

// target is the service target of label; an empty label is the hub's (the
// plan's wait-healthy step names no unit).
func (u *LaunchdUnits) target(label string) string {
	if label == "" {
		label = u.Label
	}
	return u.Domain + "/" + label
}

func (u *LaunchdUnits) clock() Clock {
	if u.Clock == nil {
		return RealClock{}
	}
	return u.Clock
}

func (u *LaunchdUnits) settle() time.Duration {
	if u.Settle <= 0 {
		return defaultSettle
	}
	return u.Settle
}

// run runs launchctl; a non-zero exit is a *LaunchctlError.
func (u *LaunchdUnits) run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	if u.Launchctl == nil {
		return "", "", errors.New("launchctl: not configured")
	}
	stdout, stderr, code, err := u.Launchctl.Run(ctx, args...)
	if err != nil {
		return stdout, stderr, fmt.Errorf("run launchctl %s: %w", strings.Join(args, " "), err)
	}
	if code != 0 {
		return stdout, stderr, u.newError(args, code, stderr)
	}
	return stdout, stderr, nil
}

func (u *LaunchdUnits) newError(args []string, code int, stderr string) *LaunchctlError {
	return &LaunchctlError{Args: append([]string(nil), args...), Code: code, Stderr: strings.TrimSpace(stderr), Domain: u.Domain, User: u.User}
}

// print asks launchd about one job: loaded is false (and err nil) when the
// domain has no such job.
func (u *LaunchdUnits) print(ctx context.Context, target string) (job launchctl.Job, loaded bool, err error) {
	out, _, err := u.run(ctx, "print", target)
	var le *LaunchctlError
	switch {
	case err == nil:
		return launchctl.ParsePrint(out), true, nil
	case errors.As(err, &le) && le.noDomain():
		return job, false, u.noGUI(le)
	case errors.As(err, &le) && le.notLoaded():
		return job, false, nil
	}
	return job, false, err
}

// domainReady checks that the domain exists: `launchctl print gui/<uid>`
// fails (112, 113 or 125 by macOS version) when the user has no GUI session.
func (u *LaunchdUnits) domainReady(ctx context.Context) error {
	_, _, err := u.run(ctx, "print", u.Domain)
	var le *LaunchctlError
	if errors.As(err, &le) && (le.noDomain() || le.Code == 113) {
		return u.noGUI(le)
	}
	return err
}

func (u *LaunchdUnits) noGUI(cause *LaunchctlError) error {
	return &NoGUIError{Domain: u.Domain, User: u.User, Cause: cause}
}

// bootout boots target out and waits until launchd has released its label.
// A job that is not loaded is already out.
func (u *LaunchdUnits) bootout(ctx context.Context, target string) error {
	err := u.retry(ctx, func() error {
		_, _, err := u.run(ctx, "bootout", target)
		var le *LaunchctlError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &le) && le.notLoaded():
			return nil
		case errors.As(err, &le) && le.noDomain():
			return backoff.Permanent(u.noGUI(le))
		case errors.As(err, &le) && le.Transient():
			return err
		}
		return backoff.Permanent(err)
	})
	if err != nil {
		return err
	}
	// bootout returns before launchd has reaped the job and released the
	// label; a bootstrap meanwhile would fail, and a print would still show
	// the old job.
	return u.poll(ctx, func() (bool, error) {
		_, loaded, err := u.print(ctx, target)
		return !loaded, err
	}, func() error {
		job, _, _ := u.print(ctx, target)
		return fmt.Errorf("launchd still has %s loaded %s after bootout (%s)", target, u.settle(), jobState(job))
	})
}

// bootstrap loads the plist at path, retrying with backoff while launchd
// answers 5 or 37 (still tearing down the job of an earlier bootout), or
// exits 0 without having loaded the job.
func (u *LaunchdUnits) bootstrap(ctx context.Context, label, path string) error {
	target := u.target(label)
	var lastErr error // the last retryable failure, for the final message
	err := u.retry(ctx, func() error {
		_, stderr, err := u.run(ctx, "bootstrap", u.Domain, path)
		var le *LaunchctlError
		if err != nil && !(errors.As(err, &le) && le.Transient()) {
			if le != nil && le.noDomain() {
				return backoff.Permanent(u.noGUI(le))
			}
			return backoff.Permanent(err)
		}
		// Success or 5/37: print decides. launchctl can exit 0 without
		// loading anything (stderr may say why), and 5 is also what it
		// answers for a label someone else loaded meanwhile.
		job, loaded, perr := u.print(ctx, target)
		switch {
		case perr != nil:
			return backoff.Permanent(perr)
		case loaded && (job.Path == "" || job.Path == path):
			return nil
		case loaded:
			return backoff.Permanent(fmt.Errorf("%s is loaded from %s, not %s; boot it out (launchctl bootout %s) and run again", target, job.Path, path, target))
		case err != nil:
			lastErr = err
			return err
		}
		lastErr = fmt.Errorf("launchctl bootstrap %s %s exited 0 but launchd has not loaded %s%s", u.Domain, path, label, stderrNote(stderr))
		return lastErr
	})
	if err != nil && err == lastErr {
		return fmt.Errorf("%w; it kept failing for %s, longer than launchd takes to release a booted-out label", err, u.settle())
	}
	return err
}

// verifyRunning waits (briefly) for the job to have a pid. A job that exits
// at once is a JobFailedError: its program cannot run (KeepAlive makes
// launchd respawn it every ThrottleInterval, failing the same way).
func (u *LaunchdUnits) verifyRunning(ctx context.Context, label string) error {
	target := u.target(label)
	var last launchctl.Job
	var failed *JobFailedError
	err := u.poll(ctx, func() (bool, error) {
		job, loaded, err := u.print(ctx, target)
		switch {
		case err != nil:
			return false, err
		case !loaded:
			return false, fmt.Errorf("launchctl bootstrap and kickstart exited 0, but launchd no longer has %s loaded", target)
		case job.PID > 0:
			return true, nil
		case jobFailed(job):
			failed = &JobFailedError{Target: target, ExitCode: job.LastExitCode, State: job.State, Program: job.Program, LogPath: u.LogPath}
			return false, failed
		}
		last = job
		return false, nil
	}, func() error {
		return fmt.Errorf("%s is loaded but has not started (%s); see %s", target, jobState(last), cmp.Or(u.LogPath, "the hub's log"))
	})
	return err
}

// poll calls check with a growing pause until it reports done, returns an
// error, or Settle has passed (then timeout's error).
func (u *LaunchdUnits) poll(ctx context.Context, check func() (bool, error), timeout func() error) error {
	c := u.clock()
	deadline := c.Now().Add(u.settle())
	pause := 50 * time.Millisecond
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if !c.Now().Before(deadline) {
			return timeout()
		}
		if err := c.Sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(pause*2, time.Second)
	}
}

// retry runs op with exponential backoff, paced by Clock, for at most
// Settle. No jitter: one reconciler retries one label; there is no herd.
func (u *LaunchdUnits) retry(ctx context.Context, op func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.RandomizationFactor = 0
	b.MaxElapsedTime = u.settle()
	b.Clock = u.clock()
	return backoff.RetryNotifyWithTimer(op, backoff.WithContext(b, ctx), nil, &clockTimer{ctx: ctx, clock: u.clock()})
}

// clockTimer is backoff.Timer over a Clock: Start sleeps on the clock (which
// in tests moves fake time at once) and then fires.
type clockTimer struct {
	ctx   context.Context
	clock Clock
	c     chan time.Time
}

var _ backoff.Timer = (*clockTimer)(nil)

// Start implements backoff.Timer.
func (t *clockTimer) Start(d time.Duration) {
	t.c = make(chan time.Time, 1)
	if err := t.clock.Sleep(t.ctx, d); err == nil {
		t.c <- t.clock.Now()
	} // else ctx ended: the retry loop sees ctx.Done
}

// Stop implements backoff.Timer (a sleep that returned has nothing to stop).
func (t *clockTimer) Stop() {}

// C implements backoff.Timer.
func (t *clockTimer) C() <-chan time.Time { return t.c }

// jobFailed: not running, and its last exit was non-zero.
func jobFailed(j launchctl.Job) bool {
	return j.PID == 0 && j.LastExitKnown && j.LastExitCode != 0
}

// jobState describes a job for people: "running (pid 812)",
// "spawn scheduled, last exit code 78".
func jobState(j launchctl.Job) string {
	s := cmp.Or(j.State, "state unknown")
	if j.PID > 0 {
		s += fmt.Sprintf(" (pid %d)", j.PID)
	}
	if j.LastExitKnown && j.LastExitCode != 0 {
		s += fmt.Sprintf(", last exit code %d", j.LastExitCode)
	}
	return s
}

func stderrNote(stderr string) string {
	stderr = strings.Join(strings.Fields(stderr), " ")
	if stderr == "" {
		return ""
	}
	return " (it said: " + stderr + ")"
}

// LaunchctlError is a launchctl command that exited non-zero. launchctl's
// exit status is launchd's error number; Error turns it into a sentence
// with what to do about it.
type LaunchctlError struct {
	// Args are launchctl's arguments ("bootstrap", "gui/501", path).
	Args []string
	// Code is the exit status.
	Code int
	// Stderr is what launchctl printed, trimmed.
	Stderr string
	// Domain and User fill in the advice.
	Domain, User string
}

// Error says the command, launchd's number and text, and what to do.
func (e *LaunchctlError) Error() string {
	s := fmt.Sprintf("launchctl %s: error %d", strings.Join(e.Args, " "), e.Code)
	if m := LaunchdErrorText(e.Code); m != "" {
		s += " (" + m + ")"
	} else if e.Stderr != "" {
		s += " (" + strings.Join(strings.Fields(e.Stderr), " ") + ")"
	}
	if a := e.advice(); a != "" {
		s += ": " + a
	}
	return s
}

// Transient reports whether launchd may answer differently in a moment: 5
// (Input/output error) and 37 (Operation already in progress) are what it
// answers while it is still tearing down a booted-out job. 5 is also its
// answer to a plist it will never load, which is why retries are bounded.
func (e *LaunchctlError) Transient() bool { return e.Code == 5 || e.Code == 37 }

// notLoaded: the job is not in the domain (113 from print and kickstart,
// 3 from bootout).
func (e *LaunchctlError) notLoaded() bool {
	return e.Code == 113 || e.Code == 3 || strings.Contains(e.Stderr, "Could not find service")
}

// noDomain: the domain itself does not exist (112, 125; print says "Could
// not find domain").
func (e *LaunchctlError) noDomain() bool {
	return e.Code == 112 || e.Code == 125 || strings.Contains(e.Stderr, "Could not find domain")
}

func (e *LaunchctlError) verb() string {
	if len(e.Args) == 0 {
		return ""
	}
	return e.Args[0]
}

func (e *LaunchctlError) advice() string {
	user := cmp.Or(e.User, "the user")
	switch e.Code {
	case 1:
		return fmt.Sprintf("launchd refused: run parachute as %s itself, without sudo (a LaunchAgent belongs to its user's own domain %s)", user, e.Domain)
	case 2:
		return "the plist is not there; run parachute reconcile again to write it"
	case 3:
		return "the job is not loaded"
	case 5:
		if e.verb() == "bootstrap" {
			return fmt.Sprintf("right after a bootout launchd answers this for a few seconds; if it persists, launchd refuses the plist: check it with plutil -lint, that it is owned by %s and not group- or world-writable, and that the label is not disabled (launchctl print-disabled %s)", user, e.Domain)
		}
		return "launchd is busy with this job; run parachute reconcile again in a few seconds"
	case 37:
		return "launchd is still finishing an earlier bootout or bootstrap of this label; run parachute reconcile again in a few seconds"
	case 112, 125:
		return fmt.Sprintf("%s exists only while %s is logged in at the Mac's desktop (not over SSH)", e.Domain, user)
	case 113:
		return fmt.Sprintf("the job is not loaded in %s", e.Domain)
	case 119:
		return "the label is disabled (launchctl print-disabled " + e.Domain + "); launchctl enable <domain>/<label> lifts it, which parachute's start does first"
	case 122:
		return fmt.Sprintf("the plist must be owned by %s and not writable by group or others (chmod 644)", user)
	case 134:
		return fmt.Sprintf("the agent is an Aqua (GUI session) agent; %s cannot load it", e.Domain)
	}
	return ""
}

// launchdErrors are launchd's error numbers as `launchctl error <n>` prints
// them: the POSIX ones launchctl uses, then launchd's own from 107.
var launchdErrors = map[int]string{
	1: "Operation not permitted", 2: "No such file or directory", 3: "No such process", 5: "Input/output error",
	13: "Permission denied", 17: "File exists", 22: "Invalid argument", 37: "Operation already in progress",
	107: "Malformed bundle", 108: "Invalid path", 109: "Invalid property list",
	110: "Invalid or missing service identifier", 111: "Invalid or missing Program/ProgramArguments",
	112: "Could not find specified domain", 113: "Could not find specified service",
	114: "The specified username does not exist", 115: "The specified group does not exist",
	119: "Service is disabled", 122: "Path had bad ownership/permissions", 124: "Domain is tearing down",
	125: "Domain does not support specified action", 133: "Multiple errors were returned; see stderr",
	134: "Service cannot load in requested session", 137: "Service does not support the specified action",
	139: "Service cannot presently execute", 150: "Operation not permitted while System Integrity Protection is engaged",
}

// LaunchdErrorText is launchd's own text for error number code ("" when
// unknown).
func LaunchdErrorText(code int) string { return launchdErrors[code] }

// NoGUIError says the hub's domain (gui/<uid>) does not exist: the user has
// no GUI login session. It is a person's problem, said as a blocker says it.
type NoGUIError struct {
	Domain string
	User   string
	// Cause is launchctl's own answer.
	Cause *LaunchctlError
}

// Error says what is missing, what it means and what works instead.
func (e *NoGUIError) Error() string {
	user := cmp.Or(e.User, "the user")
	uid := strings.TrimPrefix(e.Domain, "gui/")
	s := fmt.Sprintf("launchd domain %s does not exist: %s has no GUI login session (logged in over SSH only, or the Mac is at the login window). "+
		"The hub's agent stays in ~/Library/LaunchAgents and launchd starts it at %s's next desktop login (RunAtLoad). "+
		"To start it now, log in at the Mac's desktop (in person or through Screen Sharing) and run parachute reconcile again, "+
		"or run the hub without launchd meanwhile: parachute reconcile --desired detached. "+
		"parachute does not fall back to user/%s, the domain an SSH session has: launchd refuses the hub's agent there "+
		"(error 134, Service cannot load in requested session), and an agent loaded there would run beside the one the next desktop login starts",
		e.Domain, user, user, uid)
	if e.Cause != nil {
		s += fmt.Sprintf(" [launchctl %s: error %d]", strings.Join(e.Cause.Args, " "), e.Cause.Code)
	}
	return s
}

// Unwrap returns launchctl's error.
func (e *NoGUIError) Unwrap() error {
	if e.Cause == nil {
		return nil
	}
	return e.Cause
}

// JobFailedError is a job launchd started that exited at once.
type JobFailedError struct {
	// Target is the service target (gui/501/computer.parachute.hub).
	Target string
	// ExitCode is launchd's "last exit code".
	ExitCode int
	// State is launchd's state word ("spawn scheduled", "not running").
	State string
	// Program is what launchd runs (ProgramArguments[0]).
	Program string
	// LogPath is where its output went.
	LogPath string
}

// Error says how the job failed and where to look.
func (e *JobFailedError) Error() string {
	s := fmt.Sprintf("%s exited at once with code %d", e.Target, e.ExitCode)
	switch e.ExitCode {
	case 78:
		s += " (EX_CONFIG: launchd could not run the program"
		if e.Program != "" {
			s += "; does " + e.Program + " exist and is it executable?"
		}
		s += ")"
	case 126, 127:
		s += " (the program or its interpreter cannot be executed)"
	}
	s += fmt.Sprintf("; launchd retries it every ThrottleInterval (10 s) and it is now %q; the plist stays in place — see %s and run parachute reconcile again once it is fixed",
		cmp.Or(e.State, "not running"), cmp.Or(e.LogPath, "the hub's log"))
	return s
}
