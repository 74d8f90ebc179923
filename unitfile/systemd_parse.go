package unitfile

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/unit"
)

// Option is one Name=Value assignment of a unit file, in its section. Value
// is the raw text after '=' with surrounding whitespace removed, still quoted
// and escaped as in the file.
type Option struct {
	// Section is the section name without brackets ("Service").
	Section string `json:"section"`
	// Name is the key ("ExecStart").
	Name string `json:"name"`
	// Value is the raw value.
	Value string `json:"value"`
}

// Options are a unit file's assignments in file order; comments and blank
// lines are gone.
type Options []Option

// Values returns the raw values of every section/name assignment, in order.
func (o Options) Values(section, name string) []string {
	var vs []string
	for _, op := range o {
		if op.Section == section && op.Name == name {
			vs = append(vs, op.Value)
		}
	}
	return vs
}

// Last returns the raw value of the last section/name assignment (the one
// systemd uses for a single-valued setting).
func (o Options) Last(section, name string) (string, bool) {
	vs := o.Values(section, name)
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// ParseSystemd parses a unit file with go-systemd's deserializer. A file that
// is empty or holds only comments (a masked unit read through its /dev/null
// link) yields no options and no error. A value continued over several
// lines reads as systemd reads it (systemd.syntax(7)): each trailing
// backslash is a space, the lines one (go-systemd keeps the backslash and
// the newline in the value).
func ParseSystemd(data []byte) (Options, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		// Not handed to go-systemd, whose parser starts a goroutine and
		// buffers per file: a converged tick asks about many units that do
		// not exist (their content is empty).
		return nil, nil
	}
	raw, err := unit.DeserializeOptions(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse systemd unit: %w", err)
	}
	out := make(Options, len(raw))
	for i, o := range raw {
		out[i] = Option{Section: o.Section, Name: o.Name, Value: strings.ReplaceAll(o.Value, "\\\n", " ")}
	}
	return out, nil
}

