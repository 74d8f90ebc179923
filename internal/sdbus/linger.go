package sdbus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/spec"
)

// LingerDir is where logind keeps one empty file per user with linger on.
const LingerDir = "/var/lib/systemd/linger"

// Linger reports whether user has linger enabled, so that their user
// manager (and a user unit) runs without a login session and from boot.
//
// It reads /var/lib/systemd/linger/<user>: logind creates and removes that
// file in SetUserLinger and reads it at startup, so the file is the source
// of truth, needs no bus and works where logind is not running yet (a
// property read over login1 would need both). ctx is only checked for
// cancellation.
func Linger(ctx context.Context, user string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("linger of %s: %w", user, err)
	}
	return LingerIn(LingerDir, user)
}

// LingerIn is Linger with the linger directory passed in.
func LingerIn(dir, user string) (bool, error) {
	if user == "" || user == "." || user == ".." || strings.ContainsAny(user, "/\x00") {
		return false, fmt.Errorf("linger of %q: not a user name", user)
	}
	_, err := os.Lstat(filepath.Join(dir, user))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("linger of %s: %w", user, err)
}

// ErrNotPermitted is what EnableLinger's error wraps when logind (polkit)
// refuses this caller: only a person, as root, can turn linger on then.
var ErrNotPermitted = errors.New("not permitted")

// EnableLinger turns linger on for uid through logind
// (org.freedesktop.login1.Manager.SetUserLinger on the system bus, as
// `loginctl enable-linger` does). polkit lets a user enable their own linger
// without a password on stock systems; otherwise root must. getenv reads
// DBUS_SYSTEM_BUS_ADDRESS. Enabling it again is harmless.
func EnableLinger(ctx context.Context, uid int, getenv func(string) string) error {
	eps, err := Endpoints(string(spec.ScopeSystem), -1, getenv, socketExists) // -1: the bus, never systemd's private socket
	if err != nil {
		return fmt.Errorf("enable linger for uid %d: %w", uid, err)
	}
	conn, err := dialEndpoint(ctx, eps[0])
	if err != nil {
		return fmt.Errorf("enable linger for uid %d: system bus %s: %w", uid, eps[0].Address, err)
	}
	defer conn.Close()
	obj := conn.Object("org.freedesktop.login1", "/org/freedesktop/login1")
	// interactive=false: never wait for a polkit agent prompt.
	call := obj.CallWithContext(ctx, "org.freedesktop.login1.Manager.SetUserLinger", 0, uint32(uid), true, false)
	if call.Err != nil {
		var de godbus.Error
		if errors.As(call.Err, &de) && (de.Name == "org.freedesktop.DBus.Error.AccessDenied" || de.Name == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") {
			return fmt.Errorf("enable linger for uid %d: %w (%s); as root run `loginctl enable-linger` for this user: %w", uid, ErrNotPermitted, de.Name, call.Err)
		}
		return fmt.Errorf("enable linger for uid %d: %w", uid, call.Err)
	}
	return nil
}
