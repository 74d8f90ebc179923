// Package sdbus talks to a systemd manager — the system manager or one
// user's — over D-Bus, and to logind for linger. The reads (unit
// properties, load states) speak the wire format themselves (wire.go,
// wireconn.go): a flight of calls in one write, the answers read by the
// caller. The changes go through github.com/coreos/go-systemd/v22/dbus on a
// second connection, dialled on the first change. It exposes only what observe and actuate need (unit
// properties, daemon-reload, enable, disable, start, stop, reset-failed,
// linger) behind its own types; no go-systemd or godbus type crosses its
// API.
//
// sdbus never launches anything to find a bus: no dbus-launch autolaunch,
// no unixexec: transports. It connects only to unix: addresses it derived
// or was given, and says precisely why when there is none (no user session,
// linger off). Reading properties changes nothing; the mutating methods
// (Reload, Enable, Disable, Start, Stop, ResetFailed, EnableLinger) are for
// actuate alone.
package sdbus
