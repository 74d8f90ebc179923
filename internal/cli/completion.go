package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/pflag"
)

var completionCmd = &command{
	UsageLine: "parachute completion <shell>",
	Short:     "print a shell completion script (bash, zsh or fish)",
	Long: `Completion prints a script that completes parachute-reconcile's commands,
flags and flag values in the shell. The packages install all three; by hand:

  parachute-reconcile completion bash > /etc/bash_completion.d/parachute-reconcile
  parachute-reconcile completion zsh > "${fpath[1]}/_parachute-reconcile"
  parachute-reconcile completion fish > ~/.config/fish/completions/parachute-reconcile.fish

The scripts complete the name parachute-reconcile only: the name parachute
belongs to the hub's own CLI.
`,
	Commands: []*command{
		completionShellCmd("bash", WriteBashCompletion),
		completionShellCmd("zsh", WriteZshCompletion),
		completionShellCmd("fish", WriteFishCompletion),
	},
}

func completionShellCmd(shell string, write func(io.Writer) error) *command {
	return &command{
		UsageLine: "parachute completion " + shell,
		Short:     "print the " + shell + " completion script",
		Long:      "Prints the " + shell + " completion script for parachute-reconcile to stdout.\n",
		Run: func(_ context.Context, inv *invocation) int {
			if err := write(inv.stdout); err != nil {
				pf(inv.stderr, "%s: %v\n", inv.cmd.title(), err)
				return ExitFailed
			}
			return ExitConverged
		},
	}
}

// compNode is one place on a command line the completions know: the
// commands below it, and its flags (the root's are reconcile's, as the
// packaged name runs reconcile without a command).
type compNode struct {
	path  string // "", "reconcile", "timer install"
	short string
	subs  []*compNode
	flags []compFlag
}

type compFlag struct {
	name, short, usage string
	// value is true when the flag takes a value; values are its closed set,
	// files that it names a file or directory.
	value  bool
	values []string
	files  bool
}

// enumFlag finds "--flag a|b|c" in usage lines: the closed sets of values.
// Compiled on first use: only completions need it.
var enumFlag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`--([a-z][a-z-]*) ([a-z]+(?:\|[a-z]+)+)`) })

// compTree is the table under the packaged name as completions need it.
func compTree() *compNode {
	top := table(Name)
	enums := map[string][]string{}
	for _, c := range flatten(top) {
		for _, m := range enumFlag().FindAllStringSubmatch(c.UsageLine, -1) {
			enums[m[1]] = strings.Split(m[2], "|")
		}
	}
	var walk func(c *command, flagsOf *command) *compNode
	walk = func(c *command, flagsOf *command) *compNode {
		n := &compNode{path: c.longName(), short: c.Short}
		fs := flagsOf.flagSet(&options{})
		fs.SortFlags = false
		fs.VisitAll(func(f *pflag.Flag) {
			_, usage := pflag.UnquoteUsage(f)
			cf := compFlag{name: f.Name, short: f.Shorthand, usage: usage, value: f.NoOptDefVal == "", values: enums[f.Name]}
			cf.files = cf.value && cf.values == nil && (f.Name == "home" || f.Name == "spec" || f.Name == "textfile")
			n.flags = append(n.flags, cf)
		})
		for _, sub := range c.Commands {
			n.subs = append(n.subs, walk(sub, sub))
		}
		return n
	}
	return walk(top, reconcileCmd)
}

func (n *compNode) all() []*compNode {
	all := []*compNode{n}
	for _, s := range n.subs {
		all = append(all, s.all()...)
	}
	return all
}

func (n *compNode) word() string { return n.path[strings.LastIndexByte(n.path, ' ')+1:] }

// valueFlags are the flags, with their dashes, that take the next word as
// their value, over the whole table.
func (n *compNode) valueFlags() []string {
	var vs []string
	for _, c := range n.all() {
		for _, f := range c.flags {
			if f.value {
				vs = append(vs, "--"+f.name)
				if f.short != "" {
					vs = append(vs, "-"+f.short)
				}
			}
		}
	}
	slices.Sort(vs)
	return slices.Compact(vs)
}

// valueCases are the flags with values worth completing: enums and files.
func (n *compNode) valueCases() (enums map[string][]string, files []string) {
	enums = map[string][]string{}
	for _, c := range n.all() {
		for _, f := range c.flags {
			switch {
			case f.values != nil:
				enums["--"+f.name] = f.values
			case f.files:
				files = append(files, "--"+f.name)
			}
		}
	}
	slices.Sort(files)
	return enums, slices.Compact(files)
}

