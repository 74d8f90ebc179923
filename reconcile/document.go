package reconcile

import "github.com/parachute/reconcile/state"

// Document is the JSON document `parachute reconcile --output json` prints:
// the plan (or, after applying, the plan of the verifying observation) with
// the snapshot it was computed from. Its shape is the stable contract
// documented in docs/json.md; fields are only ever added.
type Document struct {
	Schema    string `json:"schema"`
	Desired   string `json:"desired"`
	Converged bool   `json:"converged"`
	// Changed is true when the run applied at least one step (false for
	// --plan, and for a run that found nothing to do).
	Changed bool    `json:"changed"`
	Outcome Outcome `json:"outcome"`
	// Applied lists the steps a run carried out (only after applying).
	Applied []Step `json:"applied,omitempty"`
	// Error is the first failing step's error (only after a failed apply).
	Error    string    `json:"error,omitempty"`
	Steps    []Step    `json:"steps"`
	Blockers []Blocker `json:"blockers"`
	Holders  []Holder  `json:"holders"`
	Notes    []string  `json:"notes,omitempty"`
	// Modules is each module's state under the running hub; Failure why
	// the box failed (outcome failed, or a failed run's verification).
	Modules  []ModuleReport `json:"modules,omitempty"`
	Failure  *Failure       `json:"failure,omitempty"`
	Snapshot state.Snapshot `json:"snapshot"`
}

// ObserveDocument is the JSON document `parachute observe --output json`
// prints: the snapshot, with the schema version every JSON document carries.
type ObserveDocument struct {
	Schema string `json:"schema"`
	state.Snapshot
}

// NewDocument wraps a plan and the snapshot it came from.
func NewDocument(p Plan, s state.Snapshot) Document {
	return Document{
		Schema: Schema, Desired: string(p.Desired), Converged: p.Converged, Outcome: p.Outcome,
		Steps: p.Steps, Blockers: p.Blockers, Holders: p.Holders, Notes: p.Notes,
		Modules: p.Modules, Failure: p.Failure, Snapshot: s,
	}
}
