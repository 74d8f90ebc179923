package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// Every command of the table is listed by `parachute help` with its short
// description and its usage line.
func TestHelpListsEveryCommand(t *testing.T) {
	code, out, errOut := runMain("help")
	if code != ExitConverged || errOut != "" {
		t.Fatalf("help exited %d: %s", code, errOut)
	}
	for _, c := range root.Commands {
		if !strings.Contains(out, "  "+c.name()) || !strings.Contains(out, c.Short) {
			t.Errorf("help does not list %s (%q)", c.name(), c.Short)
		}
		first := strings.SplitN(c.UsageLine, "\n", 2)[0]
		rest := strings.TrimSpace(strings.TrimPrefix(first, "parachute "+c.longName()))
		if !strings.Contains(out, rest) {
			t.Errorf("help does not show the usage of %s (%q)", c.name(), rest)
		}
	}
	if !strings.Contains(out, "Exit codes:\n") {
		t.Error("help does not list the exit codes")
	}
}

// `parachute help <command>`, `<command> --help` and `<command> -h` print
// the same text: its usage, its description and every one of its flags with
// its default.
func TestCommandHelpShowsUsageLongAndFlags(t *testing.T) {
	for _, c := range root.Commands {
		t.Run(c.name(), func(t *testing.T) {
			code, want, errOut := runMain("help", c.name())
			if code != ExitConverged || errOut != "" {
				t.Fatalf("help %s exited %d: %s", c.name(), code, errOut)
			}
			for _, flag := range []string{"--help", "-h"} {
				if code, got, _ := runMain(c.name(), flag); code != ExitConverged || got != want {
					t.Errorf("%s %s exited %d and printed\n%s\nwant what help %s prints:\n%s", c.name(), flag, code, got, c.name(), want)
				}
			}
			if !strings.HasPrefix(want, "usage: parachute "+c.name()) || !strings.Contains(want, c.Long) {
				t.Errorf("help %s lacks its usage line or description:\n%s", c.name(), want)
			}
			c.flagSet(&options{}).VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(want, "--"+f.Name) || !strings.Contains(want, f.Usage) {
					t.Errorf("help %s does not show --%s (%s)", c.name(), f.Name, f.Usage)
				}
			})
		})
	}
}

// Usage errors exit 64, name the command and point at its help; the
// top-level usage after an unknown command is printed as it is, not
// escaped into one line.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: parachute <command> [flags]\n\nCommands:\n"},
		{[]string{"frobnicate"}, "parachute: unknown command \"frobnicate\"\n\nusage: parachute <command> [flags]\n\nCommands:\n"},
		{[]string{"help", "frobnicate"}, "parachute help: unknown command \"frobnicate\" (see parachute help)\n"},
		{[]string{"reconcile", "--bogus"}, "parachute reconcile: unknown flag: --bogus (see parachute help reconcile)\n"},
		{[]string{"observe", "--plan"}, "parachute observe: unknown flag: --plan (see parachute help observe)\n"},
		{[]string{"observe", "extra"}, "parachute observe: unexpected argument \"extra\" (see parachute help observe)\n"},
		{[]string{"reconcile", "--output", "xml"}, "parachute reconcile: --output must be text or json, not \"xml\"\n"},
		{[]string{"reconcile", "--timeout", "1m"}, "parachute reconcile: --timeout goes with --until-converged\n"},
	} {
		code, out, errOut := runMain(tc.args...)
		if code != ExitUsage || out != "" || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("parachute %q exited %d with stdout %q and stderr\n%s\nwant 64, no stdout, stderr starting %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// A command's name is the word after "parachute" in its usage line; a
// command of a group (as `timer install` will be) is found by its last
// word and titled by all of them.
func TestCommandNames(t *testing.T) {
	install := &command{UsageLine: "parachute timer install [--every DURATION]", Run: func(context.Context, *invocation) int { return 0 }}
	timer := &command{UsageLine: "parachute timer <command>", Commands: []*command{install}}
	if got := timer.lookup("install"); got != install {
		t.Fatalf("lookup(install) = %v", got)
	}
	if install.longName() != "timer install" || install.name() != "install" || install.title() != "parachute timer install" {
		t.Errorf("names %q %q %q", install.longName(), install.name(), install.title())
	}
	if root.title() != "parachute" || reconcileCmd.name() != "reconcile" {
		t.Errorf("names %q %q", root.title(), reconcileCmd.name())
	}
}

// Dispatch walks groups to their commands: a group alone or with an
// unknown word is a usage error naming the group; its -h is its help.
func TestDispatchIntoGroups(t *testing.T) {
	ran := ""
	install := &command{UsageLine: "parachute timer install [--every DURATION]", Short: "install the timer",
		Flags: func(fs *pflag.FlagSet, o *options) { fs.DurationVar(&o.timeout, "every", 0, "how often") },
		Run: func(_ context.Context, inv *invocation) int {
			ran = inv.cmd.title() + " " + inv.opts.timeout.String()
			return 0
		}}
	timer := &command{UsageLine: "parachute timer <command>", Short: "the reconcile timer", Commands: []*command{install}}
	top := &command{UsageLine: "parachute <command> [flags]", Commands: []*command{timer}}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), top, args, &env{stdout: &out, stderr: &errb})
		return code, out.String(), errb.String()
	}
	if code, _, errOut := run("timer", "install", "--every", "1m"); code != 0 || ran != "parachute timer install 1m0s" {
		t.Fatalf("timer install exited %d (%s), ran %q", code, errOut, ran)
	}
	if code, _, errOut := run("timer"); code != ExitUsage || !strings.Contains(errOut, "  install   install the timer\n") {
		t.Errorf("timer alone exited %d with\n%s", code, errOut)
	}
	if code, _, errOut := run("timer", "bogus"); code != ExitUsage || !strings.HasPrefix(errOut, "parachute timer: unknown command \"bogus\"\n\nusage: parachute timer <command>\n") {
		t.Errorf("timer bogus exited %d with\n%s", code, errOut)
	}
	if code, out, _ := run("timer", "install", "-h"); code != 0 || !strings.Contains(out, "--every duration") {
		t.Errorf("timer install -h exited %d with\n%s", code, out)
	}
}
