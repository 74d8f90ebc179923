package observe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parachute/reconcile/spec"
)

// dropInDirs are the directories systemd reads drop-ins of name from in
// scope, most specific first (systemd.unit(5), "Unit File Load Path"):
// the manager lists a loaded unit's drop-ins itself, but before the hub unit
// is installed it knows of none, and a drop-in waiting there applies the
// moment the unit is written.
func dropInDirs(scope, name, userHome, runtimeDir string) []string {
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
	// parachute-hub.service.d, then the prefix drop-ins parachute-.service.d
	// and service.d that apply to it too.
	var subs = []string{name + ".d"}
	if i := strings.IndexByte(name, '-'); i > 0 {
		subs = append(subs, name[:i+1]+filepath.Ext(name)+".d")
	}
	subs = append(subs, strings.TrimPrefix(filepath.Ext(name), ".")+".d")
	var out []string
	for _, b := range bases {
		for _, s := range subs {
			out = append(out, filepath.Join(b, s))
		}
	}
	return out
}

// scanDropIns reads every *.conf in dirs not already in have.
func scanDropIns(dirs []string, have []UnitFile) ([]UnitFile, []string) {
	var problems []string
	seen := map[string]bool{}
	for _, f := range have {
		seen[f.Path] = true
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if !strings.HasSuffix(e.Name(), ".conf") || seen[p] {
				continue
			}
			seen[p] = true
			f, problem := readUnitFile(p, nil)
			problems = appendNonEmpty(problems, problem)
			have = append(have, f)
		}
	}
	for i := range have {
		have[i].Breaks = execBreaks(have[i].Content)
	}
	return have, problems
}

// fixedPath is where systemd looks up a command given without a path.
var fixedPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// execBreaks lists the ExecCondition=, ExecStartPre= and ExecStart= lines
// of a unit fragment that are certain to keep the hub from starting: the
// program does not exist or is not executable, or it is false(1). A line
// whose failure is ignored ("-"), or whose program uses a specifier or a
// variable, is never listed: only a certainty blocks.
func execBreaks(content string) []string {
	var out []string
	for _, raw := range strings.Split(content, "\n") {
		line := strings.TrimSpace(raw)
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		if key != "ExecStartPre" && key != "ExecStart" && key != "ExecCondition" {
			continue
		}
		val = strings.TrimSpace(val)
		prefix := val[:len(val)-len(strings.TrimLeft(val, "@-:+!"))]
		cmd := strings.TrimSpace(val[len(prefix):])
		if cmd == "" || strings.Contains(prefix, "-") {
			continue
		}
		prog := firstWord(cmd)
		if strings.ContainsAny(prog, "%$") {
			continue
		}
		if filepath.Base(prog) == "false" {
			out = append(out, key+"="+cmd+" always exits 1")
			continue
		}
		if !strings.HasPrefix(prog, "/") {
			if onPath(prog, fixedPath) {
				continue
			}
			out = append(out, key+"="+cmd+": "+prog+" is not in systemd's fixed search path ("+strings.Join(fixedPath, ":")+")")
			continue
		}
		if !onPath(prog, nil) {
			why := "does not exist"
			if _, err := os.Stat(prog); err == nil {
				why = "is not an executable file"
			}
			out = append(out, key+"="+cmd+": "+prog+" "+why)
		}
	}
	return slices.Clip(out)
}

// firstWord is the first word of a command line as systemd splits it: up to
// the matching quote when it starts with one, else up to any blank.
func firstWord(cmd string) string {
	if q := cmd[0]; q == '"' || q == '\'' {
		if end := strings.IndexByte(cmd[1:], q); end >= 0 {
			return cmd[1 : 1+end]
		}
		return cmd[1:]
	}
	if end := strings.IndexAny(cmd, " \t"); end >= 0 {
		return cmd[:end]
	}
	return cmd
}
