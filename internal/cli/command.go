package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// A command is one entry of the command table, in the manner of cmd/go's
// base.Command: its usage line, what it does in a phrase and in full, its
// own flags, and either a Run or a group of Commands below it.
type command struct {
	// UsageLine is "parachute <name> [flags]"; lines after the first
	// continue it and are indented to the column after the name.
	UsageLine string
	// Short is the phrase `parachute help` lists.
	Short string
	// Long is the description `parachute help <name>` prints.
	Long string
	// Flags defines the command's flags on fs, bound to o; nil means none.
	Flags func(fs *pflag.FlagSet, o *options)
	// Args says Run takes positional arguments; without it any is a usage
	// error.
	Args bool
	// Run runs the command and returns its exit code; nil for a group.
	Run func(ctx context.Context, inv *invocation) int
	// Commands are the commands of a group, in the order help lists them.
	Commands []*command
	// shownAs is the program name Long is shown under when it is not
	// HubName (see renamed); long() applies it.
	shownAs string
}

// long is the description as shown: Long with the program's own name
// where the text names the hub's.
func (c *command) long() string {
	if c.shownAs == "" {
		return c.Long
	}
	return hubWords().ReplaceAllString(c.Long, c.shownAs+"$1")
}

// An invocation is one command being run: its parsed flags, the arguments
// as given (the --plan hint repeats them), and the env.
type invocation struct {
	*env
	cmd  *command
	fs   *pflag.FlagSet
	opts *options
	args []string
}

// longName is the command's words after "parachute": "reconcile",
// "timer install"; empty for the root.
func (c *command) longName() string {
	var words []string
	for _, w := range strings.Fields(strings.SplitN(c.UsageLine, "\n", 2)[0])[1:] {
		if strings.ContainsAny(w[:1], "[<-") {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// name is the last word of longName: what a user types to pick c from its
// group.
func (c *command) name() string {
	n := c.longName()
	return n[strings.LastIndexByte(n, ' ')+1:]
}

// title prefixes the command's messages: "parachute reconcile".
func (c *command) title() string {
	return strings.TrimSpace(c.prog() + " " + c.longName())
}

// prog is the program name c's usage line starts with: "parachute", or the
// name a renamed table was made for.
func (c *command) prog() string {
	return strings.Fields(c.UsageLine)[0]
}

func (c *command) lookup(name string) *command {
	for _, sub := range c.Commands {
		if sub.name() == name {
			return sub
		}
	}
	return nil
}

// flagSet is a fresh set of c's flags bound to o: each run parses its own,
// so nothing carries over from one Main to the next. Parsing never prints:
// -h comes back as pflag.ErrHelp, and a bad flag as an error run reports.
func (c *command) flagSet(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.longName(), pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if c.Flags != nil {
		c.Flags(fs, o)
	}
	return fs
}

// run parses args into c's flags and runs c.
func (c *command) run(ctx context.Context, args []string, e *env) int {
	o := &options{}
	fs := c.flagSet(o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(e.stdout, c.help())
			return ExitConverged
		}
		pf(e.stderr, "%s: %v (see %s help %s)\n", c.title(), err, c.prog(), c.longName())
		return ExitUsage
	}
	if !c.Args && fs.NArg() > 0 {
		pf(e.stderr, "%s: unexpected argument %q (see %s help %s)\n", c.title(), fs.Arg(0), c.prog(), c.longName())
		return ExitUsage
	}
	if err := o.check(fs); err != nil {
		pf(e.stderr, "%s: %v\n", c.title(), err)
		return ExitUsage
	}
	return c.Run(ctx, &invocation{env: e, cmd: c, fs: fs, opts: o, args: args})
}

// help is what `parachute help <command>` prints: for a command, its usage,
// description and flags; for a group, its usage, its commands with their
// usage lines, and its description.
func (c *command) help() string {
	var b strings.Builder
	b.WriteString("usage: " + strings.ReplaceAll(c.UsageLine, "\n", "\n"+strings.Repeat(" ", len("usage: "))) + "\n")
	if c.Run == nil {
		c.writeCommands(&b)
	}
	if long := c.long(); long != "" {
		b.WriteString("\n" + long)
	}
	if fs := c.flagSet(&options{}); fs.HasFlags() {
		b.WriteString("\nFlags:\n" + fs.FlagUsages())
	}
	return b.String()
}

// writeCommands lists a group's commands with their short descriptions,
// then their usage lines with the flags aligned.
func (c *command) writeCommands(b *strings.Builder) {
	width := 0
	for _, sub := range c.Commands {
		width = max(width, len(sub.longName()))
	}
	b.WriteString("\nCommands:\n")
	for _, sub := range c.Commands {
		fmt.Fprintf(b, "  %-*s   %s\n", len(sub.name())+width-len(sub.longName()), sub.name(), sub.Short)
	}
	b.WriteString("\n")
	for _, sub := range c.Commands {
		pad := strings.Repeat(" ", width-len(sub.longName()))
		head := sub.prog() + " " + sub.longName()
		line := strings.TrimPrefix(sub.UsageLine, head)
		b.WriteString(head + pad + strings.ReplaceAll(line, "\n", "\n"+pad) + "\n")
	}
}
