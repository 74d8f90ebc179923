package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/parachute/reconcile/internal/boxfs"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

var timerCmd = &command{
	UsageLine: "parachute timer <command> [flags]",
	Short:     "install or remove the timer that keeps the box converged",
	Long: `Timer manages parachute-reconcile.timer and its oneshot
parachute-reconcile.service: 15 s after boot, then every minute, the service
runs "parachute reconcile --quiet" for the box. Root's box gets them in the
system manager, a user's box in the user's manager. They replace a cron
line and a separate boot unit.
`,
	Commands: []*command{timerInstallCmd, timerRemoveCmd},
}

var timerInstallCmd = &command{
	UsageLine: `parachute timer install [--home DIR] [--spec FILE] [--desired MODEL] [--textfile FILE]
                        [--delay SECONDS] [--scope auto|user|system]`,
	Short: "write, enable and start the reconciler's timer for the box",
	Long: `Install writes parachute-reconcile.service and parachute-reconcile.timer into
the unit directory of the scope (atomically, never through a link below the
directory, as the hub unit is written), reloads the manager, and enables
and starts the timer. The service runs this very binary, by its absolute
path, with --home (and --spec, --desired and --textfile when given), so
every run sees the same box. --delay spreads a fleet's runs over that many
seconds of each minute (RandomizedDelaySec=). A user's timer runs without
a login only with linger on (loginctl enable-linger USER; a supervised
reconcile turns it on).

It prints "unchanged" when the units were already so and the timer active.
Exit codes: 0 done, 1 the manager failed (retry), 3 blocked (no systemd, no
home), 64 usage.
`,
	Flags: timerFlags(true),
	Run:   runTimerInstall,
}

var timerRemoveCmd = &command{
	UsageLine: "parachute timer remove [--scope auto|user|system]",
	Short:     "stop, disable and remove the reconciler's timer",
	Long: `Remove stops and disables parachute-reconcile.timer, deletes it and
parachute-reconcile.service, and reloads the manager. It prints "not
installed" when there was nothing to remove.
`,
	Flags: timerFlags(false),
	Run:   runTimerRemove,
}

func timerFlags(install bool) func(fs *pflag.FlagSet, o *options) {
	return func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.scope, "scope", "", "systemd scope: auto, user or system (default auto: system for root)")
		if !install {
			return
		}
		fs.StringVar(&o.home, "home", "", "PARACHUTE_HOME (default $PARACHUTE_HOME, else ~/.parachute)")
		fs.StringVar(&o.spec, "spec", "", "the spec file every run reads")
		fs.StringVar(&o.desired, "desired", "", "runtime model every run converges to (default: the spec file's, else supervised)")
		fs.StringVar(&o.textfile, "textfile", "", "every run writes its metrics to this .prom file for node_exporter")
		fs.IntVar(&o.delay, "delay", 0, "spread the runs over this many seconds of each minute (RandomizedDelaySec)")
	}
}

// timerPlace is where the timer's units go: the scope and its unit
// directory, reached from root without following a link below it.
type timerPlace struct {
	scope string
	dir   string
	root  string
}

// placeTimer chooses the scope as the hub unit's is chosen.
func placeTimer(d spec.Desired) (timerPlace, error) {
	loc, err := unitfile.Locate("linux", d)
	if err != nil {
		return timerPlace{}, err
	}
	if loc.Manager != spec.ManagerSystemd {
		return timerPlace{}, fmt.Errorf("the timer is a systemd timer; this box's manager is %s", loc.Manager)
	}
	return timerPlace{scope: loc.Scope, dir: filepath.Dir(loc.Path), root: loc.Root}, nil
}

// trustedTimerProgram refuses a program the timer would run as uid when
// anyone but uid or root could replace it or a directory on its way.
func trustedTimerProgram(path string, uid int) error {
	if err := boxfs.CheckTrusted(path, uid); err != nil {
		return fmt.Errorf("the timer would run %s every minute, which cannot be trusted: %w; install the binary where only its owner or root can change it (e.g. /usr/local/bin, mode 0755)", path, err)
	}
	return nil
}

