package cli

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/parachute/reconcile/actuate"
)

// The reconciler answers to two names. Installed as "parachute" (beside
// nothing else, as before releases were packaged) its grammar is
// "parachute <command> [flags]". Installed as "parachute-reconcile" — the
// packaged name, which leaves "parachute" to the hub's own CLI — its
// grammar is "parachute-reconcile [command] [flags]": the commands are the
// same, and without one it runs reconcile, so "parachute-reconcile --plan"
// is "parachute-reconcile reconcile --plan" and a bare
// "parachute-reconcile" converges the box to the default model.
const (
	// HubName is the name under which the grammar is "parachute <command>".
	HubName = "parachute"
	// Name is the packaged name, whose grammar also takes reconcile's flags
	// without a command.
	Name = "parachute-reconcile"
)

// ProgName is the name a user invoked the binary under, from argv[0]: its
// base name, without a Windows ".exe".
func ProgName(argv0 string) string {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe")
}

// MainAs runs the reconciler invoked under the program name prog (see
// ProgName) with args (without the program name). Under HubName it is Main.
// Under any other name help and usage print that name, and args that are
// empty or start with a flag (other than -h, --help and --version) run
// reconcile.
func MainAs(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) int {
	return Start(prog, args).Run(ctx, stdout, stderr)
}

// Started is the reconciler invoked under a program name with its
// arguments, between Start and Run.
type Started struct {
	prog string
	args []string // with the command the name's grammar implies
	// early is the platform Start set dialling, for the run's prepare;
	// nil for a command that does not look at the box.
	early *platform
}

// Start begins an invocation. For the commands that look at the box
// (reconcile, observe) it starts connecting to the service manager at
// once (platform.predial): the manager's answer to a new connection is
// the longest wait of a converged run, and everything a process does
// before its command runs (signal handlers, flags) can happen meanwhile.
func Start(prog string, args []string) *Started {
	if renamedProg(prog) && defaultsToReconcile(args) {
		args = append([]string{"reconcile"}, args...) // the packaged name's default (table)
	}
	inv := &Started{prog: prog, args: args}
	if len(args) > 0 && (args[0] == "reconcile" || args[0] == "observe") {
		inv.early = newPlatform()
		inv.early.predial()
	}
	return inv
}

// Run runs the invocation (see MainAs) and returns its exit code. A command
// that changes the box has SIGINT and SIGTERM cancel ctx from the moment it
// is about to (signals).
func (inv *Started) Run(ctx context.Context, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := &signals{cancel: cancel}
	defer sig.stop()
	if inv.early != nil {
		defer inv.early.close() // closing twice is harmless: prepare's run closes it first
	}
	top := table(inv.prog)
	return dispatch(ctx, top, inv.args, &env{stdout: stdout, stderr: stderr, clock: actuate.RealClock{}, root: top, early: inv.early, signals: sig})
}

// defaultsToReconcile says args name no command, under a name whose grammar
// makes reconcile the default.
func defaultsToReconcile(args []string) bool {
	if len(args) == 0 {
		return true
	}
	switch args[0] {
	case "-h", "--help", "--version":
		return false
	}
	return strings.HasPrefix(args[0], "-")
}

// renamedProg reports whether prog is a name other than HubName, under
// which reconcile is the default command (table).
func renamedProg(prog string) bool { return prog != HubName && prog != "" }

// table is the command table as the program prog prints it: the table
// itself under HubName; under another name a copy whose usage lines and
// descriptions say prog where they said "parachute", and whose root says
// that reconcile is the default command.
func table(prog string) *command {
	if !renamedProg(prog) {
		return root
	}
	top := renamed(root, prog)
	top.UsageLine = prog + " [command] [flags]"
	top.Long = "Without a command, " + prog + " runs reconcile:\n  " + prog + " [flags]\nis\n  " +
		prog + " reconcile [flags]\n\n" + root.Long
	return top
}

// hubWords are "parachute" followed by a command or a placeholder in the
// table's texts: the places a renamed table says its own name.
// Compiled and applied only when a text is shown (command.long): every run
// under the packaged name builds the renamed table, and compiling this and
// rewriting every text cost about 0.7 ms of each cron tick.
var hubWords = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\bparachute( (?:reconcile|observe|timer|version|help|completion|man|<command>)\b| --version\b|$)`)
})

// renamed copies c and its commands for the program prog. A usage line's
// continuation lines stay aligned under the first line's flags.
func renamed(c *command, prog string) *command {
	n := *c
	lines := strings.Split(c.UsageLine, "\n")
	lines[0] = prog + strings.TrimPrefix(lines[0], HubName)
	shift := len(prog) - len(HubName)
	for i := 1; i < len(lines); i++ {
		if shift >= 0 {
			lines[i] = strings.Repeat(" ", shift) + lines[i]
		} else {
			lines[i] = lines[i][min(-shift, len(lines[i])-len(strings.TrimLeft(lines[i], " "))):]
		}
	}
	n.UsageLine = strings.Join(lines, "\n")
	n.shownAs = prog
	n.Commands = nil
	for _, sub := range c.Commands {
		n.Commands = append(n.Commands, renamed(sub, prog))
	}
	return &n
}
