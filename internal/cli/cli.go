// Package cli is the parachute command line: a table of commands, each
// parsing its own flags and running against the box through one view per
// output format. Running a box command means: load the spec, take the lock,
// observe, plan, render or apply, and map the outcome to an exit code.
// It writes only to the writers it is given and never calls os.Exit.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/parachute/reconcile/actuate"
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

// env is what every command runs with: where its output goes, and time.
type env struct {
	stdout, stderr io.Writer
	clock          actuate.Clock
	// root is the command table as the invoked name prints it (see table).
	root *command
	// early is a platform already dialling (Start), taken by the first
	// prepare; nil otherwise.
	early *platform
	// signals cancel the run's context once armed: a command arms them
	// before it changes anything. nil (an env a test builds by hand) arms
	// nothing.
	signals *signals
}

// Main runs the parachute command with args (without the program name).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return MainAs(ctx, HubName, args, stdout, stderr)
}

// dispatch walks the command table from top along args to a runnable
// command and runs it with the arguments that follow its name. A group named
// without one of its commands is a usage error; -h or --help after a group
// prints its help.
func dispatch(ctx context.Context, top *command, args []string, e *env) int {
	c := top
	for c.Run == nil {
		if len(args) == 0 {
			fmt.Fprint(e.stderr, c.help())
			return ExitUsage
		}
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(e.stdout, c.help())
			return ExitConverged
		}
		if args[0] == "--version" && c == top {
			fmt.Fprintln(e.stdout, versionLine())
			return ExitConverged
		}
		sub := c.lookup(args[0])
		if sub == nil {
			pf(e.stderr, "%s: unknown command %q\n\n", c.title(), args[0])
			fmt.Fprint(e.stderr, c.help())
			return ExitUsage
		}
		c, args = sub, args[1:]
	}
	return c.run(ctx, args, e)
}

// goos is the platform this binary runs on; the planner gets it through the
// snapshot, never from runtime itself.
var goos = runtime.GOOS
