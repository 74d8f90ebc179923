package unitfile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/parachute/reconcile/spec"
)

func desired(uid int, home string, m spec.Manager, s spec.Scope) spec.Desired {
	return spec.Desired{
		Manager: m, Scope: s,
		User: spec.User{Name: "op", UID: uid, Home: home},
		Manifest: spec.Manifest{Modules: []spec.Module{
			{Name: "parachute-vault", Short: "vault", Port: 1940},
			{Name: "parachute-runner", Short: "parachute-runner", Port: 1945, LegacyShorts: []string{"runner"}},
			{Name: "custom", Short: "custom", Port: 1950},
			{Name: "bad", Short: "bad/short", Port: 1951},
		}},
	}
}

func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		goos    string
		d       spec.Desired
		want    Location // Stale not compared here
		wantErr string
	}{
		{"linux user auto", "linux", desired(1000, "/home/op", spec.ManagerAuto, spec.ScopeAuto), Location{
			Manager: "systemd", Scope: "user", Name: "parachute-hub.service",
			Path: "/home/op/.config/systemd/user/parachute-hub.service", Root: "/home/op",
			OtherScope: "system", OtherPath: "/etc/systemd/system/parachute-hub.service"}, ""},
		{"linux root auto", "linux", desired(0, "/root", spec.ManagerAuto, spec.ScopeAuto), Location{
			Manager: "systemd", Scope: "system", Name: "parachute-hub.service",
			Path: "/etc/systemd/system/parachute-hub.service", Root: "/etc/systemd/system",
			OtherScope: "user", OtherPath: "/root/.config/systemd/user/parachute-hub.service"}, ""},
		{"linux root forced user", "linux", desired(0, "/root", spec.ManagerSystemd, spec.ScopeUser), Location{
			Manager: "systemd", Scope: "user", Name: "parachute-hub.service",
			Path: "/root/.config/systemd/user/parachute-hub.service", Root: "/root",
			OtherScope: "system", OtherPath: "/etc/systemd/system/parachute-hub.service"}, ""},
		{"linux user forced system", "linux", desired(1000, "/home/op", spec.ManagerAuto, spec.ScopeSystem), Location{
			Manager: "systemd", Scope: "system", Name: "parachute-hub.service",
			Path: "/etc/systemd/system/parachute-hub.service", Root: "/etc/systemd/system",
			OtherScope: "user", OtherPath: "/home/op/.config/systemd/user/parachute-hub.service"}, ""},
		{"linux system without home", "linux", desired(0, "", spec.ManagerAuto, spec.ScopeAuto), Location{
			Manager: "systemd", Scope: "system", Name: "parachute-hub.service",
			Path: "/etc/systemd/system/parachute-hub.service", Root: "/etc/systemd/system", OtherScope: "user"}, ""},
		{"darwin", "darwin", desired(501, "/Users/op", spec.ManagerAuto, spec.ScopeAuto), Location{
			Manager: "launchd", Scope: "gui/501", Name: "computer.parachute.hub",
			Path: "/Users/op/Library/LaunchAgents/computer.parachute.hub.plist", Root: "/Users/op"}, ""},
		{"darwin explicit launchd user", "darwin", desired(501, "/Users/op", spec.ManagerLaunchd, spec.ScopeUser), Location{
			Manager: "launchd", Scope: "gui/501", Name: "computer.parachute.hub",
			Path: "/Users/op/Library/LaunchAgents/computer.parachute.hub.plist", Root: "/Users/op"}, ""},
		{"freebsd has none", "freebsd", desired(1000, "/home/op", spec.ManagerAuto, spec.ScopeAuto), Location{}, ""},
		{"launchd on linux", "linux", desired(1000, "/home/op", spec.ManagerLaunchd, spec.ScopeAuto), Location{}, "manager launchd is not available on linux"},
		{"systemd on darwin", "darwin", desired(501, "/Users/op", spec.ManagerSystemd, spec.ScopeAuto), Location{}, "manager systemd is not available on darwin"},
		{"launchd system scope", "darwin", desired(0, "/var/root", spec.ManagerAuto, spec.ScopeSystem), Location{}, "scope system is not supported with launchd"},
		{"unknown manager", "linux", desired(1000, "/home/op", "upstart", spec.ScopeAuto), Location{}, `unknown manager "upstart"`},
		{"unknown scope", "linux", desired(1000, "/home/op", spec.ManagerAuto, "global"), Location{}, `unknown scope "global"`},
		{"user unit without home", "linux", desired(1000, "", spec.ManagerAuto, spec.ScopeAuto), Location{}, "not an absolute path"},
		{"relative home", "darwin", desired(501, "op", spec.ManagerAuto, spec.ScopeAuto), Location{}, "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Locate(tc.goos, tc.d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Stale = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Locate = %+v\nwant     %+v", got, tc.want)
			}
		})
	}
}

