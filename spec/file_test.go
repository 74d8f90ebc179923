package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFileValid(t *testing.T) {
	text := `# the example of docs/design.md
desired: supervised
home: /home/op/.parachute/
hub:
  port: 1939
  command: ["/home/op/.bun/bin/bun", "/path/to/hub/src/cli.ts", "serve"]
  env: {EXTRA_VAR: "value", QUOTED_OFF: "off", EMPTY: ""}
manager: auto          # auto | systemd | launchd
scope: user
timeouts: {stop: 15s, portFree: 1m30s, healthy: 500ms}
`
	f, err := ParseFile("/etc/parachute.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := File{
		Path:    "/etc/parachute.yaml",
		Desired: Supervised,
		Home:    "/home/op/.parachute",
		Hub: FileHub{
			Port:    1939,
			Command: []string{"/home/op/.bun/bin/bun", "/path/to/hub/src/cli.ts", "serve"},
			Env:     map[string]string{"EXTRA_VAR": "value", "QUOTED_OFF": "off", "EMPTY": ""},
		},
		Manager:  ManagerAuto,
		Scope:    ScopeUser,
		Timeouts: FileTimeouts{Stop: 15 * time.Second, PortFree: 90 * time.Second, Healthy: 500 * time.Millisecond},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got  %+v\nwant %+v", f, want)
	}
}

