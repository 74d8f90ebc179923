package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// row builds a valid services.json row with overrides: each override is a
// raw `"key": value` fragment appended after the defaults, so it wins as the
// last duplicate key (JSON.parse semantics), or "-key" to leave a default
// key out.
func row(name string, port string, overrides ...string) string {
	fields := map[string]string{
		"name":    jsonString(name),
		"port":    port,
		"paths":   `["/x"]`,
		"health":  `"/x/health"`,
		"version": `"0.5.3"`,
	}
	if name == "" {
		delete(fields, "name")
	}
	order := []string{"name", "port", "paths", "health", "version"}
	var extra []string
	for _, o := range overrides {
		if strings.HasPrefix(o, "-") {
			delete(fields, o[1:])
			continue
		}
		extra = append(extra, o)
	}
	var parts []string
	for _, k := range order {
		if v, ok := fields[k]; ok {
			parts = append(parts, fmt.Sprintf("%q: %s", k, v))
		}
	}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ", ") + "}"
}

// jsonString encodes s as a JSON string literal.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func manifestOf(rows ...string) []byte {
	return []byte(`{"services": [` + strings.Join(rows, ",\n") + `]}`)
}

func TestParseManifestRows(t *testing.T) {
	tests := []struct {
		name    string
		rows    []string
		kept    []string // "name port short"
		skipped []string // "index cause"
	}{
		{"minimal row", []string{row("parachute-vault", "1940")}, []string{"parachute-vault 1940 vault"}, nil},
		{"registries", []string{
			row("parachute-notes", "1942"), row("parachute-app", "1944", `"paths": ["/app"]`), row("parachute-scribe", "1943"),
			row("parachute-surface", "1946"), row("parachute-lens", "1945"), row("parachute-runner", "1947"), row("Parachute-Vault", "1948"),
		}, []string{
			"parachute-notes 1942 notes", "parachute-app 1944 app", "parachute-scribe 1943 scribe", "parachute-surface 1946 surface",
			"parachute-lens 1945 notes", "parachute-runner 1947 parachute-runner", "Parachute-Vault 1948 Parachute-Vault",
		}, nil},

		// port: typeof number, Number.isInteger, 1..65535 — JavaScript numbers.
		{"port 1940.0 is an integer", []string{row("m1", "1940.0")}, []string{"m1 1940 m1"}, nil},
		{"port 1.94e3 is an integer", []string{row("m1", "1.94e3")}, []string{"m1 1940 m1"}, nil},
		{"port 65535", []string{row("m1", "65535")}, []string{"m1 65535 m1"}, nil},
		{"port 1940.5", []string{row("m1", "1940.5")}, nil, []string{"0 invalid"}},
		{"port -0", []string{row("m1", "-0")}, nil, []string{"0 invalid"}},
		{"port 0", []string{row("m1", "0")}, nil, []string{"0 invalid"}},
		{"port 65536", []string{row("m1", "65536")}, nil, []string{"0 invalid"}},
		{"port 1e400", []string{row("m1", "1e400")}, nil, []string{"0 invalid"}},
		{"port string", []string{row("m1", `"1940"`)}, nil, []string{"0 invalid"}},
		{"port true", []string{row("m1", "true")}, nil, []string{"0 invalid"}},
		{"port null", []string{row("m1", "null")}, nil, []string{"0 invalid"}},
		{"port missing", []string{row("m1", "1", "-port")}, nil, []string{"0 invalid"}},

		// Duplicate keys: the last wins; keys are case-sensitive.
		{"duplicate key, last valid", []string{`{"name": "m1", "port": "x", "paths": [], "health": "/h", "version": "", "port": 1940}`}, []string{"m1 1940 m1"}, nil},
		{"duplicate key, last invalid", []string{`{"name": "m1", "port": 1940, "paths": [], "health": "/h", "version": "", "port": "x"}`}, nil, []string{"0 invalid"}},
		{"Port is not port", []string{`{"name": "m1", "Port": 1940, "paths": [], "health": "/h", "version": ""}`}, nil, []string{"0 invalid"}},
		{"duplicate name, last wins", []string{`{"name": "parachute-vault", "port": 1940, "paths": [], "health": "/h", "version": "", "name": "parachute-scribe"}`}, []string{"parachute-scribe 1940 scribe"}, nil},

		// The other required fields.
		{"name empty", []string{row("", "1940", `"name": ""`)}, nil, []string{"0 invalid"}},
		{"name number", []string{row("", "1940", `"name": 7`)}, nil, []string{"0 invalid"}},
		{"name missing", []string{row("", "1940")}, nil, []string{"0 invalid"}},
		{"paths string", []string{row("m1", "1940", `"paths": "x"`)}, nil, []string{"0 invalid"}},
		{"paths with a number", []string{row("m1", "1940", `"paths": ["/a", 1]`)}, nil, []string{"0 invalid"}},
		{"paths empty and relative are fine", []string{row("m1", "1940", `"paths": []`), row("m2", "1941", `"paths": ["relative"]`)}, []string{"m1 1940 m1", "m2 1941 m2"}, nil},
		{"health relative", []string{row("m1", "1940", `"health": "health"`)}, nil, []string{"0 invalid"}},
		{"health empty", []string{row("m1", "1940", `"health": ""`)}, nil, []string{"0 invalid"}},
		{"version number", []string{row("m1", "1940", `"version": 1`)}, nil, []string{"0 invalid"}},
		{"version empty is fine", []string{row("m1", "1940", `"version": ""`)}, []string{"m1 1940 m1"}, nil},

		// Optional fields: present means not undefined, so null is present.
		{"displayName null", []string{row("m1", "1940", `"displayName": null`)}, nil, []string{"0 invalid"}},
		{"tagline number", []string{row("m1", "1940", `"tagline": 5`)}, nil, []string{"0 invalid"}},
		{"publicExposure public", []string{row("m1", "1940", `"publicExposure": "public"`)}, nil, []string{"0 invalid"}},
		{"publicExposure values", []string{
			row("m1", "1940", `"publicExposure": "allowed"`), row("m2", "1941", `"publicExposure": "loopback"`), row("m3", "1942", `"publicExposure": "auth-required"`),
		}, []string{"m1 1940 m1", "m2 1941 m2", "m3 1942 m3"}, nil},
		{"installDir empty", []string{row("m1", "1940", `"installDir": ""`)}, nil, []string{"0 invalid"}},
		{"installDir number", []string{row("m1", "1940", `"installDir": 3`)}, nil, []string{"0 invalid"}},
		{"stripPrefix text", []string{row("m1", "1940", `"stripPrefix": "yes"`)}, nil, []string{"0 invalid"}},
		{"websocket text", []string{row("m1", "1940", `"websocket": "true"`)}, nil, []string{"0 invalid"}},
		{"booleans and unknown keys are fine", []string{row("m1", "1940", `"stripPrefix": false`, `"websocket": true`, `"extraUnknownKey": 1`)}, []string{"m1 1940 m1"}, nil},
		{"lastStartError malformed is dropped, row kept", []string{
			row("m1", "1940", `"lastStartError": "bad"`), row("m2", "1941", `"lastStartError": {}`), row("m3", "1942", `"lastStartError": null`),
		}, []string{"m1 1940 m1", "m2 1941 m2", "m3 1942 m3"}, nil},

		// uis sub-units: any bad one rejects the whole row.
		{"uis valid", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "audience": "hub-users", "status": "pending-oauth", "scopes_required": ["vault:*:read"], "tagline": "t", "iconUrl": "/i.svg", "version": "1", "oauthClientId": "c"}}`)}, []string{"m1 1940 m1"}, nil},
		{"uis empty map", []string{row("m1", "1940", `"uis": {}`)}, []string{"m1 1940 m1"}, nil},
		{"uis status aliases", []string{row("m1", "1940", `"uis": {"a": {"displayName": "A", "path": "/a", "status": "disabled"}, "b": {"displayName": "B", "path": "/b", "status": "failing"}}`)}, []string{"m1 1940 m1"}, nil},
		{"uis legacy public ignored when not boolean", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "public": "yes"}}`)}, []string{"m1 1940 m1"}, nil},
		{"uis string", []string{row("m1", "1940", `"uis": "x"`)}, nil, []string{"0 invalid"}},
		{"uis null", []string{row("m1", "1940", `"uis": null`)}, nil, []string{"0 invalid"}},
		{"uis array", []string{row("m1", "1940", `"uis": []`)}, nil, []string{"0 invalid"}},
		{"uis empty key", []string{row("m1", "1940", `"uis": {"": {"displayName": "N", "path": "/n"}}`)}, nil, []string{"0 invalid"}},
		{"uis sub-unit array", []string{row("m1", "1940", `"uis": {"n": []}`)}, nil, []string{"0 invalid"}},
		{"uis displayName empty", []string{row("m1", "1940", `"uis": {"n": {"displayName": "", "path": "/n"}}`)}, nil, []string{"0 invalid"}},
		{"uis relative path", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "n"}}`)}, nil, []string{"0 invalid"}},
		{"uis unknown audience fails closed", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "audience": "everyone"}}`)}, nil, []string{"0 invalid"}},
		{"uis audience null", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "audience": null}}`)}, nil, []string{"0 invalid"}},
		{"uis unknown status", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "status": "up"}}`)}, nil, []string{"0 invalid"}},
		{"uis empty scope", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "scopes_required": [""]}}`)}, nil, []string{"0 invalid"}},
		{"uis scopes not a list", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "scopes_required": "x"}}`)}, nil, []string{"0 invalid"}},
		{"uis iconUrl number", []string{row("m1", "1940", `"uis": {"n": {"displayName": "N", "path": "/n", "iconUrl": 1}}`)}, nil, []string{"0 invalid"}},
		{"uis duplicate slug, last good", []string{row("m1", "1940", `"uis": {"n": {"displayName": "", "path": "n"}, "n": {"displayName": "N", "path": "/n"}}`)}, []string{"m1 1940 m1"}, nil},

		// Rows that are not objects.
		{"row types", []string{`1`, `"x"`, `null`, `true`, `[]`, `{}`}, nil, []string{"0 invalid", "1 invalid", "2 invalid", "3 invalid", "4 invalid", "5 invalid"}},

		// Heal pass 1: stale UI-host app rows.
		{"app on surface path", []string{row("app", "1946", `"paths": ["/surface"]`)}, nil, []string{"0 stale-app"}},
		{"parachute-app on 1946", []string{row("parachute-app", "1946", `"paths": ["/x"]`)}, nil, []string{"0 stale-app"}},
		{"parachute-app on 1946 without paths", []string{row("parachute-app", "1946", `"paths": []`)}, nil, []string{"0 stale-app"}},
		{"parachute-app on 1946.0", []string{row("parachute-app", "1946.0", `"paths": ["/x"]`)}, nil, []string{"0 stale-app"}},
		{"parachute-app surface-rooted elsewhere", []string{row("parachute-app", "1944", `"paths": ["/surface/ui"]`)}, nil, []string{"0 stale-app"}},
		{"app-rooted on 1946 stays", []string{row("parachute-app", "1946", `"paths": ["/app/x"]`)}, []string{"parachute-app 1946 app"}, nil},
		{"/apple is not /app, /surfaces is not /surface", []string{row("app", "1944", `"paths": ["/apple"]`), row("parachute-app", "1945", `"paths": ["/surfaces"]`)}, []string{"app 1944 app", "parachute-app 1945 app"}, nil},
		{"port 1946 as text is not healed", []string{row("parachute-app", `"1946"`, `"paths": ["/x"]`)}, nil, []string{"0 invalid"}},

		// Heal pass 2: retired modules.
		{"retired", []string{row("agent", "1941"), row("channel", "1942"), row("parachute-agent", "1943"), row("parachute-channel", "1944")}, nil, []string{"0 retired", "1 retired", "2 retired", "3 retired"}},
		{"claw at /claw is retired, elsewhere kept", []string{row("claw", "1941", `"paths": ["/claw"]`), row("claw", "1942", `"paths": ["/other"]`)}, []string{"claw 1942 claw"}, []string{"0 retired"}},
		{"Object.prototype names read as retired", []string{row("constructor", "1941"), row("toString", "1942"), row("__proto__", "1943"), row("hasOwnProperty", "1944")}, nil, []string{"0 retired", "1 retired", "2 retired", "3 retired"}},
		{"retired before legacy-short", []string{row("agent", "1941"), row("parachute-agent", "1941")}, nil, []string{"0 retired", "1 retired"}},

		// Heal pass 3: legacy short-name twins, on raw rows.
		{"short before manifest name", []string{row("app", "1944", `"paths": ["/app"]`), row("parachute-app", "1944", `"paths": ["/app"]`)}, []string{"parachute-app 1944 app"}, []string{"0 legacy-short"}},
		{"short after manifest name", []string{row("parachute-vault", "1940"), row("vault", "1940")}, []string{"parachute-vault 1940 vault"}, []string{"1 legacy-short"}},
		{"twins on different ports both stay", []string{row("vault", "1941"), row("parachute-vault", "1940")}, []string{"vault 1941 vault", "parachute-vault 1940 vault"}, nil},
		{"an invalid twin still drops the short row", []string{row("vault", "1940"), row("parachute-vault", "1940", `"health": "h"`)}, nil, []string{"0 legacy-short", "1 invalid"}},
		{"1940.0 and 1940 share a bucket", []string{row("scribe", "1940.0"), row("parachute-scribe", "1940")}, []string{"parachute-scribe 1940 scribe"}, []string{"0 legacy-short"}},
		{"-0 and 0 share a bucket", []string{row("m1", "-0"), row("parachute-m1", "0")}, nil, []string{"0 legacy-short", "1 invalid"}},
		{"parachute-parachute-x is not a twin", []string{row("parachute-x", "1948"), row("parachute-parachute-x", "1948")}, []string{"parachute-x 1948 parachute-x"}, []string{"1 duplicate-port"}},
		{"stale app before legacy-short", []string{row("app", "1946", `"paths": ["/surface"]`), row("parachute-app", "1946", `"paths": ["/app"]`)}, []string{"parachute-app 1946 app"}, []string{"0 stale-app"}},

		// Duplicate ports: first claimant wins, vault names share.
		{"duplicate port, first wins", []string{row("m1", "1947"), row("m2", "1947")}, []string{"m1 1947 m1"}, []string{"1 duplicate-port"}},
		{"vault mounts share", []string{row("parachute-vault-work", "1940"), row("parachute-vault", "1940"), row("parachute-vault-work", "1940")}, []string{"parachute-vault-work 1940 parachute-vault-work", "parachute-vault 1940 vault", "parachute-vault-work 1940 parachute-vault-work"}, nil},
		{"vault after a non-vault", []string{row("m1", "1940"), row("parachute-vault", "1940")}, []string{"m1 1940 m1"}, []string{"1 duplicate-port"}},
		{"non-vault after vault", []string{row("parachute-vault", "1940"), row("my-module", "1940")}, []string{"parachute-vault 1940 vault"}, []string{"1 duplicate-port"}},
		{"parachute-vaults is not a vault name", []string{row("parachute-vault", "1940"), row("parachute-vaults", "1940")}, []string{"parachute-vault 1940 vault"}, []string{"1 duplicate-port"}},
		{"an invalid row claims no port", []string{row("m1", "1940", `"health": ""`), row("m2", "1940")}, []string{"m2 1940 m2"}, []string{"0 invalid"}},

		// Unsafe names: the hub keeps them; we skip them after its rules,
		// so an unsafe row still claims its port as it does in the hub.
		{"unsafe names", []string{
			row("../etc", "1941"), row("a/b", "1942"), row(`a\b`, "1943"), row(".", "1944", `"paths": ["/app"]`), row("..", "1945"),
			row(".hidden", "1947"), row("hub", "1948"), row("x\x00y", "1949"), row("x\ny", "1950"), row("", "1951", `"name": "\ud800"`),
		}, nil, []string{"0 unsafe", "1 unsafe", "2 unsafe", "3 unsafe", "4 unsafe", "5 unsafe", "6 unsafe", "7 unsafe", "8 unsafe", "9 unsafe"}},
		{"unsafe row still claims its port", []string{row("a/b", "1940"), row("parachute-vault", "1940")}, nil, []string{"0 unsafe", "1 duplicate-port"}},
		{"odd but safe names", []string{row("parachute-vault ", "1941"), row("my module", "1942"), row("modül", "1943"), row("x\ufffdy", "1944"), row("", "1952", `"name": "\ud83d\ude00"`)}, []string{"parachute-vault  1941 parachute-vault ", "my module 1942 my module", "modül 1943 modül", "x\ufffdy 1944 x\ufffdy", "😀 1952 😀"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := manifestOf(tt.rows...)
			m, err := ParseManifest("/h/services.json", data)
			if err != nil {
				t.Fatalf("ParseManifest: %v\n%s", err, data)
			}
			var kept []string
			for _, mod := range m.Modules {
				kept = append(kept, fmt.Sprintf("%s %d %s", mod.Name, mod.Port, mod.Short))
			}
			var skipped []string
			for _, s := range m.Skipped {
				skipped = append(skipped, fmt.Sprintf("%d %s", s.Index, s.Cause))
			}
			if !slices.Equal(kept, tt.kept) {
				t.Errorf("kept\n got %q\nwant %q", kept, tt.kept)
			}
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped\n got %q\nwant %q\nreasons: %+v", skipped, tt.skipped, m.Skipped)
			}
			checkAccounting(t, data, m)
		})
	}
}

