package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parachute/reconcile/internal/boxfs"
	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
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
	// Textfile is where every applying run writes its metrics for
	// node_exporter's textfile collector ("" for none).
	Textfile string `json:"textfile,omitempty"`
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
// duplicate key, a YAML merge key (<<), a value of the wrong type or out of
// range is an *InputError naming the file, the key path, the line and the
// fix (several problems are joined with errors.Join, each an *InputError,
// in line order). Lines come from the YAML parser's node positions.
//
// YAML 1.1, which the YAML libraries of this ecosystem implement, reads
// unquoted y, n, yes, no, on, off, true and false as booleans (`desired: no`,
// `FOO: off`). sigs.k8s.io/yaml would then silently turn them back into the
// strings "true"/"false" where a string is expected, and silently merge a
// boolean key `on:` with a `"true":` key. So every plain scalar is read by
// YAML 1.1's rules (yamlValue), and a boolean or number where text is
// expected is rejected with the advice to quote it. Field names are matched
// exactly (encoding/json would accept "Desired" for "desired"). Anchors and
// aliases are allowed: an alias stands for a copy of the value it names, at
// the key it is written under, and every check applies to it there. Merge
// keys are not: they bring in keys the mapping does not show (and the
// yaml/v2 reader this file was first read with dropped them without a word).
// An empty file is a valid, empty spec.
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
	root, err := parseDocument(path, data)
	if err != nil || root == nil {
		return File{Path: path}, err
	}
	fp := &fileParser{path: path}
	f := fp.file(root)
	if err := fp.err(); err != nil {
		return File{Path: path}, err
	}
	return f, nil
}

// parseDocument returns the file's top-level mapping, nil for an empty spec
// (no document, only comments, a bare --- or null), or an *InputError: not
// YAML, more than one document, a top level that is not a mapping.
func parseDocument(path string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, syntaxError(path, data, err)
	}
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &InputError{Kind: specKind, File: path, Line: next.Line,
			Problem: "the file holds more than one YAML document (a second ---)",
			Fix:     "keep one document; YAML readers silently ignore the rest"}
	case err != io.EOF:
		return nil, syntaxError(path, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	switch v, _ := yamlValue(root); {
	case v == nil:
		return nil, nil
	case root.Kind != yaml.MappingNode:
		return nil, &InputError{Kind: specKind, File: path, Line: root.Line,
			Problem: fmt.Sprintf("the top level is %s, not a mapping of keys", yamlKind(v)),
			Fix:     "write keys such as `desired: supervised` at the top level"}
	}
	return root, nil
}

// syntaxError reports text that is not YAML. The parser's message is the
// only place its position is given. yaml/v3 numbers a parser error's line
// from 0 and at the start of the enclosing collection (an unclosed [ on
// line 2 is "line 1"); yaml/v2, the parser sigs.k8s.io/yaml wraps, names
// the line where it found the problem, so its message is used whenever it
// refuses the text too.
func syntaxError(path string, data []byte, err error) *InputError {
	if err2 := yamlv2.Unmarshal(data, new(any)); err2 != nil {
		err = err2
	}
	return &InputError{Kind: specKind, File: path, Line: yamlErrorLine(err),
		Problem: "not valid YAML: " + yamlMessageRE().ReplaceAllString(err.Error(), ""),
		Fix:     "repair the YAML near that line (indentation with spaces, a colon after each key)"}
}

// fileParser walks the document's nodes and collects problems.
type fileParser struct {
	path string
	errs []*InputError
}

// entry is one `key: value` of a mapping (or one element of a list).
type entry struct {
	// field is the key path, such as [hub port] or [hub command[1]].
	field []string
	// at is the node problems are reported at: the key, or the element.
	at *yaml.Node
	// value is the value, an alias replaced by the node it names.
	value *yaml.Node
}

// name is the entry's own key, the last of its path.
func (e entry) name() string { return e.field[len(e.field)-1] }

