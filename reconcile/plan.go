package reconcile

import (
	"slices"

	"github.com/parachute/reconcile/spec"
)

// Schema is the version of the JSON document `parachute reconcile` prints.
const Schema = "parachute.reconcile/v1"

// Action is the kind of a step. The names are part of the JSON contract.
type Action string

// Step kinds, in the JSON contract's spelling.
const (
	WriteUnit     Action = "write-unit"     // write the hub unit/plist (not start it); daemon-reload; linger
	Stop          Action = "stop"           // SIGTERM (then SIGKILL after the grace period) a process or its group
	RemovePidfile Action = "remove-pidfile" // delete a pidfile (or hub.port) whose process is gone
	DisableUnit   Action = "disable-unit"   // stop and disable a stale per-module unit
	WaitPortFree  Action = "wait-port-free" // wait until no process outside the hub unit holds the port
	StartUnit     Action = "start-unit"     // enable and start the hub unit
	WaitHealthy   Action = "wait-healthy"   // wait for a 2xx /health answered by the right process
	StopUnit      Action = "stop-unit"      // stop and disable the hub unit
	RemoveUnit    Action = "remove-unit"    // delete the hub unit file; daemon-reload
	StartDetached Action = "start-detached" // start the hub command as a detached session leader
	WaitModules   Action = "wait-modules"   // wait, bounded, for every module the hub can start to answer its health path
)

// actions is every step kind, in the order a plan lists them.
var actions = []Action{WriteUnit, StopUnit, RemoveUnit, DisableUnit, Stop, RemovePidfile, WaitPortFree,
	StartUnit, StartDetached, WaitHealthy, WaitModules}

// Actions returns every step kind, in the order a plan lists them (a
// summary that counts steps by kind reads in that order).
func Actions() []Action { return slices.Clone(actions) }

