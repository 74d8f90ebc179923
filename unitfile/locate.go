package unitfile

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parachute/reconcile/spec"
)

// Names and directories of the hub unit (docs/upstream-hub.md §5.1).
const (
	// SystemdName is the hub's systemd unit name.
	SystemdName = "parachute-hub.service"
	// LaunchdLabel is the hub's launchd label.
	LaunchdLabel = "computer.parachute.hub"
	// SystemUnitDir is where a system (root) unit is installed.
	SystemUnitDir = "/etc/systemd/system"
	// UserUnitDir is where a user unit is installed, relative to the user's home.
	// The hub always uses ~/.config, never $XDG_CONFIG_HOME; so do we.
	UserUnitDir = ".config/systemd/user"
	// LaunchAgentsDir is where the LaunchAgent plist lives, relative to the user's home.
	LaunchAgentsDir = "Library/LaunchAgents"
)

// KnownShorts are the module shorts whose per-module autostart units older
// installs may have left behind: the hub's knownServices() at HEAD (notes,
// app, vault, scribe, surface) plus the ones earlier releases knew (agent,
// channel, runner; docs/upstream-hub.md §9.4). Sorted.
var KnownShorts = []string{"agent", "app", "channel", "notes", "runner", "scribe", "surface", "vault"}

// Location says which service manager runs the hub unit, in which scope,
// under which name, and where its file lives.
type Location struct {
	// Manager is systemd, launchd or "" when the platform has none.
	Manager spec.Manager `json:"manager"`
	// Scope is "user" or "system" for systemd, the launchd domain ("gui/501")
	// for launchd, "" without a manager.
	Scope string `json:"scope"`
	// Name is the unit name (parachute-hub.service) or launchd label
	// (computer.parachute.hub).
	Name string `json:"name"`
	// Path is the unit file or plist.
	Path string `json:"path"`
	// Root is the directory Path is written from without following links:
	// the system unit directory itself, or the user's home for a user
	// unit or a LaunchAgent (whose directories may not exist yet).
	Root string `json:"root,omitempty"`
	// OtherScope and OtherPath are the systemd scope we do not manage and the
	// hub unit's path there (read only: a unit installed by root is invisible
	// to a user's manager and the other way round). Empty for launchd.
	OtherScope string `json:"otherScope,omitempty"`
	OtherPath  string `json:"otherPath,omitempty"`
	// Stale are the per-module unit names to look for, one per short of
	// StaleShorts, protected names left out. Sorted by short.
	Stale []StaleName `json:"stale,omitempty"`
}

// StaleName is where a per-module autostart unit of one module short would be.
type StaleName struct {
	// Short is the module short the name is made from.
	Short string `json:"short"`
	// Name is parachute-<short>.service or computer.parachute.<short>.
	Name string `json:"name"`
	// Path is the file in our scope's directory.
	Path string `json:"path"`
	// OtherPath is the file in the other systemd scope's directory (empty for launchd).
	OtherPath string `json:"otherPath,omitempty"`
}

// Locate decides where the hub unit of d lives on goos: the manager (systemd
// on linux, launchd on darwin, none elsewhere; d.Manager overrides auto but
// must be the platform's own), the scope (systemd auto: system iff uid 0;
// launchd: always gui/<uid>), the name, the paths in both systemd scopes and
// the stale per-module unit names to look for.
//
// Without a manager (any other platform with manager auto) it returns a
// Location with an empty Manager and no error: the caller reports "no service
// manager". Contradictions (launchd on linux, scope system with launchd, an
// unknown value) and a missing or relative user home are errors.
func Locate(goos string, d spec.Desired) (Location, error) {
	var loc Location
	var native spec.Manager
	switch goos {
	case "linux":
		native = spec.ManagerSystemd
	case "darwin":
		native = spec.ManagerLaunchd
	}
	switch d.Manager {
	case spec.ManagerAuto, "":
		loc.Manager = native
	case spec.ManagerSystemd, spec.ManagerLaunchd:
		if d.Manager != native {
			return loc, fmt.Errorf("locate hub unit: manager %s is not available on %s", d.Manager, goos)
		}
		loc.Manager = d.Manager
	default:
		return loc, fmt.Errorf("locate hub unit: unknown manager %q (want auto, systemd or launchd)", d.Manager)
	}
	switch d.Scope {
	case spec.ScopeAuto, "", spec.ScopeUser, spec.ScopeSystem:
	default:
		return loc, fmt.Errorf("locate hub unit: unknown scope %q (want auto, user or system)", d.Scope)
	}
	if loc.Manager == "" {
		return loc, nil
	}
	home := d.User.Home
	userHomeNeeded := loc.Manager == spec.ManagerLaunchd || d.Scope == spec.ScopeUser || (d.Scope != spec.ScopeSystem && d.User.UID != 0)
	if home == "" || !filepath.IsAbs(home) {
		if userHomeNeeded {
			return loc, fmt.Errorf("locate hub unit: home directory of user %q is %q, not an absolute path", d.User.Name, home)
		}
		home = "" // a system unit needs no home; the other scope's path is then unknown
	}

	if loc.Manager == spec.ManagerLaunchd {
		return locateLaunchd(loc, d, home)
	}
	return locateSystemd(loc, d, home), nil
}