func TestParseManifestModuleFields(t *testing.T) {
	data := manifestOf(
		row("parachute-runner", "1945", `"paths": ["/runner", "/r2"]`, `"installDir": "/opt/parachute/runner"`),
		row("parachute-vault", "1940"),
	)
	m, err := ParseManifest("/h/services.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Exists || m.Path != "/h/services.json" {
		t.Errorf("Exists/Path = %v/%q", m.Exists, m.Path)
	}
	r := m.Modules[0]
	if !slices.Equal(r.Paths, []string{"/runner", "/r2"}) || r.InstallDir != "/opt/parachute/runner" || !slices.Equal(r.LegacyShorts, []string{"runner"}) {
		t.Errorf("runner module = %+v", r)
	}
	if v := m.Modules[1]; v.LegacyShorts != nil || v.InstallDir != "" {
		t.Errorf("vault module = %+v", v)
	}
}

func TestSkippedRowDetails(t *testing.T) {
	data := []byte("{\"services\": [\n" +
		row("parachute-vault", "1940") + ",\n" +
		row("m1", `"1947"`) + ",\n" +
		row("m2", "1940") + ",\n" +
		row("../etc", "1941") + "\n]}")
	m, err := ParseManifest("/h/services.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []SkippedRow{
		{Index: 1, Name: "m1", Line: 3, Cause: SkipInvalid},
		{Index: 2, Name: "m2", Port: 1940, Line: 4, Cause: SkipDuplicatePort},
		{Index: 3, Name: "../etc", Port: 1941, Line: 5, Cause: SkipUnsafe},
	}
	if len(m.Skipped) != len(want) {
		t.Fatalf("skipped = %+v", m.Skipped)
	}
	for i, w := range want {
		g := m.Skipped[i]
		reason := g.Reason
		g.Reason = ""
		if g != w {
			t.Errorf("skipped[%d] = %+v, want %+v", i, g, w)
		}
		if !strings.Contains(reason, "fix:") {
			t.Errorf("skipped[%d] reason has no fix: %q", i, reason)
		}
	}
	for i, frag := range []string{`"port" must be an integer 1..65535, got "1947" (a string)`, `write the port without quotes: "port": 1947`} {
		if !strings.Contains(m.Skipped[0].Reason, frag) {
			t.Errorf("reason %d %q lacks %q", i, m.Skipped[0].Reason, frag)
		}
	}
	if !strings.Contains(m.Skipped[1].Reason, `already claimed by "parachute-vault" (services[0])`) {
		t.Errorf("duplicate reason = %q", m.Skipped[1].Reason)
	}
	if !strings.Contains(m.Skipped[2].Reason, "outside") {
		t.Errorf("unsafe reason = %q", m.Skipped[2].Reason)
	}
}

