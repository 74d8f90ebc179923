package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// A run that changed the box but did not converge it: the JSON view puts
// the applied steps and the error in the one document; the text view gives
// the account on stderr, ending with the next step, and nothing on stdout.
func TestViewsShowARunThatDidNotConverge(t *testing.T) {
	applied := reconcile.Step{N: 1, Action: reconcile.WriteUnit, Target: "hub unit parachute-hub.service", Reason: "install"}
	left := reconcile.Step{N: 1, Action: reconcile.StartUnit, Target: "hub unit parachute-hub.service", Reason: "start it"}
	res := result{
		Plan:     reconcile.Plan{Desired: "supervised", Outcome: reconcile.OutcomeChanges, Steps: []reconcile.Step{left}},
		Snapshot: observe.Snapshot{Home: "/h", HubPort: 1939},
		Applied:  []reconcile.Step{applied},
		Err:      errors.New("step 2 start-unit (hub unit parachute-hub.service): job failed"),
		Took:     1500 * time.Millisecond,
	}

	var out, errb bytes.Buffer
	if err := newView("json", "parachute reconcile", &out, &errb).Result(res); err != nil {
		t.Fatal(err)
	}
	var doc reconcile.Document
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out.String())
	}
	if doc.Schema != reconcile.Schema || doc.Error != res.Err.Error() || len(doc.Applied) != 1 || len(doc.Steps) != 1 || errb.Len() != 0 {
		t.Errorf("json result: schema %q error %q applied %d steps %d stderr %q", doc.Schema, doc.Error, len(doc.Applied), len(doc.Steps), errb.String())
	}

	out.Reset()
	if err := newView("text", "parachute reconcile", &out, &errb).Result(res); err != nil {
		t.Fatal(err)
	}
	want := "parachute reconcile: step 2 start-unit (hub unit parachute-hub.service): job failed\n" +
		"parachute reconcile: not converged after 1.5s; the box now needs:\n" +
		"  1. start-unit     hub unit parachute-hub.service\n" +
		"                    start it\n" +
		"nothing is lost: run parachute reconcile again (or use --until-converged) to resume\n"
	if out.Len() != 0 || errb.String() != want {
		t.Errorf("text result: stdout %q, stderr\n%s\nwant\n%s", out.String(), errb.String(), want)
	}
}

// The JSON view writes one compact event per line; the text view shows
// only what a person follows (done and failed steps), escaped.
func TestViewsShowEvents(t *testing.T) {
	evs := []actuate.Event{
		{Event: "step-start", N: 1, Action: reconcile.Stop, Target: "module vault"},
		{Event: "step-done", N: 1, Action: reconcile.Stop, Target: "module vault", Elapsed: "12ms"},
		{Event: "step-failed", N: 2, Action: reconcile.WaitPortFree, Target: "port 1940", Error: "held by\x1b[2K pid 7"},
	}
	var jsonOut, textOut bytes.Buffer
	jv, tv := newView("json", "parachute reconcile", &jsonOut, &bytes.Buffer{}), newView("text", "parachute reconcile", &textOut, &bytes.Buffer{})
	for _, ev := range evs {
		jv.Event(ev)
		tv.Event(ev)
	}
	if lines := strings.Split(strings.TrimSuffix(jsonOut.String(), "\n"), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], `{"event":"step-start","n":1,"action":"stop"`) {
		t.Errorf("json events:\n%s", jsonOut.String())
	}
	want := "  ✓ 1. stop module vault (12ms)\n  ✗ 2. wait-port-free port 1940: held by\\x1b[2K pid 7\n"
	if textOut.String() != want {
		t.Errorf("text events:\n%q\nwant\n%q", textOut.String(), want)
	}
}
