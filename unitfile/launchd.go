package unitfile

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"howett.net/plist"
)

// launchdJob is the hub's LaunchAgent (docs/upstream-hub.md §5.4). Field order is
// the hub's, but the XML encoder sorts dictionary keys: our plist lists the
// same keys and values in alphabetical order, which launchd does not mind.
type launchdJob struct {
	Label                string            `plist:"Label"`
	ProgramArguments     []string          `plist:"ProgramArguments"`
	EnvironmentVariables map[string]string `plist:"EnvironmentVariables"`
	RunAtLoad            bool              `plist:"RunAtLoad"`
	KeepAlive            bool              `plist:"KeepAlive"`
	ThrottleInterval     int               `plist:"ThrottleInterval"`
	StandardOutPath      string            `plist:"StandardOutPath"`
	StandardErrorPath    string            `plist:"StandardErrorPath"`
}

// doctype ends the prolog the plist encoder writes; the header comment goes
// right after it, as in the hub's own plist.
const doctype = `"http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n"

// RenderLaunchd renders the hub's LaunchAgent plist in XML format: Label
// computer.parachute.hub, ProgramArguments = the command, the hub's five
// EnvironmentVariables plus h.Env, RunAtLoad, KeepAlive, ThrottleInterval 10
// (the crash-loop ceiling) and stdout and stderr appended to
// <HOME>/hub/logs/hub.log, whose directory must exist before the agent
// starts. The header comment follows the DOCTYPE. launchd expands neither
// variables nor specifiers, so values are written as they are; what XML
// cannot carry (control characters, invalid UTF-8) is rejected with an
// error wrapping ErrUnrepresentable.
func RenderLaunchd(h Hub) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("render launchd plist: %w", err)
	}
	env, err := h.environment()
	if err != nil {
		return nil, fmt.Errorf("render launchd plist: %w", err)
	}
	job := launchdJob{
		Label:                LaunchdLabel,
		ProgramArguments:     append([]string(nil), h.Command...),
		EnvironmentVariables: map[string]string{},
		RunAtLoad:            true,
		KeepAlive:            true,
		ThrottleInterval:     10,
		StandardOutPath:      LogPath(h.Home),
		StandardErrorPath:    LogPath(h.Home),
	}
	for _, e := range env {
		if err := checkText("env "+e.Name, e.Value); err != nil {
			return nil, fmt.Errorf("render launchd plist: %w", err)
		}
		job.EnvironmentVariables[e.Name] = e.Value
	}
	out, err := plist.MarshalIndent(job, plist.XMLFormat, "  ")
	if err != nil {
		return nil, fmt.Errorf("render launchd plist: %w", err)
	}
	i := bytes.Index(out, []byte(doctype))
	if i < 0 {
		return nil, fmt.Errorf("render launchd plist: encoder wrote no DOCTYPE")
	}
	i += len(doctype)
	var buf bytes.Buffer
	buf.Write(out[:i])
	buf.WriteString("<!-- " + Header + " -->\n")
	buf.Write(out[i:])
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Job is a decoded launchd plist: its top-level dictionary. Integers are
// int64, reals float64, dictionaries map[string]any, arrays []any.
type Job map[string]any

// ParseLaunchd decodes a plist (XML, binary or text format) whose top level
// must be a dictionary.
func ParseLaunchd(data []byte) (Job, error) {
	var v any
	if _, err := plist.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("parse launchd plist: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse launchd plist: top level is %T, not a dictionary", v)
	}
	return Job(normalize(m).(map[string]any)), nil
}

// normalize makes decoded values comparable: every integer becomes int64
// (the decoder yields uint64 for non-negative ones).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case int:
		return int64(x)
	}
	return v
}

// CompareLaunchd compares two plists by their decoded values and returns one
// sentence per difference, sorted by key path:
// `EnvironmentVariables.PATH: want "/a", have "/b"`. Dictionaries are
// compared key by key (their order never matters), arrays as a whole. Parse
// errors of either side are returned as the error.
func CompareLaunchd(want, got []byte) ([]string, error) {
	w, err := ParseLaunchd(want)
	if err != nil {
		return nil, fmt.Errorf("compare launchd plist: wanted plist: %w", err)
	}
	g, err := ParseLaunchd(got)
	if err != nil {
		return nil, fmt.Errorf("compare launchd plist: plist on disk: %w", err)
	}
	var diffs []string
	diffValues("", map[string]any(w), map[string]any(g), &diffs)
	return diffs, nil
}

func diffValues(path string, want, have any, diffs *[]string) {
	wm, wok := want.(map[string]any)
	hm, hok := have.(map[string]any)
	if wok && hok {
		keys := make([]string, 0, len(wm)+len(hm))
		for k := range wm {
			keys = append(keys, k)
		}
		for k := range hm {
			if _, ok := wm[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			wv, wok := wm[k]
			hv, hok := hm[k]
			switch {
			case !wok:
				*diffs = append(*diffs, p+": want none, have "+showPlist(hv))
			case !hok:
				*diffs = append(*diffs, p+": want "+showPlist(wv)+", have none")
			default:
				diffValues(p, wv, hv, diffs)
			}
		}
		return
	}
	if !reflect.DeepEqual(want, have) {
		*diffs = append(*diffs, path+": want "+showPlist(want)+", have "+showPlist(have))
	}
}

// showPlist renders a decoded plist value for a person.
func showPlist(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showPlist(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + showPlist(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// ProgramArguments returns what a plist runs: ProgramArguments, with
// Program in place of its first element when both are set (launchd's
// rule); nil when the file does not parse or names nothing.
func ProgramArguments(data []byte) []string {
	job, err := ParseLaunchd(data)
	if err != nil {
		return nil
	}
	var argv []string
	if args, ok := job["ProgramArguments"].([]any); ok {
		for _, a := range args {
			if s, ok := a.(string); ok {
				argv = append(argv, s)
			}
		}
	}
	if prog, ok := job["Program"].(string); ok && prog != "" {
		if len(argv) == 0 {
			argv = []string{prog}
		} else {
			argv[0] = prog
		}
	}
	return argv
}