// Step is one ordered change. Fields beyond N, Action, Target and Reason are
// set only for the kinds that need them.
type Step struct {
	N      int    `json:"n"`
	Action Action `json:"action"`
	// Target names what the step acts on, for people: "module vault",
	// "hub unit parachute-hub.service", "port 1940".
	Target string `json:"target"`
	// Reason says why the step is needed, in a sentence.
	Reason string `json:"reason"`

	// Pid, Pgid and StartTicks identify a process for stop: the actuator
	// checks StartTicks again just before signalling. Pgid is set when the
	// whole group is signalled (the pid leads it). For remove-pidfile, Pid
	// is the process that must be gone first; for a detached wait-healthy,
	// the hub hub.pid named when observed, whose tree must answer unless
	// the run starts a new one.
	Pid        int    `json:"pid,omitempty"`
	Pgid       int    `json:"pgid,omitempty"`
	StartTicks uint64 `json:"startTicks,omitempty"`
	// Port is the port for wait-port-free (and the hub port for wait-healthy).
	Port int `json:"port,omitempty"`
	// Path is the file for write-unit, start-unit, remove-unit and
	// remove-pidfile (start-unit: the unit file the manager loads).
	Path string `json:"path,omitempty"`
	// Under is the directory Path is reached from without following a
	// symlink at any component (the unit directory's base, or the box's
	// home); the actuator refuses a link anywhere below it.
	Under string `json:"under,omitempty"`
	// Content is the full file write-unit writes.
	Content string `json:"content,omitempty"`
	// Unit is the unit name (systemd) or label (launchd) for unit steps.
	Unit string `json:"unit,omitempty"`
	// Scope is "user"/"system" or the launchd domain for unit steps.
	Scope string `json:"scope,omitempty"`
	// Linger asks write-unit to enable linger for User (systemd user units).
	Linger bool   `json:"linger,omitempty"`
	User   string `json:"user,omitempty"`
	// Reload asks write-unit to have the manager re-read its unit files
	// afterwards (systemd daemon-reload): the manager has the unit loaded
	// and the file changes, or it has not loaded the file on disk yet. A
	// fresh install needs none: the manager reads the file at the start.
	Reload bool `json:"reload,omitempty"`
	// Members is who belonged to the hub unit when the world was observed,
	// for wait-port-free and wait-healthy: a holder inside the unit is the
	// unit's, not a leftover. wait-healthy refreshes it from the manager.
	Members *Members `json:"members,omitempty"`
	// Argv, Env, Dir and Log describe start-detached. Dir is the box's
	// home, below which Log, Pidfile and PortFile lie; write-unit also
	// carries Dir and Log: it creates the hub's log before the manager
	// (root, for a system unit) appends to it.
	Argv []string `json:"argv,omitempty"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	Log  string   `json:"log,omitempty"`
	// Pidfile and PortFile are where start-detached records the hub.
	Pidfile  string `json:"pidfile,omitempty"`
	PortFile string `json:"portfile,omitempty"`
	// Modules are what wait-modules waits for: every declared module, each
	// to answer its health path, be found unstartable or given up on (Log
	// is the hub's log, where the supervisor says so).
	Modules []spec.Module `json:"modules,omitempty"`
}

// Members says which processes belong to the hub unit: under systemd
// those in its control group, under launchd the job's main process and its
// descendants.
type Members struct {
	Manager      spec.Manager `json:"manager,omitempty"`
	ControlGroup string       `json:"controlGroup,omitempty"`
	MainPID      int          `json:"mainPID,omitempty"`
}

// ModuleState is what a declared module is doing under a running hub.
type ModuleState string

// Module states, in the JSON contract's spelling.
const (
	ModuleUp          ModuleState = "up"          // listening on its port, inside the hub's tree
	ModuleBooting     ModuleState = "booting"     // silent, but the hub started less than timeouts.modules ago
	ModuleUnstartable ModuleState = "unstartable" // the hub can never start it as the box stands (no start command, program missing)
	ModuleGivenUp     ModuleState = "given-up"    // the hub's supervisor gave up restarting it
	ModuleDown        ModuleState = "down"        // silent past the bound; the supervisor has not given up on it
)

// ModuleReport is one module's state with the evidence for it.
type ModuleReport struct {
	Name     string      `json:"name"`
	Short    string      `json:"short"`
	Port     int         `json:"port"`
	State    ModuleState `json:"state"`
	Evidence string      `json:"evidence"`
}

// Failure is why the box is not what was asked for when no step can make
// it so right now: the hub unit failed or crash-loops, or the manager did
// not answer. A rerun may pass (exit 1), unlike a blocker.
type Failure struct {
	Reason string `json:"reason"`
	// Manager is the manager's own account ("Result=exit-code, exit status
	// 1, 5 automatic restarts").
	Manager string `json:"manager,omitempty"`
	// HubLog and Journal are the last lines of the hub's output and of the
	// unit's journal (untrusted text).
	HubLog  []string `json:"hubLog,omitempty"`
	Journal []string `json:"journal,omitempty"`
	// Fix is what a person can do when the rerun is not enough.
	Fix string `json:"fix,omitempty"`
}

// Verdict classifies a process that holds a declared port.
type Verdict string

// Port-holder verdicts.
const (
	VerdictDetached  Verdict = "detached-ours" // named by our pidfile (start time checked), in its group, or its descendant
	VerdictUnit      Verdict = "unit-owned"    // inside the hub unit's control group / job tree
	VerdictStaleUnit Verdict = "stale-unit"    // inside a stale per-module unit
	VerdictOrphan    Verdict = "orphan"        // no pidfile, but argv/exe/cwd attribute it to the port's owner
	VerdictForeign   Verdict = "foreign"       // readable and not ours
	VerdictUnknown   Verdict = "unknown"       // held, but the owner or its details cannot be read
)

// Holder is one process (or unreadable socket) on a declared port, classified.
type Holder struct {
	Port    int      `json:"port"`
	Owner   string   `json:"owner"` // "hub" or the declaring row's name
	Pid     int      `json:"pid,omitempty"`
	User    string   `json:"user,omitempty"`
	Argv    []string `json:"argv,omitempty"`
	Verdict Verdict  `json:"verdict"`
	// Check is the trust model's check that decided the verdict (marker,
	// pidfile, owner, protected, …).
	Check Check `json:"check,omitempty"`
	// Evidence is why the verdict was reached ("pid 4121 is hub/run/hub.pid,
	// start time before the file was written").
	Evidence string `json:"evidence"`
}

// Blocker is something the plan must not touch and cannot work around: the
// run needs a person. A plan with blockers has no steps.
type Blocker struct {
	Port    int      `json:"port,omitempty"`
	Pid     int      `json:"pid,omitempty"`
	User    string   `json:"user,omitempty"`
	Argv    []string `json:"argv,omitempty"`
	Verdict Verdict  `json:"verdict,omitempty"`
	// Check is the trust model's check that failed, when one did.
	Check  Check  `json:"check,omitempty"`
	Reason string `json:"reason"`
	// Fix is what a person should do about it.
	Fix string `json:"fix,omitempty"`
}

// Outcome summarises a plan.
type Outcome string

// Plan outcomes.
const (
	OutcomeConverged Outcome = "converged" // nothing to do
	OutcomeChanges   Outcome = "changes"   // steps to apply
	OutcomePending   Outcome = "pending"   // the hub unit is starting: only waits, nothing destructive
	OutcomeBlocked   Outcome = "blocked"   // needs a person; no steps
	OutcomeFailed    Outcome = "failed"    // not converged, no step can help now (see Failure); a rerun may pass
)

// Plan is the planner's answer: ordered steps, the classification of every
// port holder, blockers, and notes that do not change convergence.
type Plan struct {
	Desired   spec.Model `json:"desired"`
	Converged bool       `json:"converged"`
	Outcome   Outcome    `json:"outcome"`
	Steps     []Step     `json:"steps"`
	Blockers  []Blocker  `json:"blockers"`
	Holders   []Holder   `json:"holders"`
	// Notes are observations that need no step: a module down under a
	// healthy supervised hub (degraded), a hand-edited unit (drift), a stale
	// unit in a scope we cannot manage.
	Notes []string `json:"notes,omitempty"`
	// Modules is each declared module's state under a running hub (empty
	// when the hub does not run or the plan is about to change it).
	Modules []ModuleReport `json:"modules,omitempty"`
	// Failure is set when the hub unit failed or crash-loops, or the
	// manager did not answer.
	Failure *Failure `json:"failure,omitempty"`
}
