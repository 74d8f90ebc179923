package spec

import (
	"slices"
	"strings"
	"testing"
)

func TestModuleMarkers(t *testing.T) {
	tests := []struct {
		mod  Module
		want []string
	}{
		{Module{Name: "parachute-vault"}, []string{"parachute-vault"}},
		{Module{Name: "Parachute-Vault"}, []string{"parachute-vault"}},
		{Module{Name: "parachute-scribe", InstallDir: "/home/op/.bun/install/global/node_modules/@openparachute/scribe/"}, []string{"parachute-scribe", "/home/op/.bun/install/global/node_modules/@openparachute/scribe"}},
		{Module{Name: "my-module", InstallDir: "/opt/parachute/m"}, []string{"my-module", "/opt/parachute/m"}},
		// A bare short of any era is never evidence.
		{Module{Name: "runner"}, nil},
		{Module{Name: "vault"}, nil},
		{Module{Name: "app", InstallDir: "/opt/app"}, []string{"/opt/app"}},
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
		if got := tt.mod.Markers(); !slices.Equal(got, tt.want) {
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
		{[]string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}, []string{pkg + "/src/cli.ts", pkg}},
		{[]string{"bun", "--smol", pkg + "/src/cli.ts", "serve"}, []string{pkg + "/src/cli.ts", pkg}},
		{[]string{"/usr/bin/env", "FOO=1", "bun", "run", pkg + "/src/cli.ts"}, []string{pkg + "/src/cli.ts", pkg}},
		{[]string{"/usr/bin/node.exe", "/opt/hub/main.js"}, []string{"/opt/hub/main.js"}},
		{[]string{"/usr/local/bin/parachute-hub", "serve"}, []string{"/usr/local/bin/parachute-hub"}},
		{[]string{"my-hub", "serve"}, []string{"my-hub"}},
		// No evidence: a relative script, a bare runtime, bare "parachute".
		{[]string{"bun", "server.ts"}, nil},
		{[]string{"bun"}, nil},
		{[]string{"parachute", "serve"}, nil},
		{[]string{"/hub", "serve"}, nil},
		{[]string{"/usr/bin/bun", "/src/cli.ts"}, []string{"/src/cli.ts"}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := (Desired{HubCommand: tt.cmd}).HubMarkers(); !slices.Equal(got, tt.want) {
			t.Errorf("HubMarkers(%q) = %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

func TestAttributes(t *testing.T) {
	pkg := "/home/op/.bun/install/global/node_modules/@openparachute/hub"
	vault := Module{Name: "parachute-vault", InstallDir: "/home/op/.bun/install/global/node_modules/@openparachute/vault"}.Markers()
	runner := Module{Name: "parachute-runner"}.Markers()
	x := Module{Name: "parachute-x", InstallDir: "/opt/parachute/m"}.Markers()
	hub := Desired{HubCommand: []string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}}.HubMarkers()
	tests := []struct {
		name    string
		markers []string
		argv    []string
		exe     string
		cwd     string
		want    string // "" for not attributed
	}{
		{"vault by name", vault, []string{"bun", "/home/op/.bun/bin/parachute-vault", "serve"}, "/home/op/.bun/bin/bun", "/", "parachute-vault"},
		{"vault by name, upper case", vault, []string{"/opt/bin/PARACHUTE-VAULT", "serve"}, "", "", "parachute-vault"},
		{"vault mount process", vault, []string{"parachute-vault-work", "serve"}, "", "", "parachute-vault"},
		{"vault by install dir in argv", vault, []string{"bun", "/home/op/.bun/install/global/node_modules/@openparachute/vault/src/cli.ts"}, "", "", vault[1]},
		{"vault by cwd", vault, []string{"bun", "src/server.ts"}, "", "/home/op/.bun/install/global/node_modules/@openparachute/vault/dist", vault[1]},
		{"vault by exe", vault, []string{"vaultd"}, "/usr/local/bin/parachute-vault", "", "parachute-vault"},
		{"compiled exe", runner, []string{"runner"}, "/opt/bin/parachute-runner.exe", "", "parachute-runner"},
		{"hub by cli path", hub, []string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}, "", "", pkg + "/src/cli.ts"},
		{"detached-era hub-server", hub, []string{"bun", pkg + "/src/hub-server.ts", "--port", "1939"}, "", "", pkg},
		{"hub by cwd", hub, []string{"bun", "src/hub-server.ts"}, "", pkg, pkg},

		// Negative cases.
		{"CI runner is not parachute-runner", runner, []string{"/home/ci/actions-runner/bin/Runner.Listener", "run"}, "/home/ci/actions-runner/bin/Runner.Listener", "/home/ci/actions-runner", ""},
		{"bare runner marker is ignored", []string{"runner"}, []string{"runner", "--once"}, "/usr/bin/runner", "", ""},
		{"sibling module", vault, []string{"parachute-scribe", "serve"}, "", "", ""},
		{"sibling sharing a prefix", x, []string{"parachute-xy", "serve"}, "", "", ""},
		{"name inside a longer name", x, []string{"my-parachute-x", "serve"}, "", "", ""},
		{"sibling install dir", x, []string{"bun", "/opt/parachute/m2/server.ts"}, "", "/opt/parachute/m2", ""},
		{"install dir below another root", x, []string{"bun", "/srv/opt/parachute/m/server.ts"}, "", "/srv/opt/parachute/m", ""},
		{"bun server.ts on the hub port", hub, []string{"bun", "server.ts"}, "/home/op/.bun/bin/bun", "/home/op/dev/site", ""},
		{"bun server.ts marker is nothing", Desired{HubCommand: []string{"bun", "server.ts"}}.HubMarkers(), []string{"bun", "server.ts"}, "/usr/bin/bun", "/tmp", ""},
		{"generic runtime marker ignored", []string{"bun", "/"}, []string{"bun", "x.ts"}, "/usr/bin/bun", "/", ""},
		{"empty marker ignored", []string{""}, []string{"anything"}, "", "", ""},
		{"shallow path marker ignored", []string{"/opt"}, []string{"/opt/x/server"}, "/opt/x/server", "/opt/x", ""},
		{"unreadable details", vault, nil, "", "", ""},
		{"the hub is not a module", vault, []string{"/home/op/.bun/bin/bun", pkg + "/src/cli.ts", "serve"}, "", "", ""},
		{"a module is not the hub", hub, []string{"parachute-vault", "serve"}, "", "/home/op", ""},
	}
	for _, tt := range tests {
		got, ok := Attributes(tt.markers, tt.argv, tt.exe, tt.cwd)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("%s: Attributes(%q, %q, %q, %q) = %q, %v; want %q", tt.name, tt.markers, tt.argv, tt.exe, tt.cwd, got, ok, tt.want)
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