// file reads the top-level keys.
func (fp *fileParser) file(root *yaml.Node) File {
	var f File
	fp.mapping(entry{at: root, value: root}, func(e entry) {
		switch e.name() {
		case "desired":
			if s, ok := fp.enum(e, modelValues); ok {
				f.Desired = Model(s)
			}
		case "home":
			f.Home = fp.home(e)
		case "hub":
			f.Hub = fp.hub(e)
		case "manager":
			if s, ok := fp.enum(e, managerValues); ok {
				f.Manager = Manager(s)
			}
		case "scope":
			if s, ok := fp.enum(e, scopeValues); ok {
				f.Scope = Scope(s)
			}
		case "timeouts":
			f.Timeouts = fp.timeouts(e)
		case "textfile":
			f.Textfile = fp.textfile(e)
		default:
			fp.unknown(e, []string{"desired", "home", "hub", "manager", "scope", "timeouts", "textfile"})
		}
	})
	f.Path = fp.path
	return f
}

// home returns the home key's directory, cleaned, or "" after reporting
// why it cannot be one.
func (fp *fileParser) home(e entry) string {
	s, ok := fp.text(e)
	switch {
	case !ok:
	case s == "":
		fp.fail(e, "is empty", "remove the key to use $PARACHUTE_HOME or ~/.parachute, or write an absolute directory")
	case strings.HasPrefix(s, "~"):
		fp.fail(e, fmt.Sprintf("%q starts with ~, which is not expanded (the hub does not expand it either)", s), "write the full absolute path, such as /home/op/.parachute")
	case !filepath.IsAbs(s):
		fp.fail(e, fmt.Sprintf("%q is not an absolute path", s), "write the full absolute path (a relative home would depend on where the reconciler runs from)")
	default:
		return filepath.Clean(s)
	}
	return ""
}

// textfile returns the textfile key's path, cleaned, or "" after reporting
// why it cannot be one.
func (fp *fileParser) textfile(e entry) string {
	s, ok := fp.text(e)
	switch {
	case !ok:
	case !filepath.IsAbs(s) || !strings.HasSuffix(s, ".prom"):
		fp.fail(e, fmt.Sprintf("%q is not an absolute path ending in .prom", s), "write the file node_exporter's --collector.textfile.directory reads, such as /var/lib/prometheus/node-exporter/parachute.prom")
	default:
		return filepath.Clean(s)
	}
	return ""
}

// hub reads the hub section.
func (fp *fileParser) hub(e entry) FileHub {
	var h FileHub
	fp.mapping(e, func(e entry) {
		switch e.name() {
		case "port":
			h.Port = fp.port(e)
		case "command":
			h.Command = fp.command(e)
		case "env":
			h.Env = fp.env(e)
		default:
			fp.unknown(e, []string{"port", "command", "env"})
		}
	})
	return h
}

// timeouts reads the timeouts section.
func (fp *fileParser) timeouts(e entry) FileTimeouts {
	var t FileTimeouts
	fp.mapping(e, func(e entry) {
		switch e.name() {
		case "stop":
			t.Stop = fp.duration(e)
		case "portFree":
			t.PortFree = fp.duration(e)
		case "healthy":
			t.Healthy = fp.duration(e)
		case "modules":
			t.Modules = fp.duration(e)
		default:
			fp.unknown(e, []string{"stop", "portFree", "healthy", "modules"})
		}
	})
	return t
}

func (fp *fileParser) fail(e entry, problem, fix string) {
	fp.failAt(e.at.Line, e.field, problem, fix)
}

