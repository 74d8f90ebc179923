package sdbus

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/spec"
)

// Well-known socket paths.
const (
	// SystemBusSocket is the system bus (DBUS_SYSTEM_BUS_ADDRESS's default).
	SystemBusSocket = "/run/dbus/system_bus_socket"
	// SystemPrivateSocket is the system manager's own socket, usable by root
	// without a bus daemon.
	SystemPrivateSocket = "/run/systemd/private"
	// RuntimeDirBase is where logind makes each user's XDG_RUNTIME_DIR
	// (/run/user/<uid>).
	RuntimeDirBase = "/run/user"
)

// Endpoint is one place a manager can be reached.
type Endpoint struct {
	// Address is the D-Bus address dialled, always a unix: one.
	Address string
	// Socket is the socket file behind Address ("" for an abstract socket).
	Socket string
	// Private is true for systemd's private socket (a peer-to-peer
	// connection: no bus daemon, no Hello).
	Private bool
}

// Endpoints lists, in the order Dial tries them, where the scope's manager
// can be reached for uid, from the environment getenv reads; exists reports
// whether a socket file exists (os.Stat in Dial, a fake in tests). Endpoints
// whose socket file is missing are left out; when none remains the error
// says precisely what is missing and what to do.
//
//   - system: for root only, /run/systemd/private first, then
//     $DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket;
//   - user: the user manager's private socket <runtime dir>/systemd/private
//     first, then $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus, else
//     /run/user/<uid>/bus (cron and su/sudo leave both variables unset).
//
// The private socket comes first because it is what systemctl itself
// dials (bus_connect_system_systemd and bus_connect_user_systemd): a
// direct connection to the manager, with no bus daemon relaying every
// message and no Hello round trip. The manager sends its signals (a job's
// JobRemoved) to every private connection unconditionally.
//
// Only unix: transports are dialled: an address in the environment with
// autolaunch:, unixexec:, tcp: or launchd: entries only is ignored (and
// named in the error if nothing else is found), so nothing is ever started
// or reached off the machine to find a bus.
func Endpoints(scope string, uid int, getenv func(string) string, exists func(string) bool) ([]Endpoint, error) {
	var out, candidates []Endpoint
	var ignored error // an environment address with nothing we may dial
	// fromEnv is the endpoints of the address in the environment variable
	// name; false when it has none we may dial.
	fromEnv := func(name string) ([]Endpoint, bool) {
		v := getenv(name)
		if v == "" {
			return nil, false
		}
		es, err := parseAddress(v)
		if err != nil {
			ignored = fmt.Errorf("%s ignored: %w", name, err)
			return nil, false
		}
		return es, true
	}
	var manager, hint string
	switch scope {
	case string(spec.ScopeSystem):
		manager, hint = "system", "is systemd running as PID 1?"
		if uid == 0 {
			candidates = append(candidates, Endpoint{Address: "unix:path=" + SystemPrivateSocket, Socket: SystemPrivateSocket, Private: true})
		}
		if es, ok := fromEnv("DBUS_SYSTEM_BUS_ADDRESS"); ok {
			candidates = append(candidates, es...)
		} else {
			candidates = append(candidates, Endpoint{Address: "unix:path=" + SystemBusSocket, Socket: SystemBusSocket})
		}
	case string(spec.ScopeUser):
		candidates = userCandidates(candidates, uid, getenv, fromEnv)
		who := getenv("USER")
		if who == "" {
			who = getenv("LOGNAME")
		}
		if who == "" {
			who = strconv.Itoa(uid)
		}
		manager, hint = "user", "no user session and linger off? run `loginctl enable-linger "+who+"`"
	default:
		return nil, fmt.Errorf("unknown systemd scope %q (want user or system)", scope)
	}
	var missing, missingPrivate []string
	for _, e := range candidates {
		switch {
		case e.Socket == "" || exists(e.Socket):
			out = append(out, e)
		case e.Private:
			missingPrivate = append(missingPrivate, e.Socket)
		default:
			missing = append(missing, e.Socket)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	// The bus is the path a person knows; the private socket is a
	// fallback they need not hear about.
	missing = append(missing, missingPrivate...)
	msg := fmt.Sprintf("%s manager unreachable: %s does not exist (%s)", manager, missing[0], hint)
	if ignored != nil {
		msg += "; " + ignored.Error()
	}
	return nil, &MissingError{msg: msg}
}

// userCandidates appends the user manager's endpoints for uid to
// candidates: the private socket and the bus under the runtime directory,
// the session bus address from the environment (fromEnv), and
// /run/user/<uid>'s own when the runtime directory is elsewhere. The
// environment may be another user's (`su bob` without `-` keeps alice's
// XDG_RUNTIME_DIR and bus address): a path under /run/user/<N> with N other
// than uid is provably not ours and is passed over; /run/user/<uid> is
// always tried last.
func userCandidates(candidates []Endpoint, uid int, getenv func(string) string, fromEnv func(string) ([]Endpoint, bool)) []Endpoint {
	own := filepath.Join(RuntimeDirBase, strconv.Itoa(uid))
	runtime := getenv("XDG_RUNTIME_DIR")
	if runtime == "" || !filepath.IsAbs(runtime) || othersRuntime(runtime, uid) {
		runtime = own
	}
	private := filepath.Join(runtime, "systemd", "private")
	candidates = append(candidates, Endpoint{Address: "unix:path=" + godbus.EscapeBusAddressValue(private), Socket: private, Private: true})
	envEndpoints, envBus := fromEnv("DBUS_SESSION_BUS_ADDRESS")
	candidates = append(candidates, envEndpoints...)
	kept := candidates[:0]
	for _, e := range candidates {
		if !othersRuntime(e.Socket, uid) {
			kept = append(kept, e)
		}
	}
	candidates = kept
	if !envBus || len(candidates) == 1 {
		bus := filepath.Join(runtime, "bus")
		candidates = append(candidates, Endpoint{Address: "unix:path=" + godbus.EscapeBusAddressValue(bus), Socket: bus})
	}
	if runtime != own {
		for _, p := range []string{filepath.Join(own, "bus"), filepath.Join(own, "systemd", "private")} {
			candidates = append(candidates, Endpoint{Address: "unix:path=" + godbus.EscapeBusAddressValue(p), Socket: p, Private: strings.HasSuffix(p, "private")})
		}
	}
	return candidates
}

// MissingError is Endpoints' (and Dial's) error when no socket of the
// manager exists: it is not running here, or, for a user, has no session
// and no linger. A person has to change that; any other dial or call error
// is a transport failure a rerun may not meet.
type MissingError struct{ msg string }

func (e *MissingError) Error() string { return e.msg }

// parseAddress reads a D-Bus server address list ("unix:path=/x,guid=…;…")
// and keeps its unix: entries with a path= or abstract= key.
func parseAddress(addr string) ([]Endpoint, error) {
	var out []Endpoint
	var refused []string
	for _, entry := range strings.Split(addr, ";") {
		if entry == "" {
			continue
		}
		transport, kv, ok := strings.Cut(entry, ":")
		if !ok || transport != "unix" {
			refused = append(refused, transport)
			continue
		}
		for _, pair := range strings.Split(kv, ",") {
			k, v, _ := strings.Cut(pair, "=")
			val, err := godbus.UnescapeBusAddressValue(v)
			if err != nil {
				return nil, fmt.Errorf("bus address %q: bad escape in %s=: %w", addr, k, err)
			}
			switch k {
			case "path":
				if !filepath.IsAbs(val) {
					return nil, fmt.Errorf("bus address %q: path %q is not absolute", addr, val)
				}
				out = append(out, Endpoint{Address: "unix:path=" + godbus.EscapeBusAddressValue(val), Socket: val})
			case "abstract":
				out = append(out, Endpoint{Address: "unix:abstract=" + godbus.EscapeBusAddressValue(val)})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bus address %q has no unix:path= or unix:abstract= entry (refusing %q: never autolaunch or leave the machine)", addr, refused)
	}
	return out, nil
}

// socketExists is Endpoints' exists on the real machine.
func socketExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// othersRuntime reports whether path lies under /run/user/<N> for an N
// other than uid: another user's runtime directory.
func othersRuntime(path string, uid int) bool {
	rest, ok := strings.CutPrefix(path, RuntimeDirBase+"/")
	if !ok {
		return false
	}
	n, _, _ := strings.Cut(rest, "/")
	id, err := strconv.Atoi(n)
	return err == nil && id != uid
}
