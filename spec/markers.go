package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Attribution markers: what in a process's argv, exe or cwd counts as
// evidence that it belongs to one module of the box, or to the hub (the
// trust model's rule 3, docs/design.md).
//
// A marker matches whole path components, never a substring:
//
//   - a name ("parachute-vault") matches an argv element, exe or cwd one of
//     whose "/"-separated components is exactly that name, so argv[0]
//     "parachute-vault", "/home/op/.bun/bin/parachute-vault" and
//     "…/node_modules/parachute-vault/src/cli.ts" match, while
//     "/srv/tools/parachute-notes-backup/server.py" does not match
//     "parachute-notes";
//   - a package ("@openparachute/hub") matches two consecutive components;
//   - a path ("/opt/m", an installDir or the hub's script) matches an
//     absolute argv element or exe that is the path or lies below it, and
//     the cwd only when the marker says so (a module's installDir is the
//     working directory its supervisor gives it; the hub has none).
//
// Never evidence, whatever a services.json row says: the word "parachute",
// a bare module short of any era ("runner" matched a CI runner upstream), a
// generic runtime ("bun"), names shorter than three characters, paths less
// than two components deep, and PARACHUTE_HOME or any directory above it
// (every shell in the box's directory would match). Matching is
// case-insensitive, as upstream's.

// Marker is one piece of attribution evidence.
type Marker struct {
	// Value is a name ("parachute-vault"), a package ("@openparachute/hub")
	// or an absolute path ("/opt/m").
	Value string `json:"value"`
	// Cwd is whether a working directory at or below Value (a path) counts.
	Cwd bool `json:"cwd,omitempty"`
}

// HubPackage is the hub's npm package: every era's hub process runs a
// script inside it (src/hub-server.ts detached, src/cli.ts serve under a
// unit), wherever bun installed it.
const HubPackage = "@openparachute/hub"

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

