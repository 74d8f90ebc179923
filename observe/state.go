package observe

import "github.com/parachute/reconcile/state"

// The observed-state types live in package state (the planner imports them,
// never the observer); these aliases keep the observer's own code in its
// own words.
type (
	Snapshot   = state.Snapshot
	Pidfile    = state.Pidfile
	PidState   = state.PidState
	PortFile   = state.PortFile
	Link       = state.Link
	Port       = state.Port
	Listener   = state.Listener
	Process    = state.Process
	Unit       = state.Unit
	UnitFile   = state.UnitFile
	StaleUnit  = state.StaleUnit
	Health     = state.Health
	IdleModule = state.IdleModule
	Reach      = state.Reach
)

// Reach kinds, as state names them.
const (
	Reached         = state.Reached
	NoManager       = state.NoManager
	OtherPlatform   = state.OtherPlatform
	NoUserManager   = state.NoUserManager
	NoSystemManager = state.NoSystemManager
	NoDomain        = state.NoDomain
	Unanswered      = state.Unanswered
	ObserverFailed  = state.ObserverFailed
)

// Pidfile states, as state names them.
const (
	PidInvalid = state.PidInvalid
	PidDead    = state.PidDead
	PidLive    = state.PidLive
	PidReused  = state.PidReused
	PidUnknown = state.PidUnknown
)
