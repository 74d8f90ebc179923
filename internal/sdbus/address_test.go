package sdbus

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/parachute/reconcile/spec"
)

// TestMain checks that no connection goroutine outlives its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func files(paths ...string) func(string) bool {
	m := map[string]bool{}
	for _, p := range paths {
		m[p] = true
	}
	return func(p string) bool { return m[p] }
}

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scope   string
		uid     int
		getenv  func(string) string
		exists  func(string) bool
		want    []Endpoint
		wantErr string
	}{
		{"user from cron: derived from uid, private socket first", "user", 1000, env(), files("/run/user/1000/bus", "/run/user/1000/systemd/private"), []Endpoint{
			{Address: "unix:path=/run/user/1000/systemd/private", Socket: "/run/user/1000/systemd/private", Private: true},
			{Address: "unix:path=/run/user/1000/bus", Socket: "/run/user/1000/bus"},
		}, ""},
		{"user with XDG_RUNTIME_DIR", "user", 1000, env("XDG_RUNTIME_DIR", "/run/user/1000"), files("/run/user/1000/bus"), []Endpoint{
			{Address: "unix:path=/run/user/1000/bus", Socket: "/run/user/1000/bus"},
		}, ""},
		{"user session bus address wins", "user", 1000, env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/my%20bus,guid=abc"), files("/tmp/my bus"), []Endpoint{
			{Address: "unix:path=/tmp/my%20bus", Socket: "/tmp/my bus"},
		}, ""},
		{"user without bus daemon: private socket", "user", 1000, env(), files("/run/user/1000/systemd/private"), []Endpoint{
			{Address: "unix:path=/run/user/1000/systemd/private", Socket: "/run/user/1000/systemd/private", Private: true},
		}, ""},
		{"user abstract socket is tried unchecked", "user", 1000, env("DBUS_SESSION_BUS_ADDRESS", "unix:abstract=/tmp/dbus-x;autolaunch:"), files(), []Endpoint{
			{Address: "unix:abstract=/tmp/dbus-x"},
		}, ""},
		{"user without session nor linger", "user", 1000, env("USER", "op"), files(), nil,
			"user manager unreachable: /run/user/1000/bus does not exist (no user session and linger off? run `loginctl enable-linger op`)"},
		{"user name falls back to uid", "user", 1001, env(), files(), nil, "run `loginctl enable-linger 1001`"},
		{"autolaunch ignored, derived bus used", "user", 1000, env("DBUS_SESSION_BUS_ADDRESS", "autolaunch:"), files("/run/user/1000/bus"), []Endpoint{
			{Address: "unix:path=/run/user/1000/bus", Socket: "/run/user/1000/bus"},
		}, ""},
		{"unixexec refused and named", "user", 1000, env("DBUS_SESSION_BUS_ADDRESS", "unixexec:path=/bin/sh"), files(), nil,
			`DBUS_SESSION_BUS_ADDRESS ignored: bus address "unixexec:path=/bin/sh" has no unix:path= or unix:abstract= entry (refusing ["unixexec"]: never autolaunch or leave the machine)`},
		{"tcp refused", "system", 0, env("DBUS_SYSTEM_BUS_ADDRESS", "tcp:host=10.0.0.1,port=1"), files(SystemPrivateSocket), []Endpoint{
			{Address: "unix:path=/run/systemd/private", Socket: SystemPrivateSocket, Private: true},
		}, ""},
		{"system as root: private socket first, as systemctl", "system", 0, env(), files(SystemBusSocket, SystemPrivateSocket), []Endpoint{
			{Address: "unix:path=/run/systemd/private", Socket: SystemPrivateSocket, Private: true},
			{Address: "unix:path=/run/dbus/system_bus_socket", Socket: SystemBusSocket},
		}, ""},
		{"system as a user: no private socket", "system", 1000, env(), files(SystemBusSocket, SystemPrivateSocket), []Endpoint{
			{Address: "unix:path=/run/dbus/system_bus_socket", Socket: SystemBusSocket},
		}, ""},
		{"system without systemd", "system", 0, env(), files(), nil,
			"system manager unreachable: /run/dbus/system_bus_socket does not exist (is systemd running as PID 1?)"},
		{"bad scope", "global", 0, env(), files(), nil, `unknown systemd scope "global"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Endpoints(tc.scope, tc.uid, tc.getenv, tc.exists)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Endpoints = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDialNoSocket(t *testing.T) {
	dir := t.TempDir()
	_, err := Dial(context.Background(), string(spec.ScopeUser), 4242, env("XDG_RUNTIME_DIR", dir, "USER", "op"))
	want := "user manager unreachable: " + filepath.Join(dir, "bus") + " does not exist (no user session and linger off? run `loginctl enable-linger op`)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestLingerIn(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "op"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user    string
		want    bool
		wantErr bool
	}{
		{"op", true, false},
		{"other", false, false},
		{"", false, true},
		{"..", false, true},
		{"../etc/passwd", false, true},
	} {
		got, err := LingerIn(dir, tc.user)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("LingerIn(%q) = %v, %v; want %v, error %v", tc.user, got, err, tc.want, tc.wantErr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Linger(ctx, "op"); err == nil {
		t.Error("Linger with a cancelled context did not fail")
	}
}
