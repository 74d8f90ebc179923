package spec

import "time"

// Model is a runtime model the reconciler can converge a box to.
type Model string

// The three runtime models of docs/design.md.
const (
	Supervised Model = "supervised" // one hub unit under systemd or launchd boots the modules
	Detached   Model = "detached"   // the hub runs as a detached session leader with hub.pid
	Absent     Model = "absent"     // nothing of the box runs and no unit is installed
)

// Manager names a service manager, or "auto" to pick by platform.
type Manager string

// Service managers.
const (
	ManagerAuto    Manager = "auto"
	ManagerSystemd Manager = "systemd"
	ManagerLaunchd Manager = "launchd"
)

// Scope is where a systemd unit is installed, or "auto" to pick by uid as the
// hub does (uid 0: system, anything else: user).
type Scope string

// Unit scopes.
const (
	ScopeAuto   Scope = "auto"
	ScopeUser   Scope = "user"
	ScopeSystem Scope = "system"
)

// DefaultHubPort is the hub's canonical port (HUB_DEFAULT_PORT upstream).
const DefaultHubPort = 1939

// Module is one services.json row kept by the hub's lenient reader, reduced to
// what the reconciler needs.
type Module struct {
	// Name is the row's name, normally the manifest name ("parachute-vault").
	Name string `json:"name"`
	// Short is shortNameForManifest(name), falling back to the name itself; it
	// names the module's directory, pidfile and log under PARACHUTE_HOME.
	Short string `json:"short"`
	// Port is the row's port.
	Port int `json:"port"`
	// Paths are the row's mount paths.
	Paths []string `json:"paths,omitempty"`
	// InstallDir is the row's installDir, when present.
	InstallDir string `json:"installDir,omitempty"`
	// Health is the row's health path ("/vault/default/health"), answered
	// on Port by the module itself.
	Health string `json:"health,omitempty"`
	// LegacyShorts are the shorts detached-era hubs used for this row name
	// (parachute-runner was "runner" before 0.7), whose pidfiles may still
	// exist on old boxes. Never includes Short.
	LegacyShorts []string `json:"legacyShorts,omitempty"`
}

// SkippedRow is a services.json row the reader dropped, with the reason.
type SkippedRow struct {
	// Index is the row's 0-based position in the file's services array.
	Index int `json:"index"`
	// Name is the row's name when it had a string one.
	Name string `json:"name,omitempty"`
	// Port is the row's port when it had a numeric one.
	Port int `json:"port,omitempty"`
	// Reason says why, in the words a person needs to fix the row.
	Reason string `json:"reason"`
	// Line is the 1-based line where the row starts in the file.
	Line int `json:"line,omitempty"`
	// Cause is which stage of the reader dropped the row.
	Cause SkipCause `json:"cause"`
}

// Manifest is services.json as the hub's lenient reader sees it.
type Manifest struct {
	// Path is the file read.
	Path string `json:"path"`
	// Exists is false when the file was missing (an empty box, not an error).
	Exists bool `json:"exists"`
	// Modules are the kept rows, in file order.
	Modules []Module `json:"modules"`
	// Skipped are the dropped rows, in file order.
	Skipped []SkippedRow `json:"skipped"`
}

// Timeouts bound the actuator's waits.
type Timeouts struct {
	Stop     time.Duration `json:"stop"`     // SIGTERM to SIGKILL, once for all stops together
	PortFree time.Duration `json:"portFree"` // how long a declared port may stay held after the stops
	Healthy  time.Duration `json:"healthy"`  // from start to a 2xx /health from the right pid
	// Modules bounds the wait, right after the run started the hub, for
	// every module the hub can start to answer its health path; it is also
	// how long after the hub's start a silent module counts as booting.
	Modules time.Duration `json:"modules"`
}

// DefaultTimeouts are used where neither the spec file nor a flag sets one.
var DefaultTimeouts = Timeouts{Stop: 15 * time.Second, PortFree: 15 * time.Second, Healthy: 30 * time.Second, Modules: 30 * time.Second}

// Desired is the whole desired state: the model to converge to and everything
// the planner needs to know about the box and the user.
type Desired struct {
	Model Model `json:"model"`
	// Home is PARACHUTE_HOME, resolved as the hub resolves it and then made
	// absolute (a relative home baked into a unit is an upstream bug).
	Home string `json:"home"`
	// HubPort is the hub's port.
	HubPort int `json:"hubPort"`
	// HubCommand is the hub's argv (normally [bun, .../src/cli.ts, serve]);
	// empty when it could not be resolved, with HubCommandProblem saying why.
	HubCommand        []string `json:"hubCommand,omitempty"`
	HubCommandProblem string   `json:"hubCommandProblem,omitempty"`
	// HubEnv are extra environment variables for the hub, after the five the
	// hub's own unit carries.
	HubEnv  map[string]string `json:"hubEnv,omitempty"`
	Manager Manager           `json:"manager"`
	Scope   Scope             `json:"scope"`
	// Timeouts bound the actuator's waits.
	Timeouts Timeouts `json:"timeouts"`
	// Manifest is services.json as read.
	Manifest Manifest `json:"manifest"`
	// User is the invoking user: name, uid and home directory (the home of
	// BUN_INSTALL and the unit PATH, not PARACHUTE_HOME).
	User User `json:"user"`
	// ExtraPath is $PARACHUTE_EXTRA_PATH at generation time.
	ExtraPath string `json:"extraPath,omitempty"`
	// Owner is who the box belongs to: the owner of Home.
	Owner Owner `json:"owner"`
	// HomeFrom says how Home was resolved (--home, the spec file,
	// $PARACHUTE_HOME or the default), for the message that names it.
	HomeFrom string `json:"homeFrom,omitempty"`
	// Textfile is where an applying run writes its metrics for
	// node_exporter's textfile collector ("" for none).
	Textfile string `json:"textfile,omitempty"`
	// HomeMissing is true when Home does not exist: a run that would start
	// a hub there is blocked rather than creating an empty box.
	HomeMissing bool `json:"homeMissing,omitempty"`
	// Untrusted lists the inputs the run may not believe (trust model rule
	// 1): services.json, the spec file or a program of the hub command that
	// someone other than the owner or root could have changed.
	Untrusted []Untrusted `json:"untrusted,omitempty"`
}

// Owner is the user the box belongs to: the owner of PARACHUTE_HOME. A run
// acts only for the owner: as the owner, or as root on a home root owns.
type Owner struct {
	UID  int    `json:"uid"`
	Name string `json:"name,omitempty"`
	// Known is false when the home does not exist yet: then the invoking
	// user stands in (there is nothing of anyone else's to protect in it).
	Known bool `json:"known"`
}

// Untrusted is an input the run may not believe, and why.
type Untrusted struct {
	// What is "services.json", "spec file" or "hub command".
	What string `json:"what"`
	// Path is the file; Why names the component and the check that failed
	// ("/home/op is writable by group (mode 0775)").
	Path string `json:"path"`
	Why  string `json:"why"`
}

// User is the account the box belongs to.
type User struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	Home string `json:"home"`
}
