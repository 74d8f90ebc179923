package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
)

// TestObserveJSONHasSchema pins a contract: docs/design.md says "--output
// json prints one JSON document … with a `schema` version field", and
// docs/json.md is headed `schema: "parachute.reconcile/v1"`. `parachute
// observe --output json` once printed the bare Snapshot, so a consumer could
// not tell an observe document's version (reconcile's Document has one).
func TestObserveJSONHasSchema(t *testing.T) {
	home := t.TempDir()
	// A port nothing listens on: the health probe stays on loopback and finds nobody.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Setenv("PARACHUTE_HOME", home)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"observe", "--home", home, "--port", strconv.Itoa(port), "--output", "json"}, &out, &errb)
	if code != ExitConverged {
		t.Fatalf("observe exited %d: %s", code, errb.String())
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("observe output is not one JSON object: %v\n%s", err, out.String())
	}
	if _, ok := doc["schema"]; !ok {
		t.Errorf("observe --output json has no \"schema\" field (keys: %v)", keys(doc))
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
