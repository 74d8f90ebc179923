package spec

import (
	"slices"
	"strings"
	"testing"
)

func values(ms []Marker) []string {
	var out []string
	for _, m := range ms {
		v := m.Value
		if m.Cwd {
			v += " (cwd)"
		}
		out = append(out, v)
	}
	return out
}

func TestModuleMarkers(t *testing.T) {
	tests := []struct {
		mod  Module
		want []string
	}{
		{Module{Name: "parachute-vault"}, []string{"parachute-vault", "@openparachute/vault"}},
		{Module{Name: "Parachute-Vault"}, []string{"parachute-vault"}}, // the hub maps names case-sensitively
		{Module{Name: "parachute-vault-work"}, []string{"parachute-vault-work", "parachute-vault"}},
		{Module{Name: "parachute-scribe", InstallDir: "/home/op/.bun/install/global/node_modules/@openparachute/scribe/"}, []string{"parachute-scribe", "@openparachute/scribe", "/home/op/.bun/install/global/node_modules/@openparachute/scribe (cwd)"}},
		{Module{Name: "my-module", InstallDir: "/opt/parachute/m"}, []string{"my-module", "/opt/parachute/m (cwd)"}},
		{Module{Name: "parachute-runner"}, []string{"parachute-runner"}},
		// A bare short of any era is never evidence.
		{Module{Name: "runner"}, nil},
		{Module{Name: "vault"}, nil},
		{Module{Name: "app", InstallDir: "/opt/app"}, []string{"/opt/app (cwd)"}},
		{Module{Name: "agent"}, nil},
		{Module{Name: "lens"}, nil},
		{Module{Name: "parachute"}, nil},
		{Module{Name: "parachute-"}, nil},
		{Module{Name: "node"}, nil},
		{Module{Name: "ab"}, nil},
		// installDir must be an absolute path at least two deep.
		{Module{Name: "my-module", InstallDir: "relative/dir"}, []string{"my-module"}},
		{Module{Name: "my-module", InstallDir: "/"}, []string{"my-module"}},
		{Module{Name: "my-module", InstallDir: "/opt"}, []string{"my-module"}},
	}
	for _, tt := range tests {
		if got := values(tt.mod.Markers()); !slices.Equal(got, tt.want) {
			t.Errorf("%+v.Markers() = %q, want %q", tt.mod, got, tt.want)
		}
	}
}

