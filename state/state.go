package state

import (
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/spec"
)

// Snapshot is the world as one observation saw it: plain data, JSON
// serialisable, with no handles into the system. The planner decides from a
// Snapshot alone.
type Snapshot struct {
	// Taken is when the observation started.
	Taken time.Time `json:"taken"`
	// GOOS and GOARCH are the platform observed (the planner never reads
	// runtime.GOOS: a Linux test can plan for darwin).
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	// Home is PARACHUTE_HOME.
	Home string `json:"home"`
	// User is the invoking user.
	User spec.User `json:"user"`
	// Owner is who the box belongs to: the owner of Home.
	Owner spec.Owner `json:"owner"`
	// Self and Parent are the reconciler's own pid and its parent: never signalled.
	Self   int `json:"self"`
	Parent int `json:"parent"`
	// Ancestors are the reconciler's ancestors from its parent up, as far as
	// the process table shows them: never signalled, nor their groups.
	Ancestors []int `json:"ancestors,omitempty"`
	// HubPort is the declared hub port.
	HubPort int `json:"hubPort"`
	// Modules are the services.json rows kept, in file order.
	Modules []spec.Module `json:"modules"`
	// Skipped are the rows dropped, each with its reason.
	Skipped []spec.SkippedRow `json:"skipped"`
	// Pidfiles are the hub's and every module's pidfile (including the
	// detached-era names), sorted by path. Missing files are not listed.
	Pidfiles []Pidfile `json:"pidfiles"`
	// HubPortFile is hub/run/hub.port when it exists.
	HubPortFile *PortFile `json:"hubPortFile,omitempty"`
	// Ports is one entry per declared port (the hub's first, then each
	// module's in file order; a port shared by vault mounts appears once),
	// then the port hub.port records when no row declares it.
	Ports []Port `json:"ports"`
	// Links are symlinks found on the paths the reconciler (or the service
	// manager for it) would write under Home: hub/logs/hub.log and the hub's
	// pidfile and port file. Each one blocks a plan that writes there.
	Links []Link `json:"links,omitempty"`
	// Processes are every process the snapshot refers to (port holders and
	// their ancestors, pidfile processes with their group and descendants,
	// the unit's main pid), sorted by pid, as seen at one instant.
	Processes []Process `json:"processes"`
	// Unit is the hub unit, as a file and as the manager sees it.
	Unit Unit `json:"unit"`
	// OtherScope is the hub unit in the scope we are not managing
	// (system when we are a user, user when we are root), read only.
	OtherScope *UnitFile `json:"otherScope,omitempty"`
	// StaleUnits are per-module units (parachute-<short>.service,
	// computer.parachute.<short>) that exist in any form.
	StaleUnits []StaleUnit `json:"staleUnits"`
	// Linger is whether the user has linger enabled (systemd, non-root);
	// nil when not applicable or unknown.
	Linger *bool `json:"linger,omitempty"`
	// Health is the answer of GET /health on the hub port.
	Health Health `json:"health"`
	// Idle are the declared modules nothing listened for, with what the
	// box says about them (in file order; the hub port's row excluded).
	Idle []IdleModule `json:"idle,omitempty"`
	// HubLog is the last lines of hub/logs/hub.log, read only when
	// something is not right (a module idle, the unit failed or
	// restarting, /health not 2xx). Untrusted text: shown escaped.
	HubLog []string `json:"hubLog,omitempty"`
	// Problems are things the observer could not read; each one made some
	// field above less certain. The planner treats unknowns as blockers.
	Problems []string `json:"problems,omitempty"`
}

// PidState is what a pidfile's pid turned out to be.
type PidState string

// Pidfile states.
const (
	PidInvalid PidState = "invalid" // the file does not hold a positive integer (readPid yields none)
	PidDead    PidState = "dead"    // no such process, or a zombie
	PidLive    PidState = "live"    // alive and started before the file was written: a claim the planner still has to corroborate
	PidReused  PidState = "reused"  // alive, but started after the file was written: a different process
	PidUnknown PidState = "unknown" // alive, but its details cannot be read
)

// Pidfile is one pidfile read as the hub reads it, then checked.
type Pidfile struct {
	// Service is "hub" or the module short the file belongs to.
	Service string `json:"service"`
	// Module is the services.json row name, when the file belongs to a row.
	Module string `json:"module,omitempty"`
	// Legacy is true for a detached-era name (runner, channel, agent).
	Legacy  bool      `json:"legacy,omitempty"`
	Path    string    `json:"path"`
	Pid     int       `json:"pid,omitempty"`
	ModTime time.Time `json:"modTime"`
	// Untrusted says why the file cannot be believed (owned by someone other
	// than the box's owner or root, writable by group or others, or so is a
	// directory on the way): then its claim is never evidence.
	Untrusted string   `json:"untrusted,omitempty"`
	State     PidState `json:"state"`
	// Reason explains State when it is not plain (reused, unknown, invalid).
	Reason string `json:"reason,omitempty"`
}