// locateLaunchd places the hub's LaunchAgent in the user's gui domain.
func locateLaunchd(loc Location, d spec.Desired, home string) (Location, error) {
	if d.Scope == spec.ScopeSystem {
		return loc, fmt.Errorf("locate hub unit: scope system is not supported with launchd (the hub is a per-user LaunchAgent)")
	}
	loc.Scope = "gui/" + strconv.Itoa(d.User.UID)
	loc.Name = LaunchdLabel
	loc.Path = filepath.Join(home, LaunchAgentsDir, LaunchdLabel+".plist")
	loc.Root = home
	for _, short := range StaleShorts() {
		name, ok := StaleUnitName(spec.ManagerLaunchd, short)
		if !ok {
			continue
		}
		loc.Stale = append(loc.Stale, StaleName{Short: short, Name: name, Path: filepath.Join(home, LaunchAgentsDir, name+".plist")})
	}
	return loc, nil
}

// locateSystemd places the hub unit in the user's or the system's unit
// directory, and names the other scope's.
func locateSystemd(loc Location, d spec.Desired, home string) Location {
	loc.Scope = string(spec.ScopeUser)
	if d.Scope == spec.ScopeSystem || (d.Scope != spec.ScopeUser && d.User.UID == 0) {
		loc.Scope = string(spec.ScopeSystem)
	}
	dirs := map[string]string{string(spec.ScopeSystem): SystemUnitDir}
	if home != "" {
		dirs[string(spec.ScopeUser)] = filepath.Join(home, UserUnitDir)
	}
	loc.OtherScope = string(spec.ScopeUser)
	if loc.Scope == string(spec.ScopeUser) {
		loc.OtherScope = string(spec.ScopeSystem)
	}
	loc.Name = SystemdName
	loc.Path = filepath.Join(dirs[loc.Scope], SystemdName)
	loc.Root = SystemUnitDir
	if loc.Scope == string(spec.ScopeUser) {
		loc.Root = home
	}
	if dir := dirs[loc.OtherScope]; dir != "" {
		loc.OtherPath = filepath.Join(dir, SystemdName)
	}
	for _, short := range StaleShorts() {
		name, ok := StaleUnitName(spec.ManagerSystemd, short)
		if !ok {
			continue
		}
		sn := StaleName{Short: short, Name: name, Path: filepath.Join(dirs[loc.Scope], name)}
		if dir := dirs[loc.OtherScope]; dir != "" {
			sn.OtherPath = filepath.Join(dir, name)
		}
		loc.Stale = append(loc.Stale, sn)
	}
	return loc
}

// StaleShorts are the module shorts whose per-module units are looked for:
// KnownShorts, the hub's catalogue of every era, and nothing a services.json
// row adds. An operator's parachute-tunnel.service, or the reconciler's own
// parachute-reconcile-boot.service, shares the prefix and nothing else: a
// row named "tunnel" must not make it a stale module unit. The result is a
// fresh sorted slice.
func StaleShorts() []string { return slices.Clone(KnownShorts) }

// StaleUnitName is the per-module unit name of short under manager
// (parachute-<short>.service or computer.parachute.<short>); ok is false for a
// protected name (the hub's own unit and the cloudflared connector units,
// docs/upstream-hub.md §5.9), an unknown manager, or a short that cannot be part
// of a unit name.
func StaleUnitName(manager spec.Manager, short string) (name string, ok bool) {
	if !validShort(short) || short == "hub" || short == "cloudflared" ||
		strings.HasPrefix(short, "cloudflared-") || strings.HasPrefix(short, "cloudflared.") {
		return "", false
	}
	switch manager {
	case spec.ManagerSystemd:
		return "parachute-" + short + ".service", true
	case spec.ManagerLaunchd:
		return "computer.parachute." + short, true
	case spec.ManagerAuto:
		// No manager, so no unit name.
	}
	return "", false
}

// validShort reports whether short can be part of both a systemd unit name
// and a plist file name: letters, digits, '.', '_' and '-', not starting
// with '.' or '-'.
func validShort(short string) bool {
	if short == "" || len(short) > 200 || short[0] == '.' || short[0] == '-' {
		return false
	}
	for _, r := range short {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// EnrichedUnitPath is the PATH baked into the hub unit, as the hub's
// enrichedUnitPath computes it (docs/upstream-hub.md §5.7): extraPath's entries
// (colon-split, empties dropped), then <bunInstall>/bin, /usr/local/bin,
// /usr/bin, /bin, <home>/.local/bin, on darwin the Homebrew bin
// (/opt/homebrew/bin on arm64, else /usr/local/bin), and <home>/.bun/bin;
// duplicates dropped keeping the first. Entries are kept whether or not
// they exist.
func EnrichedUnitPath(bunInstall, home, goos, goarch, extraPath string) string {
	var entries []string
	for _, e := range strings.Split(extraPath, ":") {
		if e != "" {
			entries = append(entries, e)
		}
	}
	entries = append(entries, filepath.Join(bunInstall, "bin"), "/usr/local/bin", "/usr/bin", "/bin", filepath.Join(home, ".local", "bin"))
	if goos == "darwin" {
		if goarch == "arm64" {
			entries = append(entries, "/opt/homebrew/bin")
		} else {
			entries = append(entries, "/usr/local/bin")
		}
	}
	entries = append(entries, filepath.Join(home, ".bun", "bin"))
	seen := map[string]bool{}
	out := entries[:0]
	for _, e := range entries {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return strings.Join(out, ":")
}

// LogPath is the hub's log file, <home>/hub/logs/hub.log: where the detached
// hub, the launchd agent and (through StandardOutput=append:) our systemd
// unit write, and what `parachute logs` reads. Its directory must exist
// before the unit starts.
func LogPath(home string) string { return filepath.Join(home, "hub", "logs", "hub.log") }