func TestHubMarkers(t *testing.T) {
	pkg := "/home/op/.bun/install/global/node_modules/@openparachute/hub"
	tests := []struct {
		cmd  []string
		want []string
	}{
		{[]string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}, []string{HubPackage, pkg + "/src/cli.ts", pkg}},
		{[]string{"bun", "--smol", pkg + "/src/cli.ts", "serve"}, []string{HubPackage, pkg + "/src/cli.ts", pkg}},
		{[]string{"/usr/bin/env", "FOO=1", "bun", "run", pkg + "/src/cli.ts"}, []string{HubPackage, pkg + "/src/cli.ts", pkg}},
		{[]string{"/usr/bin/node.exe", "/opt/hub/main.js"}, []string{HubPackage, "/opt/hub/main.js"}},
		{[]string{"/usr/local/bin/parachute-hub", "serve"}, []string{HubPackage, "/usr/local/bin/parachute-hub"}},
		// No evidence beyond the package: a relative command or script, a
		// bare runtime, bare "parachute", a shallow path.
		{[]string{"my-hub", "serve"}, []string{HubPackage}},
		{[]string{"bun", "server.ts"}, []string{HubPackage}},
		{[]string{"bun"}, []string{HubPackage}},
		{[]string{"parachute", "serve"}, []string{HubPackage}},
		{[]string{"/hub", "serve"}, []string{HubPackage}},
		{[]string{"/usr/bin/bun", "/src/cli.ts"}, []string{HubPackage, "/src/cli.ts"}},
		{nil, []string{HubPackage}},
	}
	for _, tt := range tests {
		if got := values((Desired{HubCommand: tt.cmd}).HubMarkers()); !slices.Equal(got, tt.want) {
			t.Errorf("HubMarkers(%q) = %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

func TestAttributes(t *testing.T) {
	pkg := "/home/op/.bun/install/global/node_modules/@openparachute/hub"
	home := "/home/op/.parachute"
	vault := Module{Name: "parachute-vault", InstallDir: "/home/op/.bun/install/global/node_modules/@openparachute/vault"}.Markers()
	notes := Module{Name: "parachute-notes"}.Markers()
	runner := Module{Name: "parachute-runner"}.Markers()
	x := Module{Name: "parachute-x", InstallDir: "/opt/parachute/m"}.Markers()
	inHome := Module{Name: "my-module", InstallDir: home}.Markers()
	hub := Desired{HubCommand: []string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}}.HubMarkers()
	tests := []struct {
		name    string
		markers []Marker
		argv    []string
		exe     string
		cwd     string
		want    string // the marker, "" for not attributed
		field   string
	}{
		{"vault by bin link", vault, []string{"bun", "/home/op/.bun/bin/parachute-vault", "serve"}, "/home/op/.bun/bin/bun", "/", "parachute-vault", "argv[1]"},
		{"vault by argv[0], upper case", vault, []string{"/opt/bin/PARACHUTE-VAULT", "serve"}, "", "", "parachute-vault", "argv[0]"},
		{"vault by package path", vault, []string{"bun", "/srv/node_modules/@openparachute/vault/src/cli.ts"}, "", "", "@openparachute/vault", "argv[1]"},
		{"vault by install dir in argv", vault, []string{"bun", "/home/op/.bun/install/global/node_modules/@openparachute/vault/src/cli.ts"}, "", "", "@openparachute/vault", "argv[1]"},
		{"vault by cwd", vault, []string{"bun", "src/server.ts"}, "", "/home/op/.bun/install/global/node_modules/@openparachute/vault/dist", vault[2].Value, "cwd"},
		{"vault by exe", vault, []string{"vaultd"}, "/usr/local/bin/parachute-vault", "", "parachute-vault", "exe"},
		{"notes through the hub's bundle-serve", notes, []string{"bun", pkg + "/src/bundle-serve.ts", "--port", "1942", "--package", "@openparachute/notes"}, "", "", "@openparachute/notes", "argv[5]"},
		{"a flag's value", notes, []string{"bun", "serve.ts", "--package=@openparachute/notes"}, "", "", "@openparachute/notes", "argv[2]"},
		{"hub by cli path", hub, []string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}, "", "", HubPackage, "argv[1]"},
		{"detached-era hub-server elsewhere", hub, []string{"bun", "/opt/old/node_modules/@openparachute/hub/src/hub-server.ts", "--port", "1939"}, "", "", HubPackage, "argv[1]"},

		// Negative cases.
		{"a name inside a longer directory name", notes, []string{"/usr/bin/python3", "/srv/tools/parachute-notes-backup/server.py"}, "/usr/bin/python3.11", "/srv/tools/parachute-notes-backup", "", ""},
		{"a name as a suffix", x, []string{"my-parachute-x", "serve"}, "", "", "", ""},
		{"a name as a prefix", x, []string{"parachute-xy", "serve"}, "", "", "", ""},
		{"a compiled exe with a suffix", runner, []string{"runner"}, "/opt/bin/parachute-runner.exe", "", "", ""},
		{"CI runner is not parachute-runner", runner, []string{"/home/ci/actions-runner/bin/Runner.Listener", "run"}, "/home/ci/actions-runner/bin/Runner.Listener", "/home/ci/actions-runner", "", ""},
		{"bare runner marker is ignored", []Marker{{Value: "runner"}}, []string{"runner", "--once"}, "/usr/bin/runner", "", "", ""},
		{"the word parachute is ignored", []Marker{{Value: "parachute"}}, []string{"tail", "-f", home + "/hub/logs/hub.log"}, "/usr/bin/tail", home, "", ""},
		{"the home is never evidence", inHome, []string{"sh"}, "/bin/sh", home, "", ""},
		{"nor a directory above it", []Marker{{Value: "/home/op", Cwd: true}}, []string{"tail", "-f", home + "/hub/logs/hub.log"}, "/usr/bin/tail", home, "", ""},
		{"sibling module", vault, []string{"parachute-scribe", "serve"}, "", "", "", ""},
		{"sibling install dir", x, []string{"bun", "/opt/parachute/m2/server.ts"}, "", "/opt/parachute/m2", "", ""},
		{"install dir below another root", x, []string{"bun", "/srv/opt/parachute/m/server.ts"}, "", "/srv/opt/parachute/m", "", ""},
		{"the hub's cwd is no evidence", hub, []string{"/usr/bin/python3", "-m", "http.server"}, "/usr/bin/python3", pkg, "", ""},
		{"bun server.ts on the hub port", hub, []string{"bun", "server.ts"}, "/home/op/.bun/bin/bun", "/home/op/dev/site", "", ""},
		{"generic runtime marker ignored", []Marker{{Value: "bun"}, {Value: "/"}}, []string{"bun", "x.ts"}, "/usr/bin/bun", "/", "", ""},
		{"empty marker ignored", []Marker{{}}, []string{"anything"}, "", "", "", ""},
		{"a scope alone is no package", []Marker{{Value: "@openparachute/"}}, []string{"/x/@openparachute/y"}, "", "", "", ""},
		{"shallow path marker ignored", []Marker{{Value: "/opt", Cwd: true}}, []string{"/opt/x/server"}, "/opt/x/server", "/opt/x", "", ""},
		{"unreadable details", vault, nil, "", "", "", ""},
		{"the hub is not a module", vault, []string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}, "", "", "", ""},
		{"a module is not the hub", hub, []string{"parachute-vault", "serve"}, "", "/home/op", "", ""},
	}
	for _, tt := range tests {
		got, ok := Attributes(tt.markers, home, tt.argv, tt.exe, tt.cwd)
		if ok != (tt.want != "") || got.Marker.Value != tt.want || got.Field != tt.field {
			t.Errorf("%s: Attributes(%q, %q, %q, %q) = %+v, %v; want %q in %q", tt.name, values(tt.markers), tt.argv, tt.exe, tt.cwd, got, ok, tt.want, tt.field)
		}
	}
}