func TestParseFileEmptyAndPartial(t *testing.T) {
	for _, text := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "hub:\ntimeouts:\n"} {
		f, err := ParseFile("/s.yaml", []byte(text))
		if err != nil || !reflect.DeepEqual(f, File{Path: "/s.yaml"}) {
			t.Errorf("ParseFile(%q) = %+v, %v; want an empty File", text, f, err)
		}
	}
	f, err := ParseFile("/s.yaml", []byte("desired: absent\nhub: {port: 2000}\n"))
	if err != nil || f.Desired != Absent || f.Hub.Port != 2000 || f.Hub.Command != nil || f.Timeouts != (FileTimeouts{}) {
		t.Errorf("partial file = %+v, %v", f, err)
	}
	// 1939.0 is a whole number; YAML flow and block styles are equal.
	f, err = ParseFile("/s.yaml", []byte("hub:\n  port: 1939.0\n  command:\n    - bun\n    - /x/src/cli.ts\n"))
	if err != nil || f.Hub.Port != 1939 || len(f.Hub.Command) != 2 {
		t.Errorf("block style = %+v, %v", f, err)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		field   string
		line    int
		problem string
		fix     string
	}{
		{"unknown top key", "desired: supervised\nhubs: {}\n", "hubs", 2, `unknown key "hubs"`, "desired, home, hub, manager, scope, timeouts"},
		{"unknown nested key", "hub:\n  port: 1939\n  cmd: [bun]\n", "hub.cmd", 3, `unknown key "cmd"`, "port, command, env"},
		{"unknown timeout", "timeouts:\n  stop: 1s\n  portfree: 2s\n", "timeouts.portfree", 3, `unknown key "portfree"`, `write "portFree"`},
		{"case matters", "Desired: supervised\n", "Desired", 1, `unknown key "Desired"`, `write "desired"`},
		{"desired: no", "desired: no\n", "desired", 1, "YAML 1.1 boolean false (from unquoted no)", "supervised, detached, absent"},
		{"manager: off", "manager: off   # none\n", "manager", 1, "boolean false (from unquoted off)", "auto, systemd, launchd"},
		{"scope: yes", "scope: yes\n", "scope", 1, "boolean true (from unquoted yes)", "auto, user, system"},
		{"env value off", "hub:\n  env:\n    FOO: off\n", "hub.env.FOO", 3, "boolean false (from unquoted off), not text", `quote it: FOO: "off"`},
		{"env value y in flow", "hub: {env: {A: x, FOO: y}}\n", "hub.env.FOO", 1, "boolean true (from unquoted y)", `quote it: FOO: "y"`},
		{"env value number", "hub:\n  env:\n    VERSION: 1.10\n", "hub.env.VERSION", 3, "number 1.1 (from unquoted 1.10)", `quote it: VERSION: "1.10"`},
		{"env key on", "hub:\n  env:\n    on: x\n", "hub.env", 3, "YAML 1.1 boolean true", "quote the key"},
		{"env key invalid", "hub:\n  env:\n    1FOO: x\n", "hub.env.1FOO", 3, "not a valid environment variable name", "letters, digits"},
		{"env reserved", "hub:\n  env:\n    PARACHUTE_BIND_HOST: 0.0.0.0\n", "hub.env.PARACHUTE_BIND_HOST", 3, "set by the hub unit itself", "127.0.0.1"},
		{"env null", "hub:\n  env:\n    FOO:\n", "hub.env.FOO", 3, "has no value", `FOO: ""`},
		{"env newline", "hub:\n  env:\n    FOO: \"a\\nb\"\n", "hub.env.FOO", 3, "line break", "one line"},
		{"home bool", "home: on\n", "home", 1, "boolean true (from unquoted on)", `quote it: home: "on"`},
		{"home relative", "home: .parachute\n", "home", 1, "not an absolute path", "full absolute path"},
		{"home tilde", "home: ~/.parachute\n", "home", 1, "starts with ~", "full absolute path"},
		{"home empty", "home: \"\"\n", "home", 1, "is empty", "remove the key"},
		{"port too big", "hub:\n  port: 70000\n", "hub.port", 2, "70000 is not a port 1..65535", "whole number"},
		{"port zero", "hub: {port: 0}\n", "hub.port", 1, "0 is not a port", "whole number"},
		{"port fraction", "hub: {port: 1939.5}\n", "hub.port", 1, "1939.5 is not a port", "whole number"},
		{"port text", "hub:\n  port: \"1939\"\n", "hub.port", 2, `the text "1939", not a number`, "port: 1939"},
		{"port octal", "hub:\n  port: 01747\n", "hub.port", 2, "leading zero", "without a leading zero"},
		{"port bool", "hub:\n  port: yes\n", "hub.port", 2, "a boolean, not a port", "1..65535"},
		{"command string", "hub:\n  command: bun cli.ts serve\n", "hub.command", 2, "text, not a list", "as a list"},
		{"command empty", "hub:\n  command: []\n", "hub.command", 2, "empty list", "discover"},
		{"command bool element", "hub:\n  command: [/usr/bin/bun, /x/cli.ts, on]\n", "hub.command[2]", 2, "a boolean (true), not text", "quote every element"},
		{"command relative", "hub:\n  command: [./bun, x]\n", "hub.command[0]", 2, "relative path", "absolute path"},
		{"command empty element", "hub:\n  command: [/usr/bin/bun, \"\"]\n", "hub.command[1]", 2, "is empty", "remove"},
		{"duration number", "timeouts:\n  stop: 15\n", "timeouts.stop", 2, "15 has no unit", "15s"},
		{"duration bad", "timeouts:\n  healthy: soon\n", "timeouts.healthy", 2, `"soon" is not a duration`, "15s"},
		{"duration zero", "timeouts:\n  portFree: 0s\n", "timeouts.portFree", 2, "not positive", "greater than zero"},
		{"duration negative", "timeouts:\n  portFree: -1s\n", "timeouts.portFree", 2, "not positive", "greater than zero"},
		{"hub not a mapping", "hub: [1]\n", "hub", 1, "a list, not a mapping", "key: value"},
		{"timeouts scalar", "timeouts: 15s\n", "timeouts", 1, "text, not a mapping", "key: value"},
		{"duplicate key", "desired: supervised\nscope: user\ndesired: absent\n", "desired", 1, "appears twice", "keep one"},
		{"top level list", "- desired\n", "", 1, "a list, not a mapping", "top level"},
		{"top level scalar", "supervised\n", "", 1, "text, not a mapping", "top level"},
		{"syntax error", "hub:\n  port: [1939\n", "", 2, "not valid YAML", "repair the YAML"},
		{"tab indent", "hub:\n\tport: 1939\n", "", 2, "not valid YAML", "repair"},
		{"two documents", "desired: supervised\n---\ndesired: absent\n", "", 2, "more than one YAML document", "keep one"},
		// Merge keys are refused wherever they are (yaml/v2 dropped them silently).
		{"merge key at the top", "desired: absent\n<<: {desired: supervised}\n", "", 2, "merge key (<<) at the top level", "write the keys out; merge keys are not supported"},
		{"merge key in hub", "hub:\n  <<: {port: 1940}\n", "hub", 2, "merge key (<<) under hub", "merge keys are not supported"},
		{"merge key from an alias", "hub:\n  env: &e {A: x}\n  port: 1939\ntimeouts:\n  stop: 15s\n  <<: *e\n", "timeouts", 6, "merge key", "write the keys out"},
		{"merge key in env", "hub:\n  env:\n    <<: {FOO: bar}\n    BAZ: x\n", "hub.env", 3, "under hub.env", "merge keys are not supported"},
		// A value its explicit tag does not fit is reported once, at its key.
		{"bad tag", "desired: !!int supervised\n", "desired", 1, "not valid YAML", "remove its tag"},
		// A quoted "<<" is an ordinary key.
		{"quoted <<", "\"<<\": x\n", "<<", 1, `unknown key "<<"`, "desired, home"},
		// An alias is its value, checked where it is used.
		{"alias of a bad value", "timeouts: {stop: &t 15s, healthy: &n 15}\nhub:\n  port: *n\n  env: {A: *t}\n", "timeouts.healthy", 1, "15 has no unit", "15s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile("/etc/p.yaml", []byte(tt.text))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %+v, %v; want an *InputError", f, err)
			}
			if ie.Kind != "spec file" || ie.File != "/etc/p.yaml" || ie.Field != tt.field || ie.Line != tt.line {
				t.Errorf("kind %q file %q field %q line %d; want field %q line %d", ie.Kind, ie.File, ie.Field, ie.Line, tt.field, tt.line)
			}
			if !strings.Contains(ie.Problem, tt.problem) || !strings.Contains(ie.Fix, tt.fix) {
				t.Errorf("problem %q / fix %q; want fragments %q / %q", ie.Problem, ie.Fix, tt.problem, tt.fix)
			}
			if !reflect.DeepEqual(f, File{Path: "/etc/p.yaml"}) {
				t.Errorf("a failed parse returned values: %+v", f)
			}
		})
	}
}

