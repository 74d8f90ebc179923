package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadModulesIsLenientLikeTheHub(t *testing.T) {
	const text = `{"services": [
  {"name": "parachute-vault", "port": 1940, "paths": ["/vault/default"], "health": "/vault/default/health", "version": "0.5.3", "installDir": "/opt/vault"},
  {"name": "parachute-vault-team", "port": 1940, "paths": ["/vault/team"], "health": "/vault/team/health", "version": "0.5.3"},
  {"name": "parachute-scribe", "port": 1940, "paths": ["/scribe"], "health": "/scribe/health", "version": "1"},
  {"name": "parachute-runner", "port": 1950.5, "paths": [], "health": "/h", "version": "1"},
  {"name": "", "port": 1951, "paths": [], "health": "/h", "version": "1"},
  {"name": "nohealth", "port": 1952, "paths": [], "health": "h", "version": "1"},
  {"name": "badpaths", "port": 1953, "paths": ["/a", 3], "health": "/h", "version": "1"},
  {"name": "noversion", "port": 1954, "paths": [], "health": "/h"},
  {"name": "emptydir", "port": 1955, "paths": [], "health": "/h", "version": "1", "installDir": ""},
  {"name": "parachute-agent", "port": 1956, "paths": [], "health": "/h", "version": "1"},
  "not an object",
  {"name": "parachute-runner", "port": 1957, "paths": [], "health": "/h", "version": "1", "extra": true},
  {"name": "parachute-surface", "port": 1946, "paths": ["/surface"], "health": "/surface/healthz", "version": "0.4.0"}
]}`
	path := filepath.Join(t.TempDir(), "services.json")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	got := readModules(path, &warn)
	want := []row{
		{Name: "parachute-vault", Short: "vault", Port: 1940, Paths: []string{"/vault/default"}, InstallDir: "/opt/vault"},
		{Name: "parachute-vault-team", Short: "parachute-vault-team", Port: 1940, Paths: []string{"/vault/team"}},
		{Name: "parachute-runner", Short: "parachute-runner", Port: 1957, Paths: []string{}},
		{Name: "parachute-surface", Short: "surface", Port: 1946, Paths: []string{"/surface"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readModules:\n got %+v\nwant %+v", got, want)
	}
	for _, needle := range []string{
		`dropping duplicate-port entry: "parachute-scribe" on port 1940`,
		"parachute-runner: port must be an integer",
		"name must be a non-empty string",
		"nohealth: health must start with /",
		"badpaths: paths must be an array of strings",
		"noversion: version must be a string",
		"emptydir: installDir must be a non-empty string",
		`dropping retired module row "parachute-agent"`,
		"row is not an object",
	} {
		if !strings.Contains(warn.String(), needle) {
			t.Errorf("warnings lack %q:\n%s", needle, warn.String())
		}
	}
	if n := strings.Count(warn.String(), "\n"); n != 9 {
		t.Errorf("got %d warning lines, want 9:\n%s", n, warn.String())
	}
	if b, _ := os.ReadFile(path); string(b) != text {
		t.Fatal("readModules wrote services.json back")
	}
}

func TestReadModulesWholeFileProblemsAreNoModules(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"garbage":         "{not json",
		"root-array":      `[{"name":"parachute-vault"}]`,
		"services-object": `{"services": {"name": "parachute-vault"}}`,
	} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var warn bytes.Buffer
		if got := readModules(path, &warn); len(got) != 0 {
			t.Errorf("%s: got %v, want no modules", name, got)
		}
		if warn.Len() == 0 {
			t.Errorf("%s: no warning", name)
		}
	}
	var warn bytes.Buffer
	if got := readModules(filepath.Join(dir, "missing.json"), &warn); got != nil || warn.Len() != 0 {
		t.Errorf("missing file: got %v and warning %q, want nothing", got, warn.String())
	}
}

func TestStartCmdReadsModuleJSON(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".parachute", "module.json"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := startCmd(dir); got != nil {
		t.Fatalf("no module.json: got %q", got)
	}
	for _, bad := range []string{"{", `{"startCmd": []}`, `{"startCmd": "x serve"}`, `{"startCmd": [""]}`} {
		write(bad)
		if got := startCmd(dir); got != nil {
			t.Errorf("module.json %s: got %q, want no spec", bad, got)
		}
	}
	write(`{"startCmd": ["parachute-vault", "serve"], "other": 1}`)
	if got := startCmd(dir); !reflect.DeepEqual(got, []string{"parachute-vault", "serve"}) {
		t.Fatalf("got %q", got)
	}
	if got := startCmd(""); got != nil {
		t.Fatalf("no installDir: got %q", got)
	}
}

func TestEnrichedPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".bun", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := enrichedPath("/x:/usr/bin::", "/usr/bin:/bin:/x")
	want := "/x:/usr/bin:/bin:" + filepath.Join(home, ".bun", "bin")
	if got != want {
		t.Fatalf("enrichedPath = %q, want %q (~/.local/bin is absent so left out)", got, want)
	}
}

func TestScriptNameFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "src", "cli.ts")
	if err := os.MkdirAll(filepath.Dir(cli), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cli, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "parachute")
	if err := os.Symlink(cli, link); err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[string]string{
		cli: "cli.ts", link: "cli.ts", "/nowhere/src/hub-server.ts": "hub-server.ts",
		"serve": "", "--port": "", "/usr/bin/true": "",
	} {
		if got := scriptName(arg); got != want {
			t.Errorf("scriptName(%q) = %q, want %q", arg, got, want)
		}
	}
}