// neverEvidence reports whether a marker value can never attribute a
// process on its own (see the package comment above).
func neverEvidence(value string) bool {
	m := strings.ToLower(value)
	switch {
	case strings.HasPrefix(m, "/"):
		return usablePath(m) == ""
	case strings.Contains(m, "/"):
		// A package: "@scope/name", both parts non-empty.
		scope, name, ok := strings.Cut(m, "/")
		return !ok || !strings.HasPrefix(scope, "@") || len(scope) < 2 || name == "" || strings.Contains(name, "/")
	}
	if len(m) < 3 || m == "parachute" || m == "hub" || isGenericRuntime(m) {
		return true
	}
	return slices.Contains(KnownServices(), m) || slices.Contains(RetiredShorts, m) || m == "lens" || m == "claw"
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

// Markers returns the evidence that attributes a process to this module:
//
//   - its manifest name lower-cased when it starts with "parachute-" (and
//     has more after it), or any other name that is not "never evidence";
//   - for a vault mount ("parachute-vault-work"), also "parachute-vault":
//     one vault process serves every mount;
//   - for a first-party module ("parachute-notes"), its npm package
//     ("@openparachute/notes"), which its command names even when the hub
//     package runs it (bundle-serve.ts --package @openparachute/notes);
//   - its installDir, when an absolute path at least two components deep,
//     also as a working directory.
//
// The result may be empty: such a row's processes are ours only through a
// pidfile corroborated by its port or environment.
func (m Module) Markers() []Marker {
	var out []Marker
	name := strings.ToLower(m.Name)
	if !neverEvidence(name) && !strings.Contains(name, "/") && name != "parachute-" {
		out = append(out, Marker{Value: name})
	}
	if strings.HasPrefix(name, "parachute-vault-") {
		out = append(out, Marker{Value: "parachute-vault"})
	}
	if short, ok := ShortNameForManifest(m.Name); ok && slices.Contains(KnownServices(), short) {
		out = append(out, Marker{Value: "@openparachute/" + short})
	}
	if dir := usablePath(m.InstallDir); dir != "" {
		out = append(out, Marker{Value: dir, Cwd: true})
	}
	return out
}

// HubMarkers returns the evidence that attributes a process to the hub:
// the hub's package (HubPackage), and from the configured command, for one
// run by a generic runtime ([bun, <pkg>/src/cli.ts, serve], also through
// env or with runtime flags), the script's absolute path and, when the
// script sits in a "src" directory, the package root above it (so a
// detached-era `bun <pkg>/src/hub-server.ts` matches too); for any other
// command its absolute program path. A relative script (`bun server.ts`)
// is no evidence. The working directory never is: a hub runs wherever it
// was started from.
func (d Desired) HubMarkers() []Marker {
	out := []Marker{{Value: HubPackage}}
	cmd := d.HubCommand
	if len(cmd) == 0 {
		return out
	}
	i := programIndex(cmd)
	if i >= len(cmd) {
		return out
	}
	if p := usablePath(cmd[i]); p != "" {
		out = append(out, Marker{Value: p})
		if i > 0 {
			if src := filepath.Dir(p); filepath.Base(src) == "src" {
				if root := usablePath(filepath.Dir(src)); root != "" {
					out = append(out, Marker{Value: root})
				}
			}
		}
	}
	return out
}

// programIndex is the index in argv of what the command runs: argv[0],
// or, past generic runtimes (also through env), their flags, env's
// NAME=value assignments and `bun run`, the script they load; len(argv)
// when there is none.
func programIndex(argv []string) int {
	i := 0
	for i < len(argv) && isGenericRuntime(argv[i]) {
		i++
		for i < len(argv) && (strings.HasPrefix(argv[i], "-") || (strings.Contains(argv[i], "=") && !strings.Contains(argv[i], "/"))) {
			i++
		}
		if i < len(argv) && argv[i] == "run" {
			i++
		}
	}
	return i
}

// Program is the part of argv that says what a process runs: up to and
// including the script a generic runtime loads (see programIndex), without
// the arguments it is given. `vim …/@openparachute/hub/src/cli.ts` runs
// vim; `bun …/@openparachute/hub/src/cli.ts serve` runs the hub.
func Program(argv []string) []string {
	return argv[:min(programIndex(argv)+1, len(argv))]
}

// Match is one marker found in one field of a process.
type Match struct {
	Marker Marker
	// Field is where it was found: "argv[N]", "exe" or "cwd".
	Field string
	// Value is that field's text.
	Value string
}

// String says where the marker was found, for a plan's evidence:
// `argv[1] "/x/parachute-vault" names "parachute-vault"`.
func (m Match) String() string {
	return fmt.Sprintf("%s %q names %q", m.Field, m.Value, m.Marker.Value)
}

// Attributes reports the first of markers found in a process with this
// argv, exe and cwd, under the rules above. Markers that are never
// evidence, and paths equal to or above the box's home (when home is not
// ""), are ignored even if passed.
func Attributes(markers []Marker, home string, argv []string, exe, cwd string) (Match, bool) {
	for _, m := range markers {
		if !usableMarker(m.Value, home) {
			continue
		}
		for i, a := range argv {
			if matches(m, a) {
				return Match{Marker: m, Field: fmt.Sprintf("argv[%d]", i), Value: a}, true
			}
		}
		if exe != "" && matches(m, exe) {
			return Match{Marker: m, Field: "exe", Value: exe}, true
		}
		if m.Cwd && cwd != "" && strings.HasPrefix(m.Value, "/") && below(cwd, m.Value) {
			return Match{Marker: m, Field: "cwd", Value: cwd}, true
		}
	}
	return Match{}, false
}

// usableMarker reports whether value may serve as evidence for a box whose
// home is home.
func usableMarker(value, home string) bool {
	if neverEvidence(value) {
		return false
	}
	if home != "" && strings.HasPrefix(value, "/") && below(home, value) {
		return false // the home, or a directory above it
	}
	return true
}

// matches reports whether marker m is found in one argv element, exe path
// or "--flag=value" element a.
func matches(m Marker, a string) bool {
	if strings.HasPrefix(a, "-") {
		if _, v, ok := strings.Cut(a, "="); ok {
			a = v
		}
	}
	if strings.HasPrefix(m.Value, "/") {
		return strings.HasPrefix(a, "/") && below(a, m.Value)
	}
	want := strings.Split(strings.ToLower(m.Value), "/")
	parts := strings.Split(strings.ToLower(a), "/")
	for i := 0; i+len(want) <= len(parts); i++ {
		if slices.Equal(parts[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

// below reports whether path p is dir or lies below it, compared
// case-insensitively component by component.
func below(p, dir string) bool {
	p = strings.ToLower(filepath.Clean(p))
	dir = strings.ToLower(filepath.Clean(dir))
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}
