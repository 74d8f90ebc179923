package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The man page is made from the command table: every command and every
// flag of it appears, so the page cannot drift from the binary.
func TestManPageHasEveryCommandAndFlag(t *testing.T) {
	var b bytes.Buffer
	if err := WriteManPage(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", `"EXIT STATUS"`, "ENVIRONMENT", "FILES", `"SEE ALSO"`} {
		if !strings.Contains(page, "\n.SH "+sec+"\n") {
			t.Errorf("no section %s", sec)
		}
	}
	for _, c := range flatten(table(Name))[1:] {
		if !strings.Contains(page, ".SS "+roffQuote(c.title())+"\n") {
			t.Errorf("no subsection for %q", c.title())
		}
		c.flagSet(&options{}).VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(page, `\fB\-\-`+roffEscape(f.Name)+`\fR`) {
				t.Errorf("%s: flag --%s missing", c.title(), f.Name)
			}
		})
	}
	for _, code := range []string{"64", "65", "75"} {
		if !strings.Contains(page, code+"  ") {
			t.Errorf("exit status %s missing", code)
		}
	}
}

// groff formats the page without a warning (-ww turns every warning on).
func TestManPageFormatsWithoutWarnings(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed (Debian: groff-base); the page was not formatted")
	}
	var b bytes.Buffer
	if err := WriteManPage(&b); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("groff -man -Tutf8 -ww: %v\n%s", err, out)
	}
}

// Each completion script parses in its shell (-n: read, do not run), and
// names every command and every flag of the table and the enum values.
func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct {
		shell string
		write func(*bytes.Buffer) error
	}{
		{"bash", func(b *bytes.Buffer) error { return WriteBashCompletion(b) }},
		{"zsh", func(b *bytes.Buffer) error { return WriteZshCompletion(b) }},
		{"fish", func(b *bytes.Buffer) error { return WriteFishCompletion(b) }},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			script := b.String()
			for _, c := range flatten(table(Name))[1:] {
				if !strings.Contains(script, c.name()) {
					t.Errorf("command %q missing", c.longName())
				}
				c.flagSet(&options{}).VisitAll(func(f *pflag.Flag) {
					if !strings.Contains(script, f.Name) {
						t.Errorf("%s: flag --%s missing", c.title(), f.Name)
					}
				})
			}
			for _, v := range []string{"supervised detached absent", "auto user system", "auto systemd launchd", "text json"} {
				if !strings.Contains(script, v) {
					t.Errorf("enum values %q missing", v)
				}
			}
			sh, err := exec.LookPath(tc.shell)
			if err != nil {
				t.Skipf("%s is not installed; the script was checked for its words but not parsed", tc.shell)
			}
			path := filepath.Join(t.TempDir(), "completion")
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", tc.shell, err, out)
			}
		})
	}
}

// The bash script completes as a user would see it: commands at the top,
// a group's commands, flags, and the values of an enum flag.
func TestBashCompletionCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	var b bytes.Buffer
	if err := WriteBashCompletion(&b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"parachute-reconcile", ""}, "reconcile observe timer version completion man help --home"},
		{[]string{"parachute-reconcile", "timer", ""}, "install remove"},
		{[]string{"parachute-reconcile", "timer", "install", "--d"}, "--desired --delay"},
		{[]string{"parachute-reconcile", "reconcile", "--desired", ""}, "supervised detached absent"},
		{[]string{"parachute-reconcile", "--home", "x", "--scope", "s"}, "system"},
		{[]string{"parachute-reconcile", "observe", "--o"}, "--output"},
	} {
		script := b.String() + `
COMP_WORDS=(` + strings.Join(quoteAll(tc.words), " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_parachute_reconcile
echo "${COMPREPLY[*]}"
`
		out, err := exec.Command(bash, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.words, err, out)
		}
		for _, w := range strings.Fields(tc.want) {
			if !strings.Contains(" "+string(out)+" ", " "+w+" ") && !strings.Contains(" "+strings.TrimSpace(string(out))+" ", " "+w+" ") {
				t.Errorf("%v: completions %q lack %q", tc.words, strings.TrimSpace(string(out)), w)
			}
		}
	}
}

func quoteAll(ws []string) []string {
	var q []string
	for _, w := range ws {
		q = append(q, shSingle(w))
	}
	return q
}
