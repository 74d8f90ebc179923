package cli

import (
	"cmp"
	"context"
	"fmt"
	"strings"
)

// The command table. root is the group `parachute` itself; its Commands are
// set in init, because help reads the table it belongs to.
var root = &command{
	UsageLine: "parachute <command> [flags]",
	Long:      exitCodesText,
}

func init() {
	root.Commands = []*command{reconcileCmd, observeCmd, timerCmd, versionCmd, completionCmd, manCmd, helpCmd}
}

const exitCodesText = `Exit codes:
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

var reconcileCmd = &command{
	UsageLine: `parachute reconcile [--desired supervised|detached|absent] [--plan]
                    [--home DIR] [--spec FILE] [--port N]
                    [--scope auto|user|system] [--manager auto|systemd|launchd]
                    [--output text|json] [--quiet] [--textfile FILE]
                    [--until-converged] [--timeout DURATION]
                    [--wait-lock DURATION] [--verbose]`,
	Short: "converge the box to a runtime model (supervised, detached, absent)",
	Long: `Reconcile observes the box, computes the ordered steps that bring it to the
runtime model (--desired: supervised, the default; detached; or absent),
applies them one by one, then observes again and exits 0 only if the box
verifies converged. A box that is already right is left as it is, so a run
is safe from cron, at boot or by hand at any moment, including right after
a run that was killed half-way.

--plan runs the same code path, prints the steps with their reasons and
every blocker, and changes nothing (it takes no lock). --until-converged
observes and applies again, waiting 1s doubling to 30s between attempts,
until the box converges or --timeout passes. --output json prints one JSON
document (schema parachute.reconcile/v1); while applying, one JSON event
per line comes first. Flags win over the spec file, which wins over the
defaults.

` + exitCodesText,
	Flags: reconcileFlags,
	Run:   runReconcile,
}

var observeCmd = &command{
	UsageLine: `parachute observe [--home DIR] [--spec FILE] [--port N]
                  [--scope auto|user|system] [--manager auto|systemd|launchd]
                  [--output text|json] [--verbose]`,
	Short: "print what the reconciler sees on this box; changes nothing",
	Long: `Observe prints what the reconciler sees: the services.json rows it keeps and
skips, who holds each declared port, the pidfiles, the hub unit, /health
and who answered, and the modules that are not listening. It never writes,
signals or starts anything, and takes no lock. --output json prints the
snapshot as one JSON document (schema parachute.reconcile/v1).

It exits 0; 3 when the box could not be observed; 64 on a usage error; 65
when services.json is unreadable as a whole or the spec file is bad.
`,
	Flags: boxFlags,
	Run:   runObserve,
}

var helpCmd = &command{
	UsageLine: "parachute help [command]",
	Short:     "show this help, or help for a command",
	Long: `Help lists the commands, or prints one command's usage, description and
flags (as parachute <command> --help does).
`,
	Args: true,
	Run:  runHelp,
}

// runHelp prints the help of the command its arguments name (the root's
// without any) to stdout.
func runHelp(_ context.Context, inv *invocation) int {
	c := cmp.Or(inv.root, root)
	for _, name := range inv.fs.Args() {
		if c = c.lookup(name); c == nil {
			pf(inv.stderr, "%s: unknown command %q (see %s help)\n", inv.cmd.title(), strings.Join(inv.fs.Args(), " "), inv.cmd.prog())
			return ExitUsage
		}
	}
	fmt.Fprint(inv.stdout, c.help())
	return ExitConverged
}