// An alias stands for the value it names; its checks apply where it is used.
func TestParseFileAliases(t *testing.T) {
	f, err := ParseFile("/s.yaml", []byte("timeouts:\n  stop: &t 15s\n  healthy: *t\nhub:\n  env: {STOP: &s \"1\", AGAIN: *s}\n"))
	if err != nil || f.Timeouts.Stop != 15*time.Second || f.Timeouts.Healthy != 15*time.Second || f.Hub.Env["AGAIN"] != "1" {
		t.Errorf("aliases: %+v, %v", f, err)
	}
	_, err = ParseFile("/s.yaml", []byte("x: &n 1939\nhub:\n  env:\n    PORTS: *n\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4: hub.env.PORTS: is the number 1939") {
		t.Errorf("an aliased number where text belongs: %v", err)
	}
}

// Several problems are all reported, in line order, each an *InputError.
func TestParseFileSeveralErrors(t *testing.T) {
	text := "timeouts: {stop: 15}\ndesired: no\nbogus: 1\n"
	_, err := ParseFile("/p.yaml", []byte(text))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 problems, got:\n%v", err)
	}
	for i, frag := range []string{"line 1: timeouts.stop", "line 2: desired", "line 3: bogus"} {
		if !strings.Contains(lines[i], frag) {
			t.Errorf("problem %d = %q, want it to contain %q", i, lines[i], frag)
		}
	}
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != "timeouts.stop" {
		t.Errorf("errors.As finds %+v, want the first problem", ie)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(p, []byte("desired: detached\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(p)
	if err != nil || f.Desired != Detached || f.Path != p {
		t.Errorf("LoadFile = %+v, %v", f, err)
	}
	_, err = LoadFile(filepath.Join(dir, "missing.yaml"))
	var ie *InputError
	if !errors.As(err, &ie) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(ie.Fix, "--spec") {
		t.Errorf("missing spec file: %v", err)
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]bool{
		"PATH": true, "_x": true, "A1_b": true, "a": true,
		"": false, "1A": false, "A-B": false, "A B": false, "É": false, "A=B": false, "A\x00": false,
	} {
		if got := envName(key); got != want {
			t.Errorf("envName(%q) = %v, want %v", key, got, want)
		}
	}
}
