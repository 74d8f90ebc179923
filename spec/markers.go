package spec

import (
	"path/filepath"
	"slices"
	"strings"
)

// Attribution markers (DESIGN.md safety rule 2, UPSTREAM-HUB.md §7.4).
//
// A process holding a declared port that no pidfile names may be stopped
// only if its argv, exe or cwd attribute it to the owner of that port. The
// markers are the strings that count as evidence. Rules, each from an
// upstream incident:
//
//   - a bare short ("runner", "vault") is never evidence: "runner" matched a
//     CI runner;
//   - a generic runtime (bun, node, …) is never evidence: a custom
//     `bun server.ts` would otherwise attribute every bun process;
//   - a module's marker is its own name, never the broad "parachute", so a
//     sibling module on the wrong port is not attributed to the owner.
//
// Matching is case-insensitive and, beyond the upstream's plain substring
// test, bounded: the match may not run on into a longer word or path
// ("parachute-x" does not match "xparachute-x"; "/opt/m" does not match
// "/opt/m2" or "/x/opt/m"). A name may be followed by "-" or "." so that
// "parachute-vault" matches "parachute-vault-work" (vault mounts share one
// process) and "parachute-vault.exe".

// genericRuntimes are interpreters whose name says nothing about the
// program they run (orphan-attribution.ts's list).
var genericRuntimes = []string{"bun", "node", "nodejs", "deno", "python", "python2", "python3", "ruby", "sh", "bash", "zsh", "dash", "env"}

// isGenericRuntime reports whether an argv[0] or exe is a generic runtime
// (its base name, lower-cased, with any ".exe" removed).
func isGenericRuntime(arg string) bool {
	base := strings.ToLower(filepath.Base(arg))
	base = strings.TrimSuffix(base, ".exe")
	return slices.Contains(genericRuntimes, base)
}

// neverEvidence reports whether a marker can never attribute a process:
// empty, a bare module short of any era, the bare word "parachute" (every
// module and the hub carry it), a generic runtime, a name shorter than
// three characters, or a path less than two components deep ("/", "/opt").
func neverEvidence(marker string) bool {
	m := strings.ToLower(marker)
	if strings.HasPrefix(m, "/") {
		return usablePath(m) == ""
	}
	if len(m) < 3 || m == "parachute" || m == "hub" || isGenericRuntime(m) {
		return true
	}
	for _, s := range KnownServices() {
		if m == s {
			return true
		}
	}
	return slices.Contains(RetiredShorts, m) || m == "lens" || m == "claw"
}

// usablePath returns p cleaned when it is an absolute path at least two
// components deep ("/opt/m"), or "" (a relative path or "/opt" would match
// far too much).
func usablePath(p string) string {
	if !filepath.IsAbs(p) {
		return ""
	}
	p = filepath.Clean(p)
	if strings.Count(p, "/") < 2 {
		return ""
	}
	return p
}

// Markers returns the strings that attribute a process to this module: its
// manifest name lower-cased when it starts with "parachute-" (and has more
// after it); for any other name, the name lower-cased unless it is never
// evidence (a bare short such as "runner", "parachute", a generic runtime,
// shorter than three characters); and InstallDir when it is an absolute
// path at least two components deep. The result may be empty: such a
// module's orphans are attributable by pidfile only.
func (m Module) Markers() []string {
	var out []string
	name := strings.ToLower(m.Name)
	switch {
	case strings.HasPrefix(name, "parachute-"):
		if len(name) > len("parachute-") {
			out = append(out, name)
		}
	case !neverEvidence(name):
		out = append(out, name)
	}
	if dir := usablePath(m.InstallDir); dir != "" {
		out = append(out, dir)
	}
	return out
}

