package spec

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/internal/boxfs"
	yaml "go.yaml.in/yaml/v2"
)

// File is the optional YAML spec file (`--spec`). Every key is optional; a
// zero field means "not set" (no valid value is zero), and flags win over
// the file.
//
//	desired: supervised
//	home: /home/op/.parachute
//	hub:
//	  port: 1939
//	  command: ["/home/op/.bun/bin/bun", "/path/to/hub/src/cli.ts", "serve"]
//	  env: {EXTRA_VAR: "value"}
//	manager: auto          # auto | systemd | launchd
//	scope: auto            # auto | user | system
//	timeouts: {stop: 15s, portFree: 15s, healthy: 30s, modules: 30s}
type File struct {
	// Path is the file read.
	Path string `json:"path,omitempty"`
	// Desired is the model to converge to.
	Desired Model `json:"desired,omitempty"`
	// Home is PARACHUTE_HOME, absolute and cleaned.
	Home string `json:"home,omitempty"`
	// Hub is the hub section.
	Hub FileHub `json:"hub"`
	// Manager is the service manager, or auto.
	Manager Manager `json:"manager,omitempty"`
	// Scope is the systemd unit scope, or auto.
	Scope Scope `json:"scope,omitempty"`
	// Timeouts bound the actuator's waits.
	Timeouts FileTimeouts `json:"timeouts"`
}

// FileHub is the spec file's hub section.
type FileHub struct {
	// Port is the hub port, 0 when not set.
	Port int `json:"port,omitempty"`
	// Command is the hub's argv; Command[0] is absolute or a bare program
	// name to look up on PATH.
	Command []string `json:"command,omitempty"`
	// Env are extra variables for the hub unit.
	Env map[string]string `json:"env,omitempty"`
}

// FileTimeouts is the spec file's timeouts section; zero means not set.
type FileTimeouts struct {
	Stop     time.Duration `json:"stop,omitempty"`     // timeouts.stop
	PortFree time.Duration `json:"portFree,omitempty"` // timeouts.portFree
	Healthy  time.Duration `json:"healthy,omitempty"`  // timeouts.healthy
	Modules  time.Duration `json:"modules,omitempty"`  // timeouts.modules
}

// specKind is how InputErrors about the spec file name it.
const specKind = "spec file"

// The enums, in the order messages list them.
var (
	modelValues   = []string{string(Supervised), string(Detached), string(Absent)}
	managerValues = []string{string(ManagerAuto), string(ManagerSystemd), string(ManagerLaunchd)}
	scopeValues   = []string{string(ScopeAuto), string(ScopeUser), string(ScopeSystem)}
)

// reservedEnv are the variables the hub unit always sets itself; the spec
// file may not override them through hub.env.
var reservedEnv = map[string]string{
	"PARACHUTE_BIND_HOST": "the hub must bind 127.0.0.1 (an all-interfaces bind was upstream security bug #524)",
	"PARACHUTE_HOME":      "set the top-level home key instead",
	"PORT":                "set hub.port instead",
	"PATH":                "set $PARACHUTE_EXTRA_PATH when running the reconciler to add directories",
	"BUN_INSTALL":         "it is derived from the user's home, as the hub derives it",
}

// LoadFile reads and validates a spec file. It is strict: an unknown key, a
// duplicate key, a value of the wrong type or out of range is an
// *InputError naming the file, the key path, the line and the fix (several
// problems are joined with errors.Join, each an *InputError, in line
// order). Lines are found by scanning the text for the key: best effort,
// 0 when not found.
//
// YAML 1.1, which the YAML libraries of this ecosystem implement, reads
// unquoted y, n, yes, no, on, off, true and false as booleans (`desired: no`,
// `FOO: off`). sigs.k8s.io/yaml would then silently turn them back into the
// strings "true"/"false" where a string is expected, and silently merge a
// boolean key `on:` with a `"true":` key. So the file is decoded with the
// YAML 1.1 parser that sigs.k8s.io/yaml wraps (go.yaml.in/yaml/v2) into an
// ordered, typed tree, and a boolean or number where text is expected is
// rejected with the advice to quote it. Field names are matched exactly
// (encoding/json would accept "Desired" for "desired"). An empty file is a
// valid, empty spec.
//
// The file is read as services.json is (ReadManifest): never blocking,
// at most MaxSpecFile bytes, through a final symlink only when it belongs
// to one of trustLinks.
func LoadFile(path string, trustLinks ...int) (File, error) {
	data, _, err := boxfs.ReadFile(path, MaxSpecFile, trustLinks)
	if err != nil {
		return File{Path: path}, &InputError{
			Kind: specKind, File: path, Err: err,
			Problem: fmt.Sprintf("cannot read the file: %v", unwrapPathError(err)),
			Fix:     "pass a regular file (not a pipe, device or a link someone else made) under 1 MiB with --spec",
		}
	}
	return ParseFile(path, data)
}