func TestParseManifestUnreadable(t *testing.T) {
	tests := []struct {
		name, data string
		field      string
		line       int
		problem    string // a fragment
		fix        string // a fragment
	}{
		{"empty", "", "", 1, "empty", `{"services": []}`},
		{"blank", "\n\n  ", "", 3, "empty", `{"services": []}`},
		{"not json", "not json{", "", 1, "not valid JSON", "repair the JSON"},
		{"syntax error on line 3", "{\n\"services\": [\n  {\"name\": \"x\",}\n]}", "", 3, "expected a property name", "repair"},
		{"byte-order mark", "\uFEFF{\"services\": []}", "", 1, "byte-order mark", "without a byte-order mark"},
		{"array root", "[]", "", 1, "the top level is an array", `{"services"`},
		{"string root", `"x"`, "", 1, "the top level is a string", `{"services"`},
		{"null root", `null`, "", 1, "the top level is null", `{"services"`},
		{"no services", "{}", "services", 1, "missing", "array of rows"},
		{"case matters", `{"Services": []}`, "services", 1, "missing", "array of rows"},
		{"services object", "{\n\"services\": {}}", "services", 2, "is an object", "array of rows"},
		{"services null", `{"services": null}`, "services", 1, "is null", "array of rows"},
		{"last duplicate wins", `{"services": [], "services": {}}`, "services", 1, "is an object", "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest("/h/services.json", []byte(tt.data))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InputError", err)
			}
			if ie.Kind != "services.json" || ie.File != "/h/services.json" || ie.Field != tt.field || ie.Line != tt.line {
				t.Errorf("got kind %q file %q field %q line %d; want field %q line %d", ie.Kind, ie.File, ie.Field, ie.Line, tt.field, tt.line)
			}
			if !strings.Contains(ie.Problem, tt.problem) || !strings.Contains(ie.Fix, tt.fix) {
				t.Errorf("problem %q / fix %q; want fragments %q / %q", ie.Problem, ie.Fix, tt.problem, tt.fix)
			}
		})
	}
	// The first duplicate being bad does not matter.
	if _, err := ParseManifest("/h/services.json", []byte(`{"services": {}, "services": []}`)); err != nil {
		t.Errorf("last services array should win: %v", err)
	}
}