// HubMarkers returns the strings that attribute a process to the hub. For a
// command run by a generic runtime ([bun, <pkg>/src/cli.ts, serve], also
// through env or with runtime flags) they are the script's absolute path
// and, when the script sits in a "src" directory, the package root above it,
// so that a detached-era `bun <pkg>/src/hub-server.ts --port 1939 …` is
// attributed too. A relative script (`bun server.ts`) is no evidence and
// yields nothing. Otherwise the marker is HubCommand[0], unless it is never
// evidence (a bare "parachute" would match every module).
func (d Desired) HubMarkers() []string {
	cmd := d.HubCommand
	if len(cmd) == 0 {
		return nil
	}
	i := 0
	for i < len(cmd) && isGenericRuntime(cmd[i]) {
		i++
		// Skip runtime flags, env's NAME=value assignments and `bun run`.
		for i < len(cmd) && (strings.HasPrefix(cmd[i], "-") || (strings.Contains(cmd[i], "=") && !strings.Contains(cmd[i], "/"))) {
			i++
		}
		if i < len(cmd) && cmd[i] == "run" {
			i++
		}
	}
	if i == 0 {
		if filepath.IsAbs(cmd[0]) {
			if p := usablePath(cmd[0]); p != "" {
				return []string{p}
			}
			return nil
		}
		if neverEvidence(cmd[0]) {
			return nil
		}
		return []string{cmd[0]}
	}
	if i >= len(cmd) {
		return nil
	}
	script := usablePath(cmd[i])
	if script == "" {
		return nil
	}
	out := []string{script}
	if src := filepath.Dir(script); filepath.Base(src) == "src" {
		if root := usablePath(filepath.Dir(src)); root != "" {
			out = append(out, root)
		}
	}
	return out
}

// Attributes reports the first marker that attributes a process with this
// argv, exe and cwd: the marker occurs, case-insensitively and bounded (see
// above), in the space-joined argv or in exe; or, for an absolute-path
// marker, cwd is that directory or below it. Markers that are never
// evidence (empty, "/", bare shorts, generic runtimes) are ignored even if
// passed.
func Attributes(markers []string, argv []string, exe, cwd string) (marker string, ok bool) {
	hay := strings.ToLower(strings.Join(argv, " "))
	exeL := strings.ToLower(exe)
	cwdL := ""
	if cwd != "" {
		cwdL = strings.ToLower(filepath.Clean(cwd))
	}
	for _, m := range markers {
		if neverEvidence(m) {
			continue
		}
		isPath := strings.HasPrefix(m, "/")
		ml := strings.ToLower(m)
		if isPath {
			ml = filepath.Clean(ml)
		}
		if containsBounded(hay, ml, isPath) || containsBounded(exeL, ml, isPath) {
			return m, true
		}
		if isPath && cwdL != "" && (cwdL == ml || strings.HasPrefix(cwdL, ml+"/")) {
			return m, true
		}
	}
	return "", false
}

// containsBounded reports whether needle occurs in hay without running on
// into a longer word (names) or path element (paths).
func containsBounded(hay, needle string, isPath bool) bool {
	for from := 0; ; {
		i := strings.Index(hay[from:], needle)
		if i < 0 {
			return false
		}
		i += from
		j := i + len(needle)
		before := byte(' ')
		if i > 0 {
			before = hay[i-1]
		}
		after := byte(' ')
		if j < len(hay) {
			after = hay[j]
		}
		var okBefore, okAfter bool
		if isPath {
			// A path must start and end at a path boundary.
			okBefore = !isPathChar(before)
			okAfter = !isPathChar(after)
		} else {
			// A name may not continue a word on the left ("my-parachute-x",
			// "xparachute-x") nor on the right with a letter or digit
			// ("parachute-xy"); "-" and "." may follow.
			okBefore = !isWordChar(before) && before != '-'
			okAfter = !isWordChar(after)
		}
		if okBefore && okAfter {
			return true
		}
		from = i + 1
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

func isPathChar(c byte) bool {
	return isWordChar(c) || c == '.' || c == '-'
}