// MaxSpecFile bounds the spec file (a real one is a dozen lines).
const MaxSpecFile = 1 << 20

// ParseFile is LoadFile on bytes already read; path is used in messages.
func ParseFile(path string, data []byte) (File, error) {
	fp := &fileParser{path: path, lines: strings.Split(string(data), "\n")}
	f := File{Path: path}
	if line := fp.secondDocument(); line > 0 {
		return f, &InputError{Kind: specKind, File: path, Line: line,
			Problem: "the file holds more than one YAML document (a second ---)",
			Fix:     "keep one document; YAML readers silently ignore the rest"}
	}
	var root yaml.MapSlice
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return f, &InputError{Kind: specKind, File: path, Line: yamlErrorLine(err),
			Problem: "not valid YAML: " + yamlMessageRE.ReplaceAllString(err.Error(), ""),
			Fix:     "repair the YAML near that line (indentation with spaces, a colon after each key)"}
	}
	switch generic.(type) {
	case nil:
		return f, nil
	case map[any]any:
		if err := yaml.Unmarshal(data, &root); err != nil {
			return f, &InputError{Kind: specKind, File: path, Line: yamlErrorLine(err), Problem: "not valid YAML: " + yamlMessageRE.ReplaceAllString(err.Error(), "")}
		}
	default:
		return f, &InputError{Kind: specKind, File: path, Line: 1,
			Problem: fmt.Sprintf("the top level is %s, not a mapping of keys", yamlKind(generic)),
			Fix:     "write keys such as `desired: supervised` at the top level"}
	}

	fp.mapping(root, nil, func(key string, v any, field []string) {
		switch key {
		case "desired":
			if s, ok := fp.enum(v, field, modelValues); ok {
				f.Desired = Model(s)
			}
		case "home":
			if s, ok := fp.text(v, field); ok {
				switch {
				case s == "":
					fp.fail(field, "is empty", "remove the key to use $PARACHUTE_HOME or ~/.parachute, or write an absolute directory")
				case strings.HasPrefix(s, "~"):
					fp.fail(field, fmt.Sprintf("%q starts with ~, which is not expanded (the hub does not expand it either)", s), "write the full absolute path, such as /home/op/.parachute")
				case !filepath.IsAbs(s):
					fp.fail(field, fmt.Sprintf("%q is not an absolute path", s), "write the full absolute path (a relative home would depend on where the reconciler runs from)")
				default:
					f.Home = filepath.Clean(s)
				}
			}
		case "hub":
			fp.mapping(v, field, func(key string, v any, field []string) {
				switch key {
				case "port":
					f.Hub.Port = fp.port(v, field)
				case "command":
					f.Hub.Command = fp.command(v, field)
				case "env":
					f.Hub.Env = fp.env(v, field)
				default:
					fp.unknown(field, []string{"port", "command", "env"})
				}
			})
		case "manager":
			if s, ok := fp.enum(v, field, managerValues); ok {
				f.Manager = Manager(s)
			}
		case "scope":
			if s, ok := fp.enum(v, field, scopeValues); ok {
				f.Scope = Scope(s)
			}
		case "timeouts":
			fp.mapping(v, field, func(key string, v any, field []string) {
				switch key {
				case "stop":
					f.Timeouts.Stop = fp.duration(v, field)
				case "portFree":
					f.Timeouts.PortFree = fp.duration(v, field)
				case "healthy":
					f.Timeouts.Healthy = fp.duration(v, field)
				case "modules":
					f.Timeouts.Modules = fp.duration(v, field)
				default:
					fp.unknown(field, []string{"stop", "portFree", "healthy", "modules"})
				}
			})
		default:
			fp.unknown(field, []string{"desired", "home", "hub", "manager", "scope", "timeouts"})
		}
	})
	if err := fp.err(); err != nil {
		return File{Path: path}, err
	}
	return f, nil
}

// fileParser walks the decoded tree and collects problems.
type fileParser struct {
	path  string
	lines []string
	errs  []*InputError
}

func (fp *fileParser) fail(field []string, problem, fix string) {
	fp.errs = append(fp.errs, &InputError{
		Kind: specKind, File: fp.path, Field: strings.Join(field, "."),
		Line: fp.line(field), Problem: problem, Fix: fix,
	})
}