func TestUnsafeShortReasons(t *testing.T) {
	for short, frag := range map[string]string{
		"../etc": "path separator", "a/b": "path separator", `a\b`: "path separator",
		".": "relative directory", "..": "relative directory", ".hidden": "starts with a dot",
		"x\x00y": "control characters", "x\ny": "control characters", "x\x7f": "control characters",
		"\xed\xa0\x80": "not valid Unicode", "hub": "hub's own",
	} {
		if got := unsafeShort(short); !strings.Contains(got, frag) {
			t.Errorf("unsafeShort(%q) = %q, want it to mention %q", short, got, frag)
		}
	}
	for _, short := range []string{"vault", "parachute-runner", "Parachute-Vault", "my module", "modül", "hub2", "a.b", "a..b"} {
		if got := unsafeShort(short); got != "" {
			t.Errorf("unsafeShort(%q) = %q, want safe", short, got)
		}
	}
}

func TestProgram(t *testing.T) {
	for _, tt := range []struct{ argv, want []string }{
		{[]string{"/usr/bin/vim", "/x/@openparachute/hub/src/cli.ts"}, []string{"/usr/bin/vim"}},
		{[]string{"bun", "/x/@openparachute/hub/src/cli.ts", "serve"}, []string{"bun", "/x/@openparachute/hub/src/cli.ts"}},
		{[]string{"/usr/bin/env", "FOO=1", "bun", "--smol", "run", "/x/cli.ts", "serve"}, []string{"/usr/bin/env", "FOO=1", "bun", "--smol", "run", "/x/cli.ts"}},
		{[]string{"python3", "-m", "http.server"}, []string{"python3", "-m", "http.server"}},
		{[]string{"bun"}, []string{"bun"}},
		{nil, nil},
	} {
		if got := Program(tt.argv); !slices.Equal(got, tt.want) {
			t.Errorf("Program(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}