// PortFile is hub/run/hub.port.
type PortFile struct {
	Path string `json:"path"`
	// Port is the parsed port, 0 when the content is not 1..65535.
	Port int `json:"port"`
	// Untrusted is as for Pidfile: an untrusted file names no port of ours.
	Untrusted string `json:"untrusted,omitempty"`
}

// Link is a symlink on a path the reconciler would write.
type Link struct {
	// Path is the symlink itself; Target what it points to.
	Path   string `json:"path"`
	Target string `json:"target"`
	// For is the file whose path it is on ("hub/logs/hub.log").
	For string `json:"for"`
}

// Port is one declared port and who listens on it.
type Port struct {
	Port int `json:"port"`
	// Owner is "hub" or the services.json row name declaring the port
	// (the first, when vault mounts share it).
	Owner string `json:"owner"`
	// Short is "hub" or the declaring row's short.
	Short string `json:"short"`
	// Recorded is true for a port only hub/run/hub.port names (a detached
	// hub on a port no row declares): its hub is ours to stop, anything
	// else on it is left alone.
	Recorded bool `json:"recorded,omitempty"`
	// Listeners are the listening TCP sockets (v4 and v6) on the port, sorted
	// by address. Empty means free.
	Listeners []Listener `json:"listeners"`
}

// Label is how plans and reports name who declares the port: "hub", or
// the declaring row's short ("vault").
func (p Port) Label() string {
	if p.Owner == "hub" {
		return "hub"
	}
	return p.Short
}

// Listener is one listening socket.
type Listener struct {
	// Addr is the local address, "127.0.0.1:1939" or "[::]:1939".
	Addr string `json:"addr"`
	// Inode is the socket inode.
	Inode uint64 `json:"inode"`
	// UID is the socket's owner uid as the kernel reports it (known even when
	// the owning process is not).
	UID int `json:"uid"`
	// Pids are the processes holding the socket open, sorted. Empty means the
	// owner could not be read: held, owner unknown, never free.
	Pids []int `json:"pids"`
}

// Process is one process as seen at the snapshot's instant.
type Process struct {
	Pid  int `json:"pid"`
	PPid int `json:"ppid"`
	Pgid int `json:"pgid"`
	Sid  int `json:"sid"`
	UID  int `json:"uid"`
	// User is the name for UID when it resolves.
	User string `json:"user,omitempty"`
	// StartTicks is the start time in clock ticks since boot (/proc/PID/stat
	// field 22): with Pid, the process's identity.
	StartTicks uint64 `json:"startTicks"`
	// Started is StartTicks as wall-clock time (boot time + ticks); accurate
	// to about a second.
	Started time.Time `json:"started"`
	Argv    []string  `json:"argv"`
	Exe     string    `json:"exe,omitempty"`
	Cwd     string    `json:"cwd,omitempty"`
	// Cgroup is the unified (v2) cgroup path, as seen in our cgroup namespace.
	Cgroup string `json:"cgroup,omitempty"`
	// State is the one-letter kernel state (R, S, D, Z, T, …).
	State string `json:"state"`
	// Kernel is a kernel thread (PF_KTHREAD): never signalled.
	Kernel bool `json:"kernel,omitempty"`
	// EnvHome is PARACHUTE_HOME in the process's environment, read only for
	// processes a pidfile names ("" when unset or not read).
	EnvHome string `json:"envHome,omitempty"`
	// Unreadable lists fields that could not be read (exe, cwd, argv, …).
	Unreadable []string `json:"unreadable,omitempty"`
}