// err returns nil, the one problem, or all of them joined, in line order.
func (fp *fileParser) err() error {
	if len(fp.errs) == 0 {
		return nil
	}
	sort.SliceStable(fp.errs, func(i, j int) bool {
		a, b := fp.errs[i], fp.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Field < b.Field
	})
	if len(fp.errs) == 1 {
		return fp.errs[0]
	}
	errs := make([]error, len(fp.errs))
	for i, e := range fp.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// mapping calls each for every key of a mapping value, after rejecting
// non-string keys (YAML booleans, numbers) and duplicate keys. A null value
// is an empty mapping.
func (fp *fileParser) mapping(v any, field []string, each func(key string, v any, field []string)) {
	if v == nil {
		return
	}
	ms, ok := v.(yaml.MapSlice)
	if !ok {
		fp.fail(field, fmt.Sprintf("is %s, not a mapping of keys", yamlKind(v)), "write it as indented `key: value` lines under it")
		return
	}
	seen := map[any]bool{}
	for _, item := range ms {
		key, ok := fp.key(item.Key, field)
		if !ok {
			continue
		}
		if seen[item.Key] {
			fp.fail(append(slices.Clone(field), key), "appears twice", "keep one of them")
			continue
		}
		seen[item.Key] = true
		each(key, item.Value, append(slices.Clone(field), key))
	}
}

// key returns a mapping key as a string, or reports why it is not one.
func (fp *fileParser) key(k any, field []string) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, true
	case bool:
		where := "at the top level"
		if len(field) > 0 {
			where = "under " + strings.Join(field, ".")
		}
		problem := fmt.Sprintf("a key %s is the YAML 1.1 boolean %v (unquoted y/n/yes/no/on/off/true/false are booleans)", where, k)
		fp.errs = append(fp.errs, &InputError{Kind: specKind, File: fp.path, Field: strings.Join(field, "."),
			Line: fp.boolKeyLine(field, k), Problem: problem, Fix: `quote the key, such as "on": …`})
	case nil:
		fp.fail(field, "has an empty (null) key", "give every entry a key")
	default:
		fp.fail(append(slices.Clone(field), fmt.Sprint(k)), fmt.Sprintf("the key %v is %s, not text", k, yamlKind(k)), "quote the key")
	}
	return "", false
}

// unknown reports an unknown key (the last of field), suggesting the known
// one it resembles.
func (fp *fileParser) unknown(field []string, known []string) {
	parent, key := field[:len(field)-1], field[len(field)-1]
	where := "at the top level"
	if len(parent) > 0 {
		where = "under " + strings.Join(parent, ".")
	}
	fix := fmt.Sprintf("remove it; the keys %s are %s", where, strings.Join(known, ", "))
	for _, k := range known {
		if strings.EqualFold(k, key) {
			fix = fmt.Sprintf("keys are case-sensitive: write %q", k)
		}
	}
	fp.fail(field, fmt.Sprintf("unknown key %q", key), fix)
}

// text returns a string value. A YAML boolean or number where text is
// expected is an error with the advice to quote it; null is "not set".
func (fp *fileParser) text(v any, field []string) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		raw := fp.raw(field, strconv.FormatBool(x))
		fp.fail(field, fmt.Sprintf("is the YAML 1.1 boolean %v (from unquoted %s), not text", x, raw),
			fmt.Sprintf("quote it: %s: %q", field[len(field)-1], raw))
	case int, int64, uint64, float64:
		raw := fp.raw(field, fmt.Sprint(x))
		fp.fail(field, fmt.Sprintf("is the number %v (from unquoted %s), not text", x, raw),
			fmt.Sprintf("quote it: %s: %q", field[len(field)-1], raw))
	default:
		fp.fail(field, fmt.Sprintf("is %s, not text", yamlKind(v)), "write a single quoted value")
	}
	return "", false
}

// enum returns a value that must be one of values.
func (fp *fileParser) enum(v any, field []string, values []string) (string, bool) {
	list := strings.Join(values, ", ")
	if b, ok := v.(bool); ok {
		raw := fp.raw(field, strconv.FormatBool(b))
		fp.fail(field, fmt.Sprintf("is the YAML 1.1 boolean %v (from unquoted %s), not one of %s", b, raw, list),
			fmt.Sprintf("write one of %s", list))
		return "", false
	}
	s, ok := fp.text(v, field)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		fp.fail(field, fmt.Sprintf("%q is not one of %s", s, list), fmt.Sprintf("write one of %s", list))
		return "", false
	}
	return s, true
}

