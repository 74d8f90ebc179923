package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

var manCmd = &command{
	UsageLine: "parachute man",
	Short:     "print the manual page, parachute-reconcile(8), as roff",
	Long: `Man prints the manual page parachute-reconcile(8) in roff, made from the same
command table as this help: every command with its usage, description and
flags. The packages install it; to read it from a binary alone:
parachute-reconcile man | man -l -
`,
	Run: func(_ context.Context, inv *invocation) int {
		if err := WriteManPage(inv.stdout); err != nil {
			pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
			return ExitFailed
		}
		return ExitConverged
	},
}

// WriteManPage writes parachute-reconcile(8) in roff (man macros) to w,
// from the command table as it reads under the packaged name.
func WriteManPage(w io.Writer) error {
	top := table(Name)
	var b strings.Builder
	b.WriteString(`.TH PARACHUTE-RECONCILE 8 "" "parachute-reconcile" "System Administration"
.SH NAME
parachute-reconcile \- converge a Parachute box to a runtime model and keep it there
.SH SYNOPSIS
.B parachute-reconcile
[\fB\-\-desired\fR \fIsupervised\fR|\fIdetached\fR|\fIabsent\fR] [\fB\-\-plan\fR] [\fIflags\fR]
.br
.B parachute-reconcile
\fIcommand\fR [\fIflags\fR]
.br
.B parachute
\fIcommand\fR [\fIflags\fR]
.SH DESCRIPTION
`)
	b.WriteString(roffText(`parachute-reconcile moves a Parachute box (a hub on port 1939 and the modules
declared in services.json) between detached background processes tracked by
pidfiles and one hub unit supervised by systemd or launchd, or removes it,
and keeps it where it was asked to. Every run observes the box, computes a
plan, and applies it; a run on a box that is already right changes nothing,
so it is safe from a timer, cron or by hand at any moment, including right
after a run that was killed half-way.

Installed as parachute-reconcile, without a command it runs reconcile:
"parachute-reconcile [flags]" is "parachute-reconcile reconcile [flags]".
Installed as parachute (where the hub's own CLI is not), the command is
required: "parachute reconcile [flags]". Either way, discovering the hub's
command passes over this binary.
`))
	b.WriteString(".SH COMMANDS\n")
	for _, c := range flatten(top) {
		if c == top {
			continue
		}
		fmt.Fprintf(&b, ".SS %s\n", roffQuote(c.title()))
		b.WriteString(".nf\n" + roffLine(c.UsageLine) + "\n.fi\n")
		if c.Run == nil {
			b.WriteString(roffText(c.Short + ": " + strings.Join(names(c.Commands), ", ") + ".\n"))
		}
		b.WriteString(roffText(strings.TrimSuffix(c.long(), exitCodesText)))
		writeManFlags(&b, c)
	}
	b.WriteString(".SH \"EXIT STATUS\"\n" + roffText(strings.TrimPrefix(exitCodesText, "Exit codes:\n")))
	b.WriteString(manTail)
	_, err := io.WriteString(w, b.String())
	return err
}