// CommandLine renders argv for a person, pasteable into a shell: an
// argument is quoted (Go syntax) when it is empty, holds a space, a quote,
// a backslash, $ or `, or a control character — ESC, CR, BEL never reach a
// terminal raw, so a stranger's argv cannot rewrite the line it is shown
// on. "" for an empty argv.
func CommandLine(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " '\"\\$`") || strings.IndexFunc(a, isControl) >= 0 {
			out[i] = strconv.Quote(a)
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Zombie reports whether the process has exited and awaits its parent: it
// counts as dead.
func (p Process) Zombie() bool { return p.State == "Z" || p.State == "X" }

// Unit is the hub unit, as a file and as the manager sees it.
type Unit struct {
	// Manager is systemd, launchd or "" when none applies.
	Manager spec.Manager `json:"manager"`
	// Available is whether the manager could be asked; Problem says why not
	// (for example "user manager unreachable: …") and Reach which kind of
	// why it is.
	Available bool   `json:"available"`
	Problem   string `json:"problem,omitempty"`
	Reach     Reach  `json:"reach,omitempty"`
	// Scope is "user" or "system" (systemd) or the launchd domain ("gui/501").
	Scope string `json:"scope"`
	// Name is "parachute-hub.service" or "computer.parachute.hub".
	Name string   `json:"name"`
	File UnitFile `json:"file"`
	// FragmentPath is the file the manager loaded the unit from, when it
	// is not File.Path (a unit shadowed by another directory).
	FragmentPath string `json:"fragmentPath,omitempty"`
	// DropIns are drop-in files applied on top of the unit
	// (parachute-hub.service.d/*.conf, e.g. from `systemctl edit`).
	DropIns []UnitFile `json:"dropIns,omitempty"`
	// The manager's view (systemd properties; launchd fills LoadState,
	// ActiveState and MainPID from launchctl print).
	LoadState        string `json:"loadState,omitempty"`
	ActiveState      string `json:"activeState,omitempty"`
	SubState         string `json:"subState,omitempty"`
	UnitFileState    string `json:"unitFileState,omitempty"`
	MainPID          int    `json:"mainPID,omitempty"`
	ControlGroup     string `json:"controlGroup,omitempty"`
	NeedDaemonReload bool   `json:"needDaemonReload,omitempty"`
	// LastExitCode is launchd's "last exit code" (0 when unknown).
	LastExitCode int `json:"lastExitCode,omitempty"`
	// Result is why the service last stopped (systemd: success,
	// exit-code, signal, core-dump, timeout, start-limit-hit, …).
	Result string `json:"result,omitempty"`
	// ExecMainCode and ExecMainStatus are how the main process last ended
	// (code 1 exited with status, 2 killed by signal status, 3 dumped);
	// NRestarts counts automatic restarts since the last manual start.
	ExecMainCode   int `json:"execMainCode,omitempty"`
	ExecMainStatus int `json:"execMainStatus,omitempty"`
	NRestarts      int `json:"nRestarts,omitempty"`
	// Journal is the last lines the manager's journal holds for the unit,
	// read only when it failed or is restarting. Untrusted text.
	Journal []string `json:"journal,omitempty"`
}

// Reach is why the hub unit's manager could not be asked, as a closed set
// a plan can act on (Unit.Problem is the text for people).
type Reach string

// Reach kinds, in the JSON contract's spelling.
const (
	Reached         Reach = ""                  // the manager answered
	NoManager       Reach = "no-manager"        // the platform has no service manager, or none is configured
	OtherPlatform   Reach = "other-platform"    // the manager asked for exists only on another platform
	NoUserManager   Reach = "no-user-manager"   // systemd: the user's manager does not run (no session, linger off)
	NoSystemManager Reach = "no-system-manager" // systemd: the system manager does not run (not PID 1)
	NoDomain        Reach = "no-domain"         // launchd: the user's gui domain does not exist (no desktop login)
	Unanswered      Reach = "unanswered"        // the manager exists, but the conversation with it failed
	ObserverFailed  Reach = "observer-failed"   // the unit observer itself failed
)

// UnitFile is a unit or plist on disk.
type UnitFile struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	// Symlink is the link target when Path is a symlink (we never write
	// through one we did not create).
	Symlink string `json:"symlink,omitempty"`
	// Content is the file's text.
	Content string `json:"content,omitempty"`
	// ParseError is set when the file exists but does not parse.
	ParseError string `json:"parseError,omitempty"`
	// Breaks lists, for a drop-in, each command it adds that is certain to
	// fail the unit's start: a program that does not exist or cannot run,
	// or false(1), without the "-" that would ignore its failure.
	Breaks []string `json:"breaks,omitempty"`
}

// StaleUnit is a per-module unit left from an older install.
type StaleUnit struct {
	Name  string `json:"name"`
	Short string `json:"short"`
	// Scope is "user", "system" or a launchd domain.
	Scope         string `json:"scope"`
	LoadState     string `json:"loadState,omitempty"`
	ActiveState   string `json:"activeState,omitempty"`
	UnitFileState string `json:"unitFileState,omitempty"`
	MainPID       int    `json:"mainPID,omitempty"`
	ControlGroup  string `json:"controlGroup,omitempty"`
	// Manageable is false when we cannot change it from here (a system unit
	// seen by a non-root user).
	Manageable bool `json:"manageable"`
	// ExecStart is what the unit runs: the manager's view when it has the
	// unit loaded, else its file's. A unit is a stale module unit of this
	// box only if this names the module (the planner decides).
	ExecStart [][]string `json:"execStart,omitempty"`
}

