package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Fragments the generators draw from: the shapes the hub's rules care
// about, the unsafe names, and JavaScript number and type edge cases.
var (
	genNames = []string{
		"parachute-vault", "parachute-vault-work", "vault", "parachute-app", "app", "parachute-surface", "surface",
		"parachute-scribe", "scribe", "parachute-runner", "runner", "agent", "parachute-agent", "channel", "parachute-channel",
		"claw", "my-module", "parachute-x", "parachute-parachute-x", "x", "Parachute-Vault", "constructor", "__proto__", "hub",
		"../etc", "a/b", `a\\b`, ".", "..", ".hidden", "../../../../tmp/x", "x\\u0000y", "x\\ny", "\\ud800", "\\ud83d\\ude00", "",
	}
	genPorts = []string{
		"1939", "1940", "1940.0", "1.94e3", "1942", "1943", "1944", "1946", "1947", "1946.0", "-0", "0", "-1", "65535", "65536",
		"1940.5", "1e400", "-1e400", "1e-400", `"1940"`, "true", "null", "[]", "{}",
	}
	genPaths   = []string{`["/app"]`, `["/app/x"]`, `["/surface"]`, `["/surface", "/.parachute"]`, `["/claw"]`, `["/x"]`, `[]`, `"x"`, `"/app"`, `[1]`, `null`, `["relative"]`}
	genHealth  = []string{`"/x/health"`, `""`, `"health"`, `1`, `null`}
	genVersion = []string{`"0.5.3"`, `""`, `1`, `null`}
	genExtras  = []string{
		`"installDir": "/opt/parachute/m"`, `"installDir": ""`, `"stripPrefix": true`, `"stripPrefix": "yes"`, `"websocket": false`,
		`"publicExposure": "loopback"`, `"publicExposure": "public"`, `"displayName": null`, `"lastStartError": "bad"`,
		`"uis": {"n": {"displayName": "N", "path": "/n"}}`, `"uis": {"n": {"displayName": "N", "path": "/n", "audience": "everyone"}}`,
		`"uis": {"n": {"displayName": "N", "path": "/n", "status": "pending-oauth"}}`, `"uis": "x"`, `"uis": {"": {}}`,
		`"Port": 1940`, `"extraUnknownKey": {"nested": [1, 2, {"a": null}]}`,
	}
)

// genRow draws one services.json row: usually an object with the five
// required keys (each maybe missing, maybe repeated), sometimes not an object.
func genRow(t *rapid.T) string {
	if rapid.IntRange(0, 19).Draw(t, "nonObject") == 0 {
		return rapid.SampledFrom([]string{`1`, `"x"`, `null`, `true`, `[]`, `[{"name": "parachute-vault"}]`}).Draw(t, "row")
	}
	var fields []string
	add := func(key string, choices []string) {
		if rapid.IntRange(0, 9).Draw(t, "omit-"+key) == 0 {
			return
		}
		fields = append(fields, fmt.Sprintf("%q: %s", key, rapid.SampledFrom(choices).Draw(t, key)))
	}
	name := rapid.SampledFrom(genNames).Draw(t, "name")
	if rapid.IntRange(0, 9).Draw(t, "omit-name") != 0 {
		fields = append(fields, fmt.Sprintf(`"name": "%s"`, name))
	}
	if rapid.Bool().Draw(t, "randomName") {
		fields = append(fields, `"name": `+jsonString(rapid.String().Draw(t, "anyName")))
	}
	add("port", genPorts)
	add("paths", genPaths)
	add("health", genHealth)
	add("version", genVersion)
	fields = append(fields, rapid.SliceOfN(rapid.SampledFrom(genExtras), 0, 3).Draw(t, "extras")...)
	if rapid.IntRange(0, 4).Draw(t, "dupPort") == 0 {
		fields = append(fields, `"port": `+rapid.SampledFrom(genPorts).Draw(t, "port2"))
	}
	perm := rapid.Permutation(fields).Draw(t, "order")
	return "{" + strings.Join(perm, ", ") + "}"
}

// checkParse is the property every input must satisfy: ParseManifest does
// not panic, fails only with an *InputError, and otherwise keeps every row
// or skips it exactly once and never keeps an unsafe name.
func checkParse(t tester, data []byte) {
	t.Helper()
	m, err := ParseManifest("/home/op/.parachute/services.json", data)
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) || ie.Problem == "" || ie.Fix == "" {
			t.Fatalf("error is not a complete *InputError: %v", err)
		}
		return
	}
	checkAccounting(t, data, m)
	for _, mod := range m.Modules {
		pid := filepath.Clean(PidfilePath("/home/op/.parachute", mod.Short))
		if !strings.HasPrefix(pid, "/home/op/.parachute/") || strings.Contains(mod.Short, "/") || strings.HasPrefix(mod.Short, ".") {
			t.Fatalf("kept unsafe module %q (short %q, pidfile %s)", mod.Name, mod.Short, pid)
		}
	}
}

func TestPropertyParseManifestRows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rows := rapid.SliceOfN(rapid.Custom(genRow), 0, 12).Draw(t, "rows")
		wrap := rapid.IntRange(0, 19).Draw(t, "wrap")
		var doc string
		switch wrap {
		case 0:
			doc = `[` + strings.Join(rows, ",") + `]`
		case 1:
			doc = `{"services": {}, "services": [` + strings.Join(rows, ",") + `]}`
		case 2:
			doc = `{"Services": [` + strings.Join(rows, ",") + `]}`
		default:
			doc = `{"other": 1, "services": [` + strings.Join(rows, ",\n") + `]}`
		}
		checkParse(t, []byte(doc))
	})
}

func TestPropertyParseManifestBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		prefix := rapid.SampledFrom([]string{"", `{"services": [`, `{"services": [{"name": "`, `{"services": [{"name": "a", "port": `}).Draw(t, "prefix")
		tail := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "tail")
		checkParse(t, append([]byte(prefix), tail...))
	})
}

// FuzzParseManifest checks the same property from the hub's 300 vectors.
// Run with: go test ./spec -run '^$' -fuzz FuzzParseManifest -fuzztime 30s
func FuzzParseManifest(f *testing.F) {
	cases, err := filepath.Glob(filepath.Join("testdata", "services-json", "cases", "*.json"))
	if err != nil || len(cases) == 0 {
		f.Fatalf("no seed cases: %v", err)
	}
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"services": [{"name": "\ud800", "port": 1940, "paths": [], "health": "/", "version": ""}]}`))
	f.Add([]byte("{\"services\": [{\"name\": \"\xff\xfe\", \"port\": 1.94e3, \"paths\": [], \"health\": \"/\", \"version\": \"\"}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data)
	})
}