func sortedKeys(m map[string][]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (n *compNode) flagWords() []string {
	var ws []string
	for _, f := range n.flags {
		ws = append(ws, "--"+f.name)
	}
	return ws
}

// WriteBashCompletion writes the bash completion script for the packaged
// name, made from the command table.
func WriteBashCompletion(w io.Writer) error {
	t := compTree()
	enums, files := t.valueCases()
	var b strings.Builder
	fmt.Fprintf(&b, "# bash completion for %s, made from its command table (%s completion bash).\n", Name, Name)
	b.WriteString(`_parachute_reconcile() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local path="" w i skip=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -n $skip ]]; then skip=""; continue; fi
		case $w in
		` + strings.Join(t.valueFlags(), "|") + `) skip=1; continue ;;
		-*) continue ;;
		esac
		case "${path:+$path }$w" in
		` + bashAlternatives(t) + `) path="${path:+$path }$w" ;;
		esac
	done
	case $prev in
`)
	for _, k := range sortedKeys(enums) {
		fmt.Fprintf(&b, "\t%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", k, strings.Join(enums[k], " "))
	}
	fmt.Fprintf(&b, "\t%s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(files, "|"))
	fmt.Fprintf(&b, "\t%s) return ;;\n", strings.Join(t.valueFlags(), "|"))
	b.WriteString("\tesac\n\tlocal words\n\tcase $path in\n")
	for _, n := range t.all() {
		var ws []string
		for _, s := range n.subs {
			ws = append(ws, s.word())
		}
		ws = append(ws, n.flagWords()...)
		fmt.Fprintf(&b, "\t%q) words=%q ;;\n", n.path, strings.Join(ws, " "))
	}
	b.WriteString("\tesac\n\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n")
	fmt.Fprintf(&b, "complete -F _parachute_reconcile %s\n", Name)
	_, err := io.WriteString(w, b.String())
	return err
}

// bashAlternatives are the command paths as case patterns: "timer\ install".
func bashAlternatives(t *compNode) string {
	var ps []string
	for _, n := range t.all()[1:] {
		ps = append(ps, strings.ReplaceAll(n.path, " ", `\ `))
	}
	return strings.Join(ps, "|")
}

// WriteZshCompletion writes the zsh completion script for the packaged
// name, made from the command table.
func WriteZshCompletion(w io.Writer) error {
	t := compTree()
	enums, files := t.valueCases()
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %s, made from its command table (%s completion zsh).\n", Name, Name, Name)
	b.WriteString(`_parachute_reconcile() {
	local cmdpath="" w i skip=""
	for ((i = 2; i < CURRENT; i++)); do
		w=${words[i]}
		if [[ -n $skip ]]; then skip=""; continue; fi
		case $w in
		` + strings.Join(t.valueFlags(), "|") + `) skip=1; continue ;;
		-*) continue ;;
		esac
		case "${cmdpath:+$cmdpath }$w" in
		` + bashAlternatives(t) + `) cmdpath="${cmdpath:+$cmdpath }$w" ;;
		esac
	done
	case ${words[CURRENT-1]} in
`)
	for _, k := range sortedKeys(enums) {
		fmt.Fprintf(&b, "\t%s) compadd -- %s; return ;;\n", k, strings.Join(enums[k], " "))
	}
	fmt.Fprintf(&b, "\t%s) _files; return ;;\n", strings.Join(files, "|"))
	fmt.Fprintf(&b, "\t%s) return ;;\n", strings.Join(t.valueFlags(), "|"))
	b.WriteString("\tesac\n\tlocal -a cmds flags\n\tcase $cmdpath in\n")
	for _, n := range t.all() {
		var cs, fs []string
		for _, s := range n.subs {
			cs = append(cs, shSingle(s.word()+":"+strings.ReplaceAll(s.short, ":", `\:`)))
		}
		for _, f := range n.flags {
			fs = append(fs, shSingle("--"+f.name+":"+strings.ReplaceAll(f.usage, ":", `\:`)))
		}
		fmt.Fprintf(&b, "\t%s) cmds=(%s) flags=(%s) ;;\n", shSingle(n.path), strings.Join(cs, " "), strings.Join(fs, " "))
	}
	b.WriteString(`	esac
	if [[ ${words[CURRENT]} == -* ]]; then
		_describe -t flags 'flag' flags
	else
		(( ${#cmds} )) && _describe -t commands 'command' cmds
	fi
}
_parachute_reconcile "$@"
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// shSingle quotes s for sh, zsh and bash: '…' with ' as '\”.
func shSingle(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fishSingle quotes s for fish: '…' with \ and ' escaped.
func fishSingle(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// WriteFishCompletion writes the fish completion script for the packaged
// name, made from the command table.
func WriteFishCompletion(w io.Writer) error {
	t := compTree()
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %s, made from its command table (%s completion fish).\n", Name, Name)
	fmt.Fprintf(&b, "complete -c %s -f\n", Name)
	for _, n := range t.all() {
		cond := "__fish_use_subcommand"
		if n.path != "" {
			var parts []string
			for _, word := range strings.Fields(n.path) {
				parts = append(parts, "__fish_seen_subcommand_from "+word)
			}
			cond = strings.Join(parts, "; and ")
			if len(n.subs) > 0 {
				var ws []string
				for _, s := range n.subs {
					ws = append(ws, s.word())
				}
				cond += "; and not __fish_seen_subcommand_from " + strings.Join(ws, " ")
			}
		}
		for _, s := range n.subs {
			fmt.Fprintf(&b, "complete -c %s -n %s -a %s -d %s\n", Name, fishSingle(cond), s.word(), fishSingle(s.short))
		}
		for _, f := range n.flags {
			line := fmt.Sprintf("complete -c %s -n %s -l %s", Name, fishSingle(cond), f.name)
			if f.short != "" {
				line += " -s " + f.short
			}
			switch {
			case f.values != nil:
				line += " -x -a " + fishSingle(strings.Join(f.values, " "))
			case f.files:
				line += " -r -F"
			case f.value:
				line += " -x"
			}
			b.WriteString(line + " -d " + fishSingle(f.usage) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