// port returns a port 1..65535, or 0 after reporting the problem.
func (fp *fileParser) port(v any, field []string) int {
	var n float64
	switch x := v.(type) {
	case nil:
		return 0
	case int:
		n = float64(x)
	case int64:
		n = float64(x)
	case uint64:
		n = float64(x)
	case float64:
		n = x
	case string:
		fix := "write a number 1..65535 without quotes"
		if p, err := strconv.Atoi(x); err == nil {
			fix = fmt.Sprintf("write it without quotes: port: %d", p)
		}
		fp.fail(field, fmt.Sprintf("is the text %q, not a number", x), fix)
		return 0
	default:
		fp.fail(field, fmt.Sprintf("is %s, not a port number", yamlKind(v)), "write a number 1..65535")
		return 0
	}
	if n != math.Trunc(n) || n < 1 || n > 65535 {
		fp.fail(field, fmt.Sprintf("%v is not a port 1..65535", v), "write a whole number 1..65535 (the hub's default is 1939)")
		return 0
	}
	// YAML 1.1 reads 01939-style numbers as octal; a port never has a
	// leading zero, so say so rather than use the octal value.
	if raw := fp.raw(field, ""); len(raw) > 1 && raw[0] == '0' && raw[1] >= '0' && raw[1] <= '9' {
		fp.fail(field, fmt.Sprintf("%s has a leading zero, which YAML 1.1 reads as octal (%v)", raw, v), "write the port without a leading zero")
		return 0
	}
	return int(n)
}