// timerArgv is the command the service runs: this binary by its absolute
// path, and the flags that name the box.
func timerArgv(inv *invocation, d spec.Desired) ([]string, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot tell this binary's path: %w", err)
	}
	// The timer runs this file every minute as the user installing it
	// (a system unit, as root, for root): someone else who could replace
	// it, or a directory on the way to it, would run code as that user
	// (trust model rule 1).
	if err := trustedTimerProgram(self, d.User.UID); err != nil {
		return nil, err
	}
	argv := []string{self, "reconcile", "--home", d.Home, "--quiet"}
	if inv.opts.spec != "" {
		abs, err := filepath.Abs(inv.opts.spec)
		if err != nil {
			return nil, err
		}
		argv = append(argv, "--spec", abs)
	}
	if inv.fs.Changed("desired") {
		argv = append(argv, "--desired", string(d.Model))
	}
	if d.Textfile != "" {
		argv = append(argv, "--textfile", d.Textfile)
	}
	return argv, nil
}

func runTimerInstall(ctx context.Context, inv *invocation) int {
	inv.signals.arm()
	d, err := loadDesired(inv.opts, inv.fs)
	if err != nil {
		return inv.loadFailed(err)
	}
	if d.HomeMissing {
		pf(inv.stderr, "%s: PARACHUTE_HOME %s does not exist (resolved from %s); every run would be blocked\nfix: pass --home DIR (or set PARACHUTE_HOME) to the box's directory\n", inv.cmd.title(), d.Home, d.HomeFrom)
		return ExitBlocked
	}
	if why := notOwnersBox(d); why != "" {
		// Every run of the timer would be blocked for the same reason.
		pf(inv.stderr, "%s: %s\n", inv.cmd.title(), why)
		return ExitBlocked
	}
	if d.Model == spec.Detached {
		// Every run that starts the hub would be blocked (the planner's
		// ownOneshot): the timer's service is Type=oneshot, and systemd
		// kills what a run leaves in its control group when the run ends.
		pf(inv.stderr, "%s: the timer cannot keep a box detached: systemd ends every process a run of %s leaves behind when the run exits, a detached hub included\nfix: keep a detached box with cron (examples/cron), or install the timer for the supervised model\n", inv.cmd.title(), unitfile.TimerServiceName)
		return ExitBlocked
	}
	place, err := placeTimer(d)
	if err != nil {
		return inv.failed(ExitBlocked, err)
	}
	argv, err := timerArgv(inv, d)
	if err != nil {
		return inv.failed(ExitBlocked, err)
	}
	svc, tim, err := unitfile.RenderTimer(unitfile.Timer{Argv: argv, Home: d.Home, SystemUnit: place.scope == string(spec.ScopeSystem), RandomizedDelay: inv.opts.delay})
	if err != nil {
		return inv.failed(ExitBlocked, err)
	}
	changed, code := installTimer(ctx, inv, place, d.User.UID, svc, tim)
	if code != ExitConverged {
		return code
	}
	if changed {
		pf(inv.stdout, "installed %s and %s in %s (%s scope); the timer is enabled and started\n", unitfile.TimerName, unitfile.TimerServiceName, place.dir, place.scope)
	} else {
		pf(inv.stdout, "unchanged: %s in %s (%s scope) is installed, enabled and active\n", unitfile.TimerName, place.dir, place.scope)
	}
	return ExitConverged
}

func runTimerRemove(ctx context.Context, inv *invocation) int {
	inv.signals.arm()
	u := currentUser()
	d := spec.Desired{User: u, Scope: spec.Scope(inv.opts.scope), Manager: spec.ManagerSystemd}
	if d.Scope == "" {
		d.Scope = spec.ScopeAuto
	}
	place, err := placeTimer(d)
	if err != nil {
		return inv.failed(ExitBlocked, err)
	}
	removed, code := removeTimer(ctx, inv, place, u.UID)
	if code != ExitConverged {
		return code
	}
	if removed {
		pf(inv.stdout, "removed %s and %s from %s (%s scope)\n", unitfile.TimerName, unitfile.TimerServiceName, place.dir, place.scope)
	} else {
		pf(inv.stdout, "not installed: no %s in %s (%s scope)\n", unitfile.TimerName, place.dir, place.scope)
	}
	return ExitConverged
}
