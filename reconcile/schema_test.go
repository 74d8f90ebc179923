package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// compileSchema loads the v1 JSON Schema from docs/schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../docs/schema/reconcile.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("reconcile.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("reconcile.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, what string, v any) {
	t.Helper()
	if doc, ok := v.(reconcile.Document); ok {
		// The fake world leaves empty lists nil; the observer never does.
		if doc.Snapshot.Pidfiles == nil {
			doc.Snapshot.Pidfiles = []observe.Pidfile{}
		}
		if doc.Snapshot.StaleUnits == nil {
			doc.Snapshot.StaleUnits = []observe.StaleUnit{}
		}
		v = doc
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s does not match docs/schema/reconcile.v1.json: %v\n%s", what, err, data)
	}
}

// Every document shape the planner produces — converged with modules,
// changes, blocked, failed with a cause — and every event kind the actuator
// emits validate against the published schema; and the schema rejects what
// it must (so the test can fail).
func TestDocumentsMatchSchema(t *testing.T) {
	sch := compileSchema(t)

	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	d := desired(w, spec.Supervised)
	snap := w.Snapshot()
	changes := reconcile.Compute(d, snap)
	validate(t, sch, "a cutover plan", reconcile.NewDocument(changes, snap))

	var events []actuate.Event
	a := actuator(w)
	a.Events = func(ev actuate.Event) { events = append(events, ev) }
	applied, err := a.Apply(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		validate(t, sch, "event "+ev.Event, ev)
	}
	after := w.Snapshot()
	doc := reconcile.NewDocument(reconcile.Compute(d, after), after)
	doc.Applied = applied
	validate(t, sch, "a converged result with modules", doc)
	if len(doc.Modules) == 0 {
		t.Error("the converged result has no modules to validate")
	}

	blocked := after
	blocked.Unit.DropIns = []observe.UnitFile{{Path: "/etc/x.conf", Exists: true, Breaks: []string{"ExecStartPre=/bin/false always exits 1"}}}
	blocked.Unit.ActiveState = "inactive"
	validate(t, sch, "a blocked plan", reconcile.NewDocument(reconcile.Compute(d, blocked), blocked))

	failed := after
	failed.Unit.Available, failed.Unit.Reach, failed.Unit.Problem = false, state.Unanswered, "bus gone"
	fp := reconcile.Compute(d, failed)
	if fp.Failure == nil {
		t.Fatal("setup: no failure")
	}
	validate(t, sch, "a failed plan", reconcile.NewDocument(fp, failed))

	// The schema is not vacuous.
	bad := reconcile.NewDocument(changes, snap)
	bad.Outcome = "sideways"
	data, _ := json.Marshal(bad)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if sch.Validate(inst) == nil {
		t.Error("an unknown outcome validates")
	}
	inst, _ = jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"event":"step-done","n":0,"action":"stop","target":"x"}`)))
	if sch.Validate(inst) == nil {
		t.Error("an event numbered 0 validates")
	}
}
