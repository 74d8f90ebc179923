package observe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// dropInDirs are the directories systemd reads drop-ins of name from in
// scope, most specific first (systemd.unit(5), "Unit File Load Path"):
// the manager lists a loaded unit's drop-ins itself, but before the hub unit
// is installed it knows of none, and a drop-in waiting there applies the
// moment the unit is written.
func dropInDirs(scope, name, userHome, runtimeDir string) []string {
	// parachute-hub.service.d, then the prefix drop-ins parachute-.service.d
	// and service.d that apply to it too.
	var subs = []string{name + ".d"}
	if i := strings.IndexByte(name, '-'); i > 0 {
		subs = append(subs, name[:i+1]+filepath.Ext(name)+".d")
	}
	subs = append(subs, strings.TrimPrefix(filepath.Ext(name), ".")+".d")
	var out []string
	for _, b := range unitDirs(scope, userHome, runtimeDir) {
		for _, s := range subs {
			out = append(out, filepath.Join(b, s))
		}
	}
	return out
}

// unitDirs are the directories the manager of scope loads unit files from,
// most specific first (systemd.unit(5), "Unit File Load Path"), for a user
// with userHome and runtimeDir ("" for none).
func unitDirs(scope, userHome, runtimeDir string) []string {
	var bases []string
	if scope == string(spec.ScopeUser) {
		if userHome != "" {
			bases = append(bases, filepath.Join(userHome, ".config/systemd/user.control"))
		}
		if runtimeDir != "" {
			bases = append(bases, filepath.Join(runtimeDir, "systemd/user.control"), filepath.Join(runtimeDir, "systemd/transient"))
		}
		if userHome != "" {
			bases = append(bases, filepath.Join(userHome, ".config/systemd/user"))
		}
		bases = append(bases, "/etc/systemd/user")
		if runtimeDir != "" {
			bases = append(bases, filepath.Join(runtimeDir, "systemd/user"))
		}
		bases = append(bases, "/run/systemd/user")
		if userHome != "" {
			bases = append(bases, filepath.Join(userHome, ".local/share/systemd/user"))
		}
		bases = append(bases, "/usr/local/lib/systemd/user", "/usr/lib/systemd/user")
	} else {
		bases = []string{"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
			"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}
	}
	return bases
}

// scanDropIns lists the drop-ins that apply: every *.conf in dirs (most
// specific first) whose file name no earlier directory has. As systemd
// applies drop-ins, a file shadows those of the same name in less specific
// directories (/etc over /usr/lib), which it never reads. have is what the
// manager loaded at its last reload: a file of it found in dirs is not read
// again, and one in a directory not scanned applies unless a file of its
// name in dirs shadows it.
func scanDropIns(dirs []string, have []UnitFile) ([]UnitFile, []string) {
	var problems []string
	loaded := map[string]UnitFile{}
	for _, f := range have {
		loaded[f.Path] = f
	}
	seen := map[string]bool{}
	var out []UnitFile
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".conf") || seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			p := filepath.Join(dir, e.Name())
			f, ok := loaded[p]
			if !ok {
				var problem string
				f, problem = readUnitFile(p, nil)
				problems = appendNonEmpty(problems, problem)
			}
			out = append(out, f)
		}
	}
	for _, f := range have {
		if name := filepath.Base(f.Path); !seen[name] {
			seen[name] = true
			out = append(out, f)
		}
	}
	setExecBreaks(out)
	return out, problems
}

// fixedPath is where systemd looks up a command given without a path.
var fixedPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// setExecBreaks sets each drop-in's Breaks: its ExecCondition=,
// ExecStartPre= and ExecStart= lines in [Service] that are certain to keep
// the hub from starting (the program does not exist or is not executable,
// or it is false(1)). The fragments are read as systemd applies them: in
// the order of their file names, each parsed as systemd parses it
// (unitfile.ParseSystemd: sections, comments, continuations), a command
// split as systemd splits it, and an empty assignment clearing that
// setting's earlier lines, in its own fragment or an earlier one. A line
// whose failure is ignored ("-"), or whose program uses a specifier or a
// variable, is never listed, nor is anything in a fragment that does not
// parse: only a certainty blocks.
func setExecBreaks(files []UnitFile) {
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return strings.Compare(filepath.Base(files[a].Path), filepath.Base(files[b].Path))
	})
	type line struct {
		file      int
		key, text string
	}
	var lines []line
	for _, i := range order {
		opts, err := unitfile.ParseSystemd([]byte(files[i].Content))
		if err != nil {
			continue
		}
		for _, o := range opts {
			switch {
			case o.Section != "Service", o.Name != "ExecStartPre" && o.Name != "ExecStart" && o.Name != "ExecCondition":
			case o.Value == "":
				lines = slices.DeleteFunc(lines, func(l line) bool { return l.key == o.Name })
			default:
				if b := execBreak(o.Name, o.Value); b != "" {
					lines = append(lines, line{i, o.Name, b})
				}
			}
		}
	}
	for i := range files {
		files[i].Breaks = nil
	}
	for _, l := range lines {
		files[l.file].Breaks = append(files[l.file].Breaks, l.text)
	}
}

// execBreak is why the command line val of key cannot run, or "".
func execBreak(key, val string) string {
	prefix := val[:len(val)-len(strings.TrimLeft(val, "@-:+!"))]
	cmd := strings.TrimSpace(val[len(prefix):])
	if cmd == "" || strings.Contains(prefix, "-") {
		return ""
	}
	words, err := unitfile.SplitExecStart(cmd)
	if err != nil || len(words) == 0 || strings.Contains(words[0], "$") {
		return "" // a specifier or a variable: known only to the manager
	}
	prog := words[0]
	if filepath.Base(prog) == "false" {
		return key + "=" + cmd + " always exits 1"
	}
	if !strings.HasPrefix(prog, "/") {
		if onPath(prog, fixedPath) {
			return ""
		}
		return key + "=" + cmd + ": " + prog + " is not in systemd's fixed search path (" + strings.Join(fixedPath, ":") + ")"
	}
	if !onPath(prog, nil) {
		why := "does not exist"
		if _, err := os.Stat(prog); err == nil {
			why = "is not an executable file"
		}
		return key + "=" + cmd + ": " + prog + " " + why
	}
	return ""
}
