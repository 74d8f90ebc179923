package cli

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/parachute/reconcile/spec"
)

// options are the values of every command's flags; a command defines only
// the flags it takes.
type options struct {
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
	quiet   bool
	// textfile is --textfile: where an applying run writes its metrics.
	textfile string
	// delay is timer install's --delay (RandomizedDelaySec=).
	delay int
}

// boxFlags are the flags of every command that looks at a box.
func boxFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.home, "home", "", "PARACHUTE_HOME (default $PARACHUTE_HOME, else ~/.parachute)")
	fs.StringVar(&o.spec, "spec", "", "YAML spec file; flags win over it")
	fs.IntVar(&o.port, "port", 0, "hub port (default 1939)")
	fs.StringVar(&o.scope, "scope", "", "systemd scope: auto, user or system (default auto: system for root)")
	fs.StringVar(&o.manager, "manager", "", "service manager: auto, systemd or launchd (default auto)")
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "say more on stderr")
}

// reconcileFlags are boxFlags and the flags that steer a reconcile.
func reconcileFlags(fs *pflag.FlagSet, o *options) {
	boxFlags(fs, o)
	fs.StringVar(&o.desired, "desired", "", "runtime model: supervised, detached or absent (default supervised)")
	fs.BoolVar(&o.plan, "plan", false, "print the plan and change nothing")
	fs.BoolVar(&o.until, "until-converged", false, "observe and apply again, with backoff, until converged or --timeout")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "with --until-converged: give up after this long")
	fs.DurationVar(&o.wait, "wait-lock", 0, "wait this long for another run's lock instead of exiting 75")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing when the box is converged and nothing changed (for the timer and cron)")
	fs.StringVar(&o.textfile, "textfile", "", "after an applying run, write its metrics to this .prom file for node_exporter's textfile collector")
}

// check reports flag values that parse but make no sense, or no sense
// together.
func (o *options) check(fs *pflag.FlagSet) error {
	if fs.Lookup("output") != nil && o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output must be text or json, not %q", o.output)
	}
	if fs.Changed("timeout") && !o.until {
		return errors.New("--timeout goes with --until-converged")
	}
	if fs.Changed("delay") && (o.delay < 0 || o.delay > 59) {
		return fmt.Errorf("--delay must be 0 to 59 seconds, not %d", o.delay)
	}
	if fs.Changed("textfile") && (!filepath.IsAbs(o.textfile) || !strings.HasSuffix(o.textfile, ".prom")) {
		return fmt.Errorf("--textfile must be an absolute path ending in .prom (node_exporter reads only those), not %q", o.textfile)
	}
	return nil
}

// failed prints err as the command's error and returns code.
func (inv *invocation) failed(code int, err error) int {
	pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
	return code
}

// loadFailed reports why the desired state could not be loaded and returns
// the exit code: 64 for a flag value spec refuses, 65 for bad input.
func (inv *invocation) loadFailed(err error) int {
	if _, ok := errors.AsType[*spec.UsageError](err); ok {
		return inv.failed(ExitUsage, err)
	}
	pf(inv.stderr, "%s: %v\nnothing was changed\n", inv.cmd.title(), err)
	return ExitInput
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