// Health is the answer to GET http://127.0.0.1:<hubPort>/health.
type Health struct {
	URL string `json:"url"`
	// Status is the HTTP status, 0 when nothing answered.
	Status int `json:"status"`
	// OK is a 2xx status.
	OK       bool   `json:"ok"`
	Service  string `json:"service,omitempty"`
	Version  string `json:"version,omitempty"`
	Instance string `json:"instance,omitempty"`
	DB       string `json:"db,omitempty"`
	Error    string `json:"error,omitempty"`
	// AnsweredBy is who answered, not just that something did: the owner of
	// the server side of our own connection (the holder the others descend
	// from when a fork shares it), else the owner of the listener that could
	// accept 127.0.0.1; 0 when it cannot be told.
	AnsweredBy int `json:"answeredBy,omitempty"`
}

// IdleModule is what the box says about a declared module that was not
// listening when observed: whether the hub can start it at all, and what
// the hub's supervisor last logged about it. Modules that listen are not
// listed (their Port entry says who holds them).
type IdleModule struct {
	Name  string `json:"name"`
	Short string `json:"short"`
	Port  int    `json:"port"`
	// StartCmd is the command the hub's supervisor runs for the module,
	// resolved as the supervisor resolves it; empty when none resolves.
	StartCmd []string `json:"startCmd,omitempty"`
	// Unstartable says why the hub can never start the module as the box
	// stands ("" when it can): no start command resolves.
	Unstartable string `json:"unstartable,omitempty"`
	// Missing says that the command's program is on no directory the hub's
	// PATH is likely to hold. The PATH is inferred, not read from the hub,
	// so this counts only once the module stays silent past the bound.
	Missing string `json:"missing,omitempty"`
	// LastLog is the supervisor's last line about the module in the hub's
	// log ("" when the log's tail has none).
	LastLog string `json:"lastLog,omitempty"`
	// GivenUp is true when that line is the supervisor's give-up ("crashed
	// 3x within 60000ms — giving up."): it will not restart the module
	// until the hub restarts or someone starts it.
	GivenUp bool `json:"givenUp,omitempty"`
}

// UnitProps are the properties of one systemd unit as its manager sees
// it, read over D-Bus: what the observer turns into a Unit or StaleUnit.
type UnitProps struct {
	// LoadState is loaded, not-found, bad-setting, error or masked.
	LoadState string `json:"loadState"`
	// ActiveState is active, reloading, inactive, failed, activating or deactivating.
	ActiveState string `json:"activeState"`
	// SubState is the unit type's finer state (running, dead, exited, …).
	SubState string `json:"subState"`
	// UnitFileState is enabled, disabled, static, masked, linked, … or "".
	UnitFileState string `json:"unitFileState"`
	// MainPID is the service's main process, 0 when none (services only).
	MainPID int `json:"mainPID"`
	// ControlGroup is the unit's cgroup path, "" when it has none (services only).
	ControlGroup string `json:"controlGroup"`
	// NeedDaemonReload is true when the unit file changed since it was loaded.
	NeedDaemonReload bool `json:"needDaemonReload"`
	// FragmentPath is the unit file the manager loaded, "" when none.
	FragmentPath string `json:"fragmentPath"`
	// DropInPaths are the drop-in files the manager applied on top of it.
	DropInPaths []string `json:"dropInPaths,omitempty"`
	// Result is why the service last stopped (success, exit-code, signal,
	// start-limit-hit, …; services only).
	Result string `json:"result"`
	// ExecMainCode and ExecMainStatus are how the main process last ended
	// (code 1 exited, 2 killed, 3 dumped; status the exit status or the
	// signal number); NRestarts is how often Restart= restarted it since
	// the unit was last started by hand (services only).
	ExecMainCode   int `json:"execMainCode,omitempty"`
	ExecMainStatus int `json:"execMainStatus,omitempty"`
	NRestarts      int `json:"nRestarts,omitempty"`
	// ExecStart is the argv of each of the service's ExecStart= commands,
	// as the manager loaded them (drop-ins included; services only).
	ExecStart [][]string `json:"execStart,omitempty"`
}