// command returns the hub's argv.
func (fp *fileParser) command(v any, field []string) []string {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		fp.fail(field, fmt.Sprintf("is %s, not a list", yamlKind(v)), `write the argv as a list: command: ["/home/op/.bun/bin/bun", "/path/to/hub/src/cli.ts", "serve"]`)
		return nil
	}
	if len(list) == 0 {
		fp.fail(field, "is an empty list", "remove it to discover the hub command from PATH, or list the argv")
		return nil
	}
	var out []string
	bad := false
	for i, e := range list {
		ef := append(slices.Clone(field[:len(field)-1]), fmt.Sprintf("%s[%d]", field[len(field)-1], i))
		s, ok := e.(string)
		if !ok {
			fp.fail(ef, fmt.Sprintf("is %s (%v), not text", yamlKind(e), e), "quote every element of the command")
			bad = true
			continue
		}
		switch {
		case s == "":
			fp.fail(ef, "is empty", "remove the empty element")
			bad = true
		case strings.ContainsAny(s, "\x00\n\r"):
			fp.fail(ef, "contains a NUL or line break, which cannot go into a unit file", "remove it")
			bad = true
		case i == 0 && !filepath.IsAbs(s) && strings.Contains(s, "/"):
			fp.fail(ef, fmt.Sprintf("%q is a relative path", s), "write the program's absolute path, or a bare name to look up on PATH")
			bad = true
		}
		out = append(out, s)
	}
	if bad {
		return nil
	}
	return out
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// env returns hub.env.
func (fp *fileParser) env(v any, field []string) map[string]string {
	out := map[string]string{}
	fp.mapping(v, field, func(key string, v any, field []string) {
		if !envName.MatchString(key) {
			fp.fail(field, fmt.Sprintf("%q is not a valid environment variable name", key), "use letters, digits and underscores, not starting with a digit")
			return
		}
		if why, ok := reservedEnv[key]; ok {
			fp.fail(field, fmt.Sprintf("%s is set by the hub unit itself and cannot be overridden", key), why)
			return
		}
		if v == nil {
			fp.fail(field, "has no value", fmt.Sprintf(`write %s: "" for an empty value`, key))
			return
		}
		s, ok := fp.text(v, field)
		if !ok {
			return
		}
		if strings.ContainsAny(s, "\x00\n\r") {
			fp.fail(field, "contains a NUL or line break, which cannot go into a unit file", "put the value on one line")
			return
		}
		out[key] = s
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// duration returns a positive Go duration ("15s", "1m30s").
func (fp *fileParser) duration(v any, field []string) time.Duration {
	switch x := v.(type) {
	case nil:
		return 0
	case int, int64, uint64, float64:
		fp.fail(field, fmt.Sprintf("%v has no unit", x), fmt.Sprintf(`write a duration with a unit, such as %vs`, x))
		return 0
	}
	s, ok := fp.text(v, field)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		fp.fail(field, fmt.Sprintf("%q is not a duration", s), `write a Go duration such as 15s, 500ms or 1m30s`)
		return 0
	}
	if d <= 0 {
		fp.fail(field, fmt.Sprintf("%q is not positive", s), "write a duration greater than zero")
		return 0
	}
	return d
}

// yamlKind names the type of a decoded YAML value for a message.
func yamlKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case string:
		return "text"
	case []any:
		return "a list"
	case yaml.MapSlice, map[any]any:
		return "a mapping"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

var (
	yamlLineRE    = regexp.MustCompile(`line (\d+)`)
	yamlMessageRE = regexp.MustCompile(`^yaml: (line \d+: )?`)
)

// yamlErrorLine extracts the first "line N" from a YAML error, or 0.
func yamlErrorLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// secondDocument returns the line of a "---" that starts a second YAML
// document after content, or 0.
func (fp *fileParser) secondDocument() int {
	content := false
	for i, l := range fp.lines {
		t := strings.TrimRight(l, " \t\r")
		if t == "---" || strings.HasPrefix(t, "--- ") {
			if content {
				return i + 1
			}
			content = true // "--- value" or a leading marker starts the first document
			continue
		}
		s := strings.TrimSpace(t)
		if s != "" && !strings.HasPrefix(s, "#") && !strings.HasPrefix(s, "%") {
			content = true
		}
	}
	return 0
}

// line finds the 1-based line of a key path by scanning the text: each key
// is searched for from the line of its parent on. Element suffixes
// ("command[1]") are ignored. Best effort: 0 when the first key is not
// found; the deepest found ancestor's line otherwise.
func (fp *fileParser) line(field []string) int {
	start, found := 0, 0
	for _, key := range field {
		if i := strings.IndexByte(key, '['); i > 0 {
			key = key[:i]
		}
		hit := false
		for i := start; i < len(fp.lines); i++ {
			if keyIndex(fp.lines[i], key) >= 0 {
				found, start, hit = i+1, i, true
				break
			}
		}
		if !hit {
			return found
		}
	}
	return found
}

// boolKeyLine finds an unquoted YAML 1.1 boolean key under field.
func (fp *fileParser) boolKeyLine(field []string, v bool) int {
	words := []string{"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"}
	if !v {
		words = []string{"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"}
	}
	start := 0
	if len(field) > 0 {
		if l := fp.line(field); l > 0 {
			start = l - 1
		}
	}
	for i := start; i < len(fp.lines); i++ {
		for _, w := range words {
			if idx := keyIndex(fp.lines[i], w); idx >= 0 && (idx == 0 || fp.lines[i][idx-1] != '"' && fp.lines[i][idx-1] != '\'') {
				return i + 1
			}
		}
	}
	return fp.line(field)
}

// raw returns the unquoted text written after the key path's last key on
// its line, or def when it cannot be found.
func (fp *fileParser) raw(field []string, def string) string {
	l := fp.line(field)
	if l == 0 || len(field) == 0 {
		return def
	}
	key := field[len(field)-1]
	if i := strings.IndexByte(key, '['); i > 0 {
		return def
	}
	line := stripComment(fp.lines[l-1])
	i := keyIndex(line, key)
	if i < 0 {
		return def
	}
	rest := line[i+len(key):]
	rest = strings.TrimLeft(rest, `"'`)
	rest = strings.TrimLeft(rest, " \t")
	rest = strings.TrimPrefix(rest, ":")
	if j := strings.IndexAny(rest, ",}]"); j >= 0 {
		rest = rest[:j]
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return def
	}
	return rest
}

// keyIndex returns where key appears as a mapping key on line (block
// `key: v`, list item `- key: v`, flow `{a: 1, key: v}`, quoted or not),
// ignoring comments, or -1.
func keyIndex(line, key string) int {
	line = stripComment(line)
	for from := 0; from < len(line); {
		i := strings.Index(line[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		j := i + len(key)
		before := i
		if before > 0 && (line[before-1] == '"' || line[before-1] == '\'') {
			before--
			if j < len(line) && line[j] == line[before] {
				j++
			}
		}
		okBefore := before == 0 || strings.ContainsRune(" \t{,-?", rune(line[before-1]))
		rest := strings.TrimLeft(line[j:], " \t")
		okAfter := strings.HasPrefix(rest, ":") && (len(rest) == 1 || rest[1] == ' ' || rest[1] == '\t')
		if okBefore && okAfter {
			return i
		}
		from = i + 1
	}
	return -1
}

// stripComment drops a " #" comment (best effort: a # inside quotes counts).
func stripComment(line string) string {
	if strings.HasPrefix(strings.TrimSpace(line), "#") {
		return ""
	}
	if i := strings.Index(line, " #"); i >= 0 {
		return line[:i]
	}
	return line
}
