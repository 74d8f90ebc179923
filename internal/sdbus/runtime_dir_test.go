package sdbus

import (
	"strings"
	"testing"

	"github.com/parachute/reconcile/spec"
)

// TestUserEndpointsNeverAnotherUsersRuntimeDir pins a defect in
// Endpoints (address.go, the user scope): $XDG_RUNTIME_DIR and
// $DBUS_SESSION_BUS_ADDRESS are trusted whoever they belong to. `su bob`
// (no dash) from alice's desktop session keeps alice's
// XDG_RUNTIME_DIR=/run/user/1000 and her bus address, so a run as uid 1001
// dials only alice's bus and alice's user manager (/run/user/1000/…) and
// never bob's own /run/user/1001/bus. As bob the dial fails with EACCES and
// the run is "blocked: manager unreachable" although bob's manager is up;
// as root (sudo -E, --scope user) EXTERNAL auth as uid 0 is accepted by
// alice's bus and her manager's private socket, so the observation and the
// unit steps would go to another user's manager. A runtime dir of the form
// /run/user/<N> with N != uid is provably someone else's: it must be passed
// over in favour of /run/user/<uid>.
func TestUserEndpointsNeverAnotherUsersRuntimeDir(t *testing.T) {
	getenv := env(
		"XDG_RUNTIME_DIR", "/run/user/1000",
		"DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus",
		"USER", "bob",
	)
	exists := files("/run/user/1000/bus", "/run/user/1000/systemd/private",
		"/run/user/1001/bus", "/run/user/1001/systemd/private")
	eps, err := Endpoints(string(spec.ScopeUser), 1001, getenv, exists)
	if err != nil {
		t.Fatalf("Endpoints: %v", err)
	}
	own := false
	for _, e := range eps {
		if strings.HasPrefix(e.Socket, "/run/user/1000/") {
			t.Errorf("uid 1001 would dial uid 1000's socket %s (endpoints %+v)", e.Socket, eps)
		}
		if e.Socket == "/run/user/1001/bus" || e.Socket == "/run/user/1001/systemd/private" {
			own = true
		}
	}
	if !own {
		t.Errorf("uid 1001's own /run/user/1001 sockets are never tried: %+v", eps)
	}
}