func (fp *fileParser) failAt(line int, field []string, problem, fix string) {
	fp.errs = append(fp.errs, &InputError{
		Kind: specKind, File: fp.path, Field: strings.Join(field, "."),
		Line: line, Problem: problem, Fix: fix,
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
// merge keys, non-string keys (YAML booleans, numbers) and duplicate keys
// (reported at the first one's line). A null value is an empty mapping.
func (fp *fileParser) mapping(e entry, each func(entry)) {
	v, ok := fp.value(e)
	if !ok || v == nil {
		return
	}
	if e.value.Kind != yaml.MappingNode {
		fp.fail(e, fmt.Sprintf("is %s, not a mapping of keys", yamlKind(v)), "write it as indented `key: value` lines under it")
		return
	}
	first := map[string]int{} // key → line of its first occurrence
	for i := 0; i+1 < len(e.value.Content); i += 2 {
		k, val := e.value.Content[i], resolveAlias(e.value.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			fp.failAt(k.Line, e.field, fmt.Sprintf("a YAML merge key (<<) %s: the keys it brings in are not written where they take effect", where(e.field)),
				"write the keys out; merge keys are not supported")
			continue
		}
		key, ok := fp.key(k, e.field)
		if !ok {
			continue
		}
		field := append(slices.Clone(e.field), key)
		if line, dup := first[key]; dup {
			fp.failAt(line, field, fmt.Sprintf("appears twice (again on line %d)", k.Line), "keep one of them")
			continue
		}
		first[key] = k.Line
		each(entry{field: field, at: k, value: val})
	}
}

// where names a mapping by its key path for a message.
func where(field []string) string {
	if len(field) == 0 {
		return "at the top level"
	}
	return "under " + strings.Join(field, ".")
}

// key returns a mapping key as a string, or reports why it is not one.
func (fp *fileParser) key(k *yaml.Node, field []string) (string, bool) {
	at := entry{field: field, at: k, value: resolveAlias(k)}
	v, ok := fp.value(at)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		fp.fail(at, fmt.Sprintf("a key %s is the YAML 1.1 boolean %v (unquoted y/n/yes/no/on/off/true/false are booleans)", where(field), v),
			`quote the key, such as "on": …`)
	case nil:
		fp.fail(at, "has an empty (null) key", "give every entry a key")
	default:
		name := fmt.Sprint(v)
		if _, ok := v.(*yaml.Node); ok {
			name = k.Value
		}
		fp.failAt(k.Line, append(slices.Clone(field), name), fmt.Sprintf("the key %v is %s, not text", name, yamlKind(v)), "quote the key")
	}
	return "", false
}

// unknown reports an unknown key, suggesting the known one it resembles.
func (fp *fileParser) unknown(e entry, known []string) {
	key := e.name()
	fix := fmt.Sprintf("remove it; the keys %s are %s", where(e.field[:len(e.field)-1]), strings.Join(known, ", "))
	for _, k := range known {
		if strings.EqualFold(k, key) {
			fix = fmt.Sprintf("keys are case-sensitive: write %q", k)
		}
	}
	fp.fail(e, fmt.Sprintf("unknown key %q", key), fix)
}

// value is the entry's value as yamlValue reads it; false after reporting
// a scalar that does not decode (a wrong explicit tag, such as !!int abc).
func (fp *fileParser) value(e entry) (any, bool) {
	v, err := yamlValue(e.value)
	if err != nil {
		fp.fail(e, "not valid YAML: "+yamlMessageRE().ReplaceAllString(err.Error(), ""), "repair the value, or remove its tag")
		return nil, false
	}
	return v, true
}

// text returns a string value. A YAML boolean or number where text is
// expected is an error with the advice to quote it; null is "not set".
func (fp *fileParser) text(e entry) (string, bool) {
	v, ok := fp.value(e)
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		fp.fail(e, fmt.Sprintf("is the YAML 1.1 boolean %v (from unquoted %s), not text", x, e.value.Value),
			fmt.Sprintf("quote it: %s: %q", e.name(), e.value.Value))
	case int, int64, uint64, float64:
		fp.fail(e, fmt.Sprintf("is the number %v (from unquoted %s), not text", x, e.value.Value),
			fmt.Sprintf("quote it: %s: %q", e.name(), e.value.Value))
	default:
		fp.fail(e, fmt.Sprintf("is %s, not text", yamlKind(v)), "write a single quoted value")
	}
	return "", false
}

// enum returns a value that must be one of values.
func (fp *fileParser) enum(e entry, values []string) (string, bool) {
	list := strings.Join(values, ", ")
	v, ok := fp.value(e)
	if !ok {
		return "", false
	}
	if b, ok := v.(bool); ok {
		fp.fail(e, fmt.Sprintf("is the YAML 1.1 boolean %v (from unquoted %s), not one of %s", b, e.value.Value, list),
			fmt.Sprintf("write one of %s", list))
		return "", false
	}
	s, ok := fp.text(e)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		fp.fail(e, fmt.Sprintf("%q is not one of %s", s, list), fmt.Sprintf("write one of %s", list))
		return "", false
	}
	return s, true
}