// CompareSystemd compares two unit files by meaning and returns one sentence
// per difference, in a stable order (want's keys in its order, then keys
// only got has, sorted): `[Service] ExecStart: want "/a b", have "/c"`.
// Comments, blank lines and the order of different keys are ignored; the
// order of repeated keys counts. ExecStart*= values are compared as the
// argv systemd splits them into and Environment= as the variables it
// assigns (per variable, so a changed PATH is one sentence), so quoting
// that does not change the meaning is not a difference. Parse errors of
// either side are returned as the error.
func CompareSystemd(want, got []byte) ([]string, error) {
	w, err := ParseSystemd(want)
	if err != nil {
		return nil, fmt.Errorf("compare systemd unit: wanted unit: %w", err)
	}
	g, err := ParseSystemd(got)
	if err != nil {
		return nil, fmt.Errorf("compare systemd unit: unit on disk: %w", err)
	}
	type key struct{ section, name string }
	var keys []key
	seen := map[key]bool{}
	for _, o := range w {
		k := key{o.Section, o.Name}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	var extra []key
	for _, o := range g {
		k := key{o.Section, o.Name}
		if !seen[k] {
			seen[k] = true
			extra = append(extra, k)
		}
	}
	sort.Slice(extra, func(i, j int) bool {
		if extra[i].section != extra[j].section {
			return extra[i].section < extra[j].section
		}
		return extra[i].name < extra[j].name
	})
	keys = append(keys, extra...)

	var diffs []string
	for _, k := range keys {
		wv, gv := w.Values(k.section, k.name), g.Values(k.section, k.name)
		prefix := "[" + k.section + "] " + k.name
		switch {
		case k.name == "Environment":
			diffs = append(diffs, diffEnvironment(prefix, wv, gv)...)
		case strings.HasPrefix(k.name, "Exec"):
			wa, werr := execMeaning(wv)
			ga, gerr := execMeaning(gv)
			if werr == nil && gerr == nil {
				if !equalArgvs(wa, ga) {
					diffs = append(diffs, sentence(prefix, wv, gv))
				}
				continue
			}
			if !slices.Equal(wv, gv) {
				diffs = append(diffs, sentence(prefix, wv, gv))
			}
		default:
			if !slices.Equal(wv, gv) {
				diffs = append(diffs, sentence(prefix, wv, gv))
			}
		}
	}
	return diffs, nil
}

// sentence is one difference: "<prefix>: want X, have Y".
func sentence(prefix string, want, have []string) string {
	return prefix + ": want " + show(want) + ", have " + show(have)
}

// show renders a value sequence for a person: none, "v" or ["a", "b"].
func show(vs []string) string {
	switch len(vs) {
	case 0:
		return "none"
	case 1:
		return strconv.Quote(vs[0])
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// execMeaning decodes ExecStart-like values: each into its argv, an empty
// value clearing the ones before it (systemd's reset rule).
func execMeaning(values []string) ([][]string, error) {
	var out [][]string
	for _, v := range values {
		if v == "" {
			out = nil
			continue
		}
		argv, err := SplitExecStart(v)
		if err != nil {
			return nil, err
		}
		out = append(out, argv)
	}
	return out, nil
}

// diffEnvironment compares Environment= values as the variables they set.
func diffEnvironment(prefix string, want, have []string) []string {
	wa, werr := envMeaning(want)
	ga, gerr := envMeaning(have)
	if werr != nil || gerr != nil {
		if slices.Equal(want, have) {
			return nil
		}
		return []string{sentence(prefix, want, have)}
	}
	if slices.Equal(wa, ga) {
		return nil
	}
	wm, wn := envMap(wa)
	gm, gn := envMap(ga)
	var diffs []string
	names := append([]string(nil), wn...)
	var extra []string
	for _, n := range gn {
		if _, ok := wm[n]; !ok {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	names = append(names, extra...)
	for _, n := range names {
		wv, wok := wm[n]
		gv, gok := gm[n]
		if wok == gok && wv == gv {
			continue
		}
		ws, gs := "none", "none"
		if wok {
			ws = strconv.Quote(wv)
		}
		if gok {
			gs = strconv.Quote(gv)
		}
		diffs = append(diffs, prefix+" "+n+": want "+ws+", have "+gs)
	}
	if len(diffs) == 0 {
		diffs = append(diffs, prefix+": want the assignments in order "+show(wa)+", have "+show(ga))
	}
	return diffs
}

// Environment is the environment a systemd unit's [Service] assigns, as
// "NAME=value" in order, its Environment= values decoded as systemd decodes
// them, an empty one clearing the assignments before it. A value that
// SplitEnvironment refuses is skipped whole, which is not systemd's rule:
// systemd expands a specifier (%h) and skips only a word without "=",
// keeping the rest of the line. What such a value assigns is not known
// here; the callers use the result as a hint (hubPathDirs), never as proof.
func Environment(opts Options) []string {
	out, _ := envAssignments(opts.Values("Service", "Environment"), true)
	return out
}

// envMeaning decodes Environment= values into their assignments in order;
// an empty value clears the ones before it, and one that does not split is
// an error (a comparison must not call two different units equal).
func envMeaning(values []string) ([]string, error) {
	return envAssignments(values, false)
}

// envAssignments is Environment and envMeaning: skipBad ignores a value
// that does not split instead of failing.
func envAssignments(values []string, skipBad bool) ([]string, error) {
	var out []string
	for _, v := range values {
		if v == "" {
			out = nil
			continue
		}
		as, err := SplitEnvironment(v)
		if err != nil {
			if skipBad {
				continue
			}
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

// envMap maps each variable to its last value and lists the names in first
// appearance order.
func envMap(assignments []string) (map[string]string, []string) {
	m := map[string]string{}
	var names []string
	for _, a := range assignments {
		k, v, _ := strings.Cut(a, "=")
		if _, ok := m[k]; !ok {
			names = append(names, k)
		}
		m[k] = v
	}
	return m, names
}

func equalArgvs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// SplitExecStart splits an ExecStart= value into the argv systemd runs:
// words split and unquoted as extract_first_word(EXTRACT_UNQUOTE|
// EXTRACT_CUNESCAPE) does, "%%" turned into '%' and "$$" into '$'.
// Limits, because a unit is decoded without its running context: a real
// specifier (%h, %u, …) is an error, "$VAR" and "${VAR}" are kept literally, and the
// command prefixes (-, @, :, +, !) and ';' separators stay in the words.
func SplitExecStart(value string) ([]string, error) {
	words, err := splitWords(value)
	if err != nil {
		return nil, fmt.Errorf("split ExecStart %q: %w", value, err)
	}
	for i, w := range words {
		w, err = unescapeSpecifiers(w)
		if err != nil {
			return nil, fmt.Errorf("split ExecStart %q: %w", value, err)
		}
		words[i] = strings.ReplaceAll(w, "$$", "$")
	}
	return words, nil
}

// SplitEnvironment splits an Environment= value into its NAME=VALUE
// assignments as systemd does: words unquoted and unescaped, "%%" turned
// into '%'. A real specifier (%h, …), or a word without '=' or with an invalid
// name, is an error.
func SplitEnvironment(value string) ([]string, error) {
	words, err := splitWords(value)
	if err != nil {
		return nil, fmt.Errorf("split Environment %q: %w", value, err)
	}
	for i, w := range words {
		w, err = unescapeSpecifiers(w)
		if err != nil {
			return nil, fmt.Errorf("split Environment %q: %w", value, err)
		}
		k, _, ok := strings.Cut(w, "=")
		if !ok || !validEnvName(k) {
			return nil, fmt.Errorf("split Environment %q: %q is not a NAME=VALUE assignment", value, w)
		}
		words[i] = w
	}
	return words, nil
}

// specifierLetters are the specifiers systemd 252 expands in unit settings
// (systemd.unit(5) "Specifiers"); '%' followed by anything else is kept as
// it is, as systemd keeps it.
const specifierLetters = "aAbBCdEfgGhHiIjJlLmMnNopPqsStTuUvVwWyY"

// unescapeSpecifiers turns "%%" into '%', keeps '%' before a character that
// is no specifier, and rejects real specifiers (%h, %u, …), which only a
// running systemd can resolve.
func unescapeSpecifiers(w string) (string, error) {
	if !strings.Contains(w, "%") {
		return w, nil
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '%' || i+1 == len(w) {
			b.WriteByte(w[i])
			continue
		}
		switch c := w[i+1]; {
		case c == '%':
			b.WriteByte('%')
			i++
		case strings.IndexByte(specifierLetters, c) >= 0:
			return "", fmt.Errorf("specifier %%%c cannot be resolved outside systemd", c)
		default:
			b.WriteByte('%')
		}
	}
	return b.String(), nil
}

// splitWords is systemd's extract_first_word with EXTRACT_UNQUOTE and
// EXTRACT_CUNESCAPE applied until the value is used up: words separated by
// runs of space, tab, CR or LF; single or double quotes group (and may
// start or end mid-word); a backslash, in or out of quotes, starts a C
// escape (\a \b \f \n \r \t \v \\ \" \' \s \xHH \uHHHH \UHHHHHHHH \ooo).
func splitWords(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && isSeparator(s[i]) {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var w []byte
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				out, n, err := cunescapeOne(s[i+1:])
				if err != nil {
					return nil, err
				}
				w = append(w, out...)
				i += 1 + n
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				w = append(w, c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case isSeparator(c):
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("unterminated %c quote", quote)
		}
		words = append(words, string(w))
	}
}

func isSeparator(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// simpleEscapes are the one-letter C escapes systemd knows ('\s' is a space).
var simpleEscapes = map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
	'\\': '\\', '"': '"', '\'': '\'', 's': ' '}

// cunescapeOne decodes the escape after a backslash (systemd's
// cunescape_one without accept_nul): it returns the bytes it stands for and
// how many bytes of p it used.
func cunescapeOne(p string) ([]byte, int, error) {
	if p == "" {
		return nil, 0, fmt.Errorf("backslash at the end of the value")
	}
	if b, ok := simpleEscapes[p[0]]; ok {
		return []byte{b}, 1, nil
	}
	hex := func(n int) (uint64, error) {
		if len(p) < 1+n {
			return 0, fmt.Errorf("short escape \\%s", p)
		}
		v, err := strconv.ParseUint(p[1:1+n], 16, 32)
		if err != nil {
			return 0, fmt.Errorf("bad escape \\%s", p[:1+n])
		}
		return v, nil
	}
	switch c := p[0]; {
	case c == 'x':
		v, err := hex(2)
		if err != nil || v == 0 {
			return nil, 0, fmt.Errorf("bad escape \\%s", p[:min(3, len(p))])
		}
		return []byte{byte(v)}, 3, nil
	case c == 'u' || c == 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		v, err := hex(n)
		if err != nil || v == 0 || v > utf8.MaxRune || (v >= 0xd800 && v <= 0xdfff) {
			return nil, 0, fmt.Errorf("bad escape \\%s", p[:min(1+n, len(p))])
		}
		return utf8.AppendRune(nil, rune(v)), 1 + n, nil
	case c >= '0' && c <= '7':
		if len(p) < 3 {
			return nil, 0, fmt.Errorf("short octal escape \\%s", p)
		}
		v, err := strconv.ParseUint(p[:3], 8, 16)
		if err != nil || v == 0 || v > 255 {
			return nil, 0, fmt.Errorf("bad octal escape \\%s", p[:3])
		}
		return []byte{byte(v)}, 3, nil
	}
	return nil, 0, fmt.Errorf("unknown escape \\%c", p[0])
}

// ExecStarts returns the argv of every ExecStart= of a unit file, in order,
// with the command prefixes (-, @, :, +, !) dropped from the program. It is
// how a unit is judged by what it runs, not by its name. Values that do
// not split (a real specifier such as %h) are skipped; an empty
// assignment resets the list, as systemd's does.
func ExecStarts(data []byte) [][]string {
	opts, err := ParseSystemd(data)
	if err != nil {
		return nil
	}
	var out [][]string
	for _, v := range opts.Values("Service", "ExecStart") {
		if strings.TrimSpace(v) == "" {
			out = nil
			continue
		}
		argv, err := SplitExecStart(v)
		if err != nil || len(argv) == 0 {
			continue
		}
		argv[0] = strings.TrimLeft(argv[0], "-@:+!")
		out = append(out, argv)
	}
	return out
}