// manTail is the man page after the commands: ENVIRONMENT, FILES and SEE
// ALSO, which the command table does not describe.
const manTail = `.SH ENVIRONMENT
.TP
.B PARACHUTE_HOME
The box's home when neither \fB\-\-home\fR nor the spec file's \fBhome:\fR
names it; unset, \fI~/.parachute\fR of the invoking user.
.TP
.B PARACHUTE_EXTRA_PATH
Directories searched for the hub's command before \fBPATH\fR, as the hub
searches them.
.TP
.B PATH
Searched for the hub's command (\fBparachute\fR), passing over this binary.
.TP
.BR USER ", " LOGNAME
The invoking user's name, as the hub reads it.
.TP
.B XDG_RUNTIME_DIR
Where a user's systemd manager and bus are reached.
.TP
.BR LC_ALL ", " LC_CTYPE ", " LANG
Status marks are Unicode in a UTF\-8 locale, ASCII otherwise.
.TP
.B JOURNAL_STREAM
Set by systemd when stderr is the journal: messages then carry priorities
and structured fields.
.SH FILES
.TP
.I $PARACHUTE_HOME/services.json
The modules of the box, read as the hub reads it.
.TP
.I $PARACHUTE_HOME/.reconcile.lock
Held by an applying run; another run exits 75.
.TP
.IR $PARACHUTE_HOME/hub/run/hub.pid ", " hub.port ", " $PARACHUTE_HOME/hub/logs/hub.log
The detached hub's pidfile and port, and the hub's output in either model.
.TP
.IR /etc/systemd/system/parachute-hub.service ", " ~/.config/systemd/user/parachute-hub.service
The hub unit for root's box and for a user's box.
.TP
.I ~/Library/LaunchAgents/computer.parachute.hub.plist
The hub's LaunchAgent on macOS.
.TP
.IR /usr/lib/systemd/system/parachute-reconcile.service ", " parachute-reconcile.timer
The packaged timer, installed disabled: \fBsystemctl enable \-\-now parachute-reconcile.timer\fR.
.TP
.I /etc/default/parachute-reconcile
Environment of the packaged service: \fBPARACHUTE_HOME\fR.
.TP
.IR /etc/systemd/system/parachute-reconcile.timer ", " ~/.config/systemd/user/parachute-reconcile.timer
The timer \fBtimer install\fR writes for root's box and for a user's box.
.SH "SEE ALSO"
.BR systemctl (1),
.BR journalctl (1),
.BR systemd.timer (5),
.BR launchctl (1)
.PP
The JSON output: \fIhttps://github.com/parachute/reconcile/blob/main/docs/json.md\fR.
`

// flatten is c and every command below it, depth first, in table order.
func flatten(c *command) []*command {
	all := []*command{c}
	for _, sub := range c.Commands {
		all = append(all, flatten(sub)...)
	}
	return all
}

func names(cs []*command) []string {
	var ns []string
	for _, c := range cs {
		ns = append(ns, c.name())
	}
	return ns
}

// writeManFlags writes c's flags as a tagged list: name, value, usage and
// the default when it is not the type's zero.
func writeManFlags(b *strings.Builder, c *command) {
	fs := c.flagSet(&options{})
	fs.SortFlags = false
	fs.VisitAll(func(f *pflag.Flag) {
		varname, usage := pflag.UnquoteUsage(f)
		tag := `\fB\-\-` + roffEscape(f.Name) + `\fR`
		if f.Shorthand != "" {
			tag = `\fB\-` + f.Shorthand + `\fR, ` + tag
		}
		if varname != "" {
			tag += ` \fI` + roffEscape(varname) + `\fR`
		}
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		b.WriteString(".TP\n" + tag + "\n" + roffLine(usage) + "\n")
	})
}

// roffText is plain text as roff: paragraphs split at blank lines; a
// paragraph with an indented line is kept as it is laid out (no fill).
func roffText(s string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if para == "" {
			continue
		}
		b.WriteString(".PP\n")
		indented := false
		for _, l := range strings.Split(para, "\n") {
			indented = indented || strings.HasPrefix(l, " ")
		}
		if indented {
			b.WriteString(".nf\n" + roffLine(para) + "\n.fi\n")
		} else {
			b.WriteString(roffLine(para) + "\n")
		}
	}
	return b.String()
}

// roffLine escapes text for roff: backslashes, hyphens as minus signs
// (options must copy-paste), a control character at a line's start, and
// anything outside ASCII as a \[uXXXX] glyph.
func roffLine(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = roffEscape(l)
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

func roffEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > 0x7e:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// roffQuote is s as one macro argument.
func roffQuote(s string) string {
	return `"` + strings.ReplaceAll(roffEscape(s), `"`, `\(dq`) + `"`
}
