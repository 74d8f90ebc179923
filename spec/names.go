package spec

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The hub's registries at HEAD (0.7.15, src/service-spec.ts), in the order
// shortNameForManifest consults them. Lookups are exact and case-sensitive:
// "Parachute-Vault" has no short and keeps its own name.
var (
	firstPartyFallbacks = [][2]string{{"parachute-notes", "notes"}, {"parachute-app", "app"}}
	knownModules        = [][2]string{{"parachute-vault", "vault"}, {"parachute-scribe", "scribe"}, {"parachute-surface", "surface"}}
	legacyAliases       = [][2]string{{"parachute-lens", "notes"}}
)

// ShortNameForManifest is the hub's shortNameForManifest: the module short
// for a services.json row name ("parachute-vault" → "vault"), and false for
// a name no registry knows (callers then use the name itself, as ShortName
// does).
func ShortNameForManifest(name string) (string, bool) {
	for _, table := range [][][2]string{firstPartyFallbacks, knownModules, legacyAliases} {
		for _, e := range table {
			if e[0] == name {
				return e[1], true
			}
		}
	}
	return "", false
}

// ShortName is `shortNameForManifest(name) ?? name`: the directory, pidfile
// and log name the hub uses for a row.
func ShortName(name string) string {
	if s, ok := ShortNameForManifest(name); ok {
		return s
	}
	return name
}

// KnownServices is the hub's knownServices() at HEAD: the shorts whose
// per-module units the stale-unit sweep looks for, in the hub's order.
func KnownServices() []string {
	return []string{"notes", "app", "vault", "scribe", "surface"}
}

// RetiredShorts are detached-era module shorts whose pidfile directories
// (<HOME>/<short>/run/<short>.pid) an old box may still have even though the
// hub no longer maps any row to them (runner left the registries; channel
// became agent, then agent was retired and its rows are dropped on read).
var RetiredShorts = []string{"runner", "channel", "agent"}

// LegacyShorts returns the shorts detached-era hubs used for a row name,
// whose pidfiles may survive on old boxes (docs/upstream-hub.md §9.4):
// parachute-runner was "runner" until 0.7; parachute-channel was "channel",
// then aliased to "agent"; parachute-agent was "agent". The current short is
// never included.
func LegacyShorts(name string) []string {
	var legacy []string
	switch name {
	case "parachute-runner":
		legacy = []string{"runner"}
	case "parachute-channel":
		legacy = []string{"channel", "agent"}
	case "parachute-agent":
		legacy = []string{"agent"}
	}
	short := ShortName(name)
	var out []string
	for _, s := range legacy {
		if s != short {
			out = append(out, s)
		}
	}
	return out
}

// CanonicalPort is one entry of the hub's PORT_RESERVATIONS.
type CanonicalPort struct {
	Short string `json:"short"`
	Port  int    `json:"port"`
}

// CanonicalPorts is the hub's port table (PORT_RESERVATIONS), by port. 1941,
// 1945 and 1947–1949 are unassigned.
var CanonicalPorts = []CanonicalPort{
	{"hub", 1939}, {"vault", 1940}, {"notes", 1942}, {"scribe", 1943}, {"app", 1944}, {"surface", 1946},
}

// CanonicalPortOf returns the canonical port of a short ("hub" included).
func CanonicalPortOf(short string) (int, bool) {
	for _, c := range CanonicalPorts {
		if c.Short == short {
			return c.Port, true
		}
	}
	return 0, false
}

// IsVaultName is the hub's isVaultName: rows with these names may share a
// port, because one vault process serves every vault mount.
func IsVaultName(name string) bool {
	return name == "parachute-vault" || strings.HasPrefix(name, "parachute-vault-")
}

// PidfilePath is the hub's pidPath: <home>/<service>/run/<service>.pid.
// service is "hub" or a module short that passed the manifest reader's
// safety check; no other value may be passed.
func PidfilePath(home, service string) string {
	return filepath.Join(home, service, "run", service+".pid")
}

// HubPortPath is <home>/hub/run/hub.port, where a detached hub records its
// port beside hub.pid.
func HubPortPath(home string) string { return filepath.Join(home, "hub", "run", "hub.port") }

// jsObjectPrototype are the properties every plain JavaScript object
// inherits. The hub looks row names up in plain objects (RETIRED_MODULES,
// LEGACY_MANIFEST_ALIASES), so these names find something there.
var jsObjectPrototype = map[string]bool{
	"constructor": true, "__proto__": true, "hasOwnProperty": true, "isPrototypeOf": true,
	"propertyIsEnumerable": true, "toLocaleString": true, "toString": true, "valueOf": true,
	"__defineGetter__": true, "__defineSetter__": true, "__lookupGetter__": true, "__lookupSetter__": true,
}

// MaxShort is the longest module short the reconciler follows: with
// "parachute-" and ".service" around it a unit name stays far below
// systemd's 255, and <short>.pid below NAME_MAX.
const MaxShort = 128

// ShownName is name as a message may quote it: at most 64 bytes of it (cut
// at a rune boundary) and its length when cut, so a 10 MB row name cannot
// make a 10 MB error.
func ShownName(name string) string {
	const max = 64
	if len(name) <= max {
		return strconv.Quote(name)
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(CutAtRune(name, max)), len(name))
}

// CutAtRune is s cut to at most max bytes, at a rune boundary: what every
// message that shortens a string from the box uses, so that no cut leaves
// half a character.
func CutAtRune(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// unsafeShort says why short cannot name a directory under PARACHUTE_HOME
// safely, or returns "" when it can. The hub would join it into
// <HOME>/<short>/run/<short>.pid unchecked; the reconciler reads, removes and
// signals through that path, so a name must be one plain path element that
// stays inside the home and does not collide with the home's own entries.
func unsafeShort(short string) string {
	switch {
	case len(short) > MaxShort:
		return fmt.Sprintf("is %d bytes long; names longer than %d bytes cannot name a pidfile or a unit safely (a file name has at most 255)", len(short), MaxShort)
	case short == "." || short == "..":
		return "is a relative directory reference, so its pidfile would lie outside its own directory"
	case strings.ContainsAny(short, `/\`):
		return "contains a path separator, so its pidfile would lie outside <HOME>/<name>/ (possibly outside PARACHUTE_HOME)"
	case !utf8.ValidString(short):
		return "is not valid Unicode (it holds a lone UTF-16 surrogate or invalid bytes), so it cannot name a file reliably"
	case strings.ContainsFunc(short, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains control characters (NUL, newline, …), which cannot be shown or used in a file name safely"
	case strings.HasPrefix(short, "."):
		return "starts with a dot; hidden names under PARACHUTE_HOME belong to the home itself (.archive-*, .reconcile.lock)"
	case short == "hub":
		return `is the hub's own directory: its pidfile would be <HOME>/hub/run/hub.pid, the hub's pidfile`
	}
	return ""
}