// port returns a port 1..65535, or 0 after reporting the problem.
func (fp *fileParser) port(e entry) int {
	v, ok := fp.value(e)
	if !ok {
		return 0
	}
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
		fp.fail(e, fmt.Sprintf("is the text %q, not a number", x), fix)
		return 0
	default:
		fp.fail(e, fmt.Sprintf("is %s, not a port number", yamlKind(v)), "write a number 1..65535")
		return 0
	}
	if n != math.Trunc(n) || n < 1 || n > 65535 {
		fp.fail(e, fmt.Sprintf("%v is not a port 1..65535", v), "write a whole number 1..65535 (the hub's default is 1939)")
		return 0
	}
	// YAML 1.1 reads 01939-style numbers as octal; a port never has a
	// leading zero, so say so rather than use the octal value.
	if raw := e.value.Value; len(raw) > 1 && raw[0] == '0' && raw[1] >= '0' && raw[1] <= '9' {
		fp.fail(e, fmt.Sprintf("%s has a leading zero, which YAML 1.1 reads as octal (%v)", raw, v), "write the port without a leading zero")
		return 0
	}
	return int(n)
}

// command returns the hub's argv.
func (fp *fileParser) command(e entry) []string {
	v, ok := fp.value(e)
	if !ok || v == nil {
		return nil
	}
	if e.value.Kind != yaml.SequenceNode {
		fp.fail(e, fmt.Sprintf("is %s, not a list", yamlKind(v)), `write the argv as a list: command: ["/home/op/.bun/bin/bun", "/path/to/hub/src/cli.ts", "serve"]`)
		return nil
	}
	if len(e.value.Content) == 0 {
		fp.fail(e, "is an empty list", "remove it to discover the hub command from PATH, or list the argv")
		return nil
	}
	var out []string
	bad := false
	for i, n := range e.value.Content {
		el := entry{field: append(slices.Clone(e.field[:len(e.field)-1]), fmt.Sprintf("%s[%d]", e.name(), i)), at: n, value: resolveAlias(n)}
		x, ok := fp.value(el)
		if !ok {
			bad = true
			continue
		}
		s, ok := x.(string)
		if !ok {
			problem := fmt.Sprintf("is %s (%v), not text", yamlKind(x), x)
			if _, ok := x.(*yaml.Node); ok {
				problem = fmt.Sprintf("is %s, not text", yamlKind(x))
			}
			fp.fail(el, problem, "quote every element of the command")
			bad = true
			continue
		}
		switch {
		case s == "":
			fp.fail(el, "is empty", "remove the empty element")
			bad = true
		case strings.ContainsAny(s, "\x00\n\r"):
			fp.fail(el, "contains a NUL or line break, which cannot go into a unit file", "remove it")
			bad = true
		case i == 0 && !filepath.IsAbs(s) && strings.Contains(s, "/"):
			fp.fail(el, fmt.Sprintf("%q is a relative path", s), "write the program's absolute path, or a bare name to look up on PATH")
			bad = true
		}
		out = append(out, s)
	}
	if bad {
		return nil
	}
	return out
}