func TestLocateStale(t *testing.T) {
	loc, err := Locate("linux", desired(1000, "/home/op", spec.ManagerAuto, spec.ScopeAuto))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range loc.Stale {
		names = append(names, s.Name)
	}
	// The hub's catalogue only: rows "custom" and "parachute-runner" add no
	// stale unit names (an operator's parachute-custom.service is theirs).
	want := []string{"parachute-agent.service", "parachute-app.service", "parachute-channel.service",
		"parachute-notes.service", "parachute-runner.service", "parachute-scribe.service",
		"parachute-surface.service", "parachute-vault.service"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("stale names %q\nwant %q", names, want)
	}
	if s := loc.Stale[len(loc.Stale)-1]; s.Path != "/home/op/.config/systemd/user/parachute-vault.service" ||
		s.OtherPath != "/etc/systemd/system/parachute-vault.service" || s.Short != "vault" {
		t.Errorf("vault stale entry %+v", s)
	}
	mac, err := Locate("darwin", desired(501, "/Users/op", spec.ManagerAuto, spec.ScopeAuto))
	if err != nil {
		t.Fatal(err)
	}
	if s := mac.Stale[0]; s.Name != "computer.parachute.agent" || s.Path != "/Users/op/Library/LaunchAgents/computer.parachute.agent.plist" || s.OtherPath != "" {
		t.Errorf("launchd stale entry %+v", s)
	}
}

func TestStaleUnitName(t *testing.T) {
	for _, tc := range []struct {
		manager, short, want string
	}{
		{"systemd", "vault", "parachute-vault.service"},
		{"launchd", "vault", "computer.parachute.vault"},
		{"systemd", "hub", ""},
		{"launchd", "hub", ""},
		{"systemd", "cloudflared", ""},
		{"systemd", "cloudflared-mytunnel", ""},
		{"launchd", "cloudflared.mytunnel", ""},
		{"systemd", "../etc", ""},
		{"systemd", "a b", ""},
		{"systemd", "", ""},
		{"systemd", "-x", ""},
		{"upstart", "vault", ""},
	} {
		got, ok := StaleUnitName(spec.Manager(tc.manager), tc.short)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("StaleUnitName(%q, %q) = %q, %v; want %q", tc.manager, tc.short, got, ok, tc.want)
		}
	}
}

func TestEnrichedUnitPath(t *testing.T) {
	for _, tc := range []struct {
		name                                 string
		bun, home, goos, goarch, extra, want string
	}{
		{"linux", "/home/op/.bun", "/home/op", "linux", "amd64", "",
			"/home/op/.bun/bin:/usr/local/bin:/usr/bin:/bin:/home/op/.local/bin"},
		{"darwin arm64", "/Users/op/.bun", "/Users/op", "darwin", "arm64", "",
			"/Users/op/.bun/bin:/usr/local/bin:/usr/bin:/bin:/Users/op/.local/bin:/opt/homebrew/bin"},
		{"darwin amd64 dedupes brew", "/Users/op/.bun", "/Users/op", "darwin", "amd64", "",
			"/Users/op/.bun/bin:/usr/local/bin:/usr/bin:/bin:/Users/op/.local/bin"},
		{"extra first, empties dropped, dupes dropped", "/home/op/.bun", "/home/op", "linux", "amd64", ":/opt/x::/usr/bin:/opt/x:",
			"/opt/x:/usr/bin:/home/op/.bun/bin:/usr/local/bin:/bin:/home/op/.local/bin"},
		{"other bun install keeps ~/.bun/bin last", "/opt/bun", "/home/op", "linux", "amd64", "",
			"/opt/bun/bin:/usr/local/bin:/usr/bin:/bin:/home/op/.local/bin:/home/op/.bun/bin"},
	} {
		if got := EnrichedUnitPath(tc.bun, tc.home, tc.goos, tc.goarch, tc.extra); got != tc.want {
			t.Errorf("%s: got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestNewHubAndRender(t *testing.T) {
	d := desired(0, "/root", spec.ManagerAuto, spec.ScopeAuto)
	d.Home, d.HubPort = "/root/.parachute", 1939
	d.HubCommand = []string{"/root/.bun/bin/bun", "/x/cli.ts", "serve"}
	d.User.Name = "root"
	loc, err := Locate("linux", d)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHub("linux", "amd64", d, loc)
	if !h.SystemUnit {
		t.Error("root's hub is not a system unit")
	}
	data, err := Render(loc, h)
	if err != nil {
		t.Fatal(err)
	}
	if diffs, err := Compare(loc.Manager, data, data); err != nil || len(diffs) != 0 {
		t.Errorf("Compare(self) = %q, %v", diffs, err)
	}
	opts, _ := ParseSystemd(data)
	if u, _ := opts.Last("Service", "User"); u != "root" {
		t.Errorf("User=%q", u)
	}
	if _, err := Render(Location{}, h); err == nil {
		t.Error("rendered without a manager")
	}
}

func TestUnescapeSpecifiers(t *testing.T) {
	for in, want := range map[string]string{"50%%": "50%", "% x": "% x", "a%": "a%", "%%%%": "%%", "%!": "%!", "%h": "", "x%u": ""} {
		got, err := unescapeSpecifiers(in)
		if want == "" {
			if err == nil {
				t.Errorf("unescapeSpecifiers(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("unescapeSpecifiers(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