func TestInputErrorFormat(t *testing.T) {
	_, err := ParseManifest("/home/op/.parachute/services.json", []byte("{\n\"services\": [\n  x\n]}"))
	want := `services.json: /home/op/.parachute/services.json: line 3: not valid JSON: unexpected character 'x', expected a value — fix: repair the JSON near that line (a missing comma, quote or bracket is usual); the hub reads an unparseable file as if no modules were installed`
	if err == nil || err.Error() != want {
		t.Errorf("error =\n%v\nwant\n%s", err, want)
	}
	e := &InputError{Kind: "spec file", File: "/etc/p.yaml", Field: "hub.port", Line: 4, Problem: "70000 is not a port 1..65535", Fix: "write a whole number"}
	if got := e.Error(); got != "spec file: /etc/p.yaml: line 4: hub.port: 70000 is not a port 1..65535 — fix: write a whole number" {
		t.Errorf("Error() = %q", got)
	}
	inner := fs.ErrPermission
	if !errors.Is(&InputError{Err: inner}, fs.ErrPermission) {
		t.Error("InputError does not unwrap")
	}
}

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()

	m, err := ReadManifest(filepath.Join(dir, "services.json"))
	if err != nil || m.Exists || m.Modules == nil || m.Skipped == nil || len(m.Modules) != 0 {
		t.Errorf("missing file: %+v, %v; want Exists false, empty lists, no error", m, err)
	}

	link := filepath.Join(dir, "dangling.json")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadManifest(link, os.Geteuid()); err != nil || m.Exists {
		t.Errorf("dangling symlink: %+v, %v; want a missing file (existsSync follows links)", m, err)
	}

	sub := filepath.Join(dir, "isdir.json")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = ReadManifest(sub)
	var ie *InputError
	if !errors.As(err, &ie) || ie.Err == nil || !strings.Contains(ie.Problem, "cannot read") {
		t.Errorf("directory: err = %v, want an *InputError wrapping the read error", err)
	}

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, manifestOf(row("parachute-vault", "1940")), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = ReadManifest(good)
	if err != nil || !m.Exists || len(m.Modules) != 1 || m.Modules[0].Short != "vault" {
		t.Errorf("good file: %+v, %v", m, err)
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]string{
		"parachute-notes": "notes", "parachute-app": "app", "parachute-vault": "vault", "parachute-scribe": "scribe",
		"parachute-surface": "surface", "parachute-lens": "notes", "parachute-runner": "parachute-runner",
		"parachute-agent": "parachute-agent", "vault": "vault", "PARACHUTE-VAULT": "PARACHUTE-VAULT", "constructor": "constructor",
	} {
		if got := ShortName(name); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", name, got, want)
		}
	}
	if _, ok := ShortNameForManifest("parachute-runner"); ok {
		t.Error("parachute-runner left the registries at 0.7")
	}
	for name, want := range map[string][]string{
		"parachute-runner": {"runner"}, "parachute-channel": {"channel", "agent"}, "parachute-agent": {"agent"},
		"parachute-vault": nil, "runner": nil,
	} {
		if got := LegacyShorts(name); !slices.Equal(got, want) {
			t.Errorf("LegacyShorts(%q) = %q, want %q", name, got, want)
		}
	}
	if p, ok := CanonicalPortOf("surface"); !ok || p != 1946 {
		t.Errorf("surface canonical port = %d, %v", p, ok)
	}
	if p, ok := CanonicalPortOf("hub"); !ok || p != DefaultHubPort {
		t.Errorf("hub canonical port = %d, %v", p, ok)
	}
	if _, ok := CanonicalPortOf("runner"); ok {
		t.Error("runner has no canonical port")
	}
	if !slices.Equal(RetiredShorts, []string{"runner", "channel", "agent"}) {
		t.Errorf("RetiredShorts = %q", RetiredShorts)
	}
	if got := PidfilePath("/h", "vault"); got != "/h/vault/run/vault.pid" {
		t.Errorf("PidfilePath = %q", got)
	}
	for _, n := range []string{"parachute-vault", "parachute-vault-work"} {
		if !IsVaultName(n) {
			t.Errorf("IsVaultName(%q) = false", n)
		}
	}
	for _, n := range []string{"vault", "parachute-vaults", "Parachute-Vault", "parachute-vault "} {
		if IsVaultName(n) {
			t.Errorf("IsVaultName(%q) = true", n)
		}
	}
}