// envName reports whether key is a portable environment variable name:
// [A-Za-z_][A-Za-z0-9_]*.
func envName(key string) bool {
	for i, c := range key {
		letter := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return key != ""
}

// env returns hub.env.
func (fp *fileParser) env(e entry) map[string]string {
	out := map[string]string{}
	fp.mapping(e, func(e entry) {
		key := e.name()
		if !envName(key) {
			fp.fail(e, fmt.Sprintf("%q is not a valid environment variable name", key), "use letters, digits and underscores, not starting with a digit")
			return
		}
		if why, ok := reservedEnv[key]; ok {
			fp.fail(e, fmt.Sprintf("%s is set by the hub unit itself and cannot be overridden", key), why)
			return
		}
		if v, ok := fp.value(e); !ok {
			return
		} else if v == nil {
			fp.fail(e, "has no value", fmt.Sprintf(`write %s: "" for an empty value`, key))
			return
		}
		s, ok := fp.text(e)
		if !ok {
			return
		}
		if strings.ContainsAny(s, "\x00\n\r") {
			fp.fail(e, "contains a NUL or line break, which cannot go into a unit file", "put the value on one line")
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
func (fp *fileParser) duration(e entry) time.Duration {
	v, ok := fp.value(e)
	if !ok {
		return 0
	}
	switch x := v.(type) {
	case nil:
		return 0
	case int, int64, uint64, float64:
		fp.fail(e, fmt.Sprintf("%v has no unit", x), fmt.Sprintf(`write a duration with a unit, such as %vs`, x))
		return 0
	}
	s, ok := fp.text(e)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		fp.fail(e, fmt.Sprintf("%q is not a duration", s), `write a Go duration such as 15s, 500ms or 1m30s`)
		return 0
	}
	if d <= 0 {
		fp.fail(e, fmt.Sprintf("%q is not positive", s), "write a duration greater than zero")
		return 0
	}
	return d
}

// yaml11Bools are the plain scalars YAML 1.1 reads as booleans (the
// resolve table of go.yaml.in/yaml/v2). yaml/v3 follows YAML 1.2, where
// only the true and false forms are.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"true": true, "True": true, "TRUE": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"false": false, "False": false, "FALSE": false, "off": false, "Off": false, "OFF": false,
}

// yamlValue decodes a scalar node as YAML 1.1 (go.yaml.in/yaml/v2, which
// sigs.k8s.io/yaml wraps) reads it into an any: nil, bool, int, int64,
// uint64, float64 or string. Where yaml/v3 differs for a plain (unquoted,
// untagged) scalar, 1.1 wins: the words in yaml11Bools are booleans, and a
// timestamp stays text. A mapping or list is returned as its node.
func yamlValue(n *yaml.Node) (any, error) {
	if n.Kind != yaml.ScalarNode {
		return n, nil
	}
	if n.Style == 0 {
		if b, ok := yaml11Bools[n.Value]; ok {
			return b, nil
		}
		if n.ShortTag() == "!!timestamp" {
			return n.Value, nil
		}
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// resolveAlias returns the node an alias names (n itself when it is not
// one).
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// yamlKind names the type of a value yamlValue returned, for a message.
func yamlKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case string:
		return "text"
	case *yaml.Node:
		if v.Kind == yaml.SequenceNode {
			return "a list"
		}
		return "a mapping"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// The YAML error patterns are compiled on first use: only a file that does
// not parse needs them, and every run would pay for compiling them.
var (
	yamlLineRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+)`) })
	yamlMessageRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (line \d+: )?`) })
)

// yamlErrorLine extracts the first "line N" from a YAML error, or 0.
func yamlErrorLine(err error) int {
	m := yamlLineRE().FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
