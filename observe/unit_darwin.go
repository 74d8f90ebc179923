package observe

import "github.com/parachute/reconcile/internal/launchctl"

// NewUnitObserver is the real machine's UnitObserver on macOS: the
// LaunchAgent through /bin/launchctl (read-only verbs only). systemd cannot
// be asked here; getenv is unused.
func NewUnitObserver(getenv func(string) string) UnitObserver {
	return Managers{GOOS: "darwin", Launchd: LaunchdUnits{Launchctl: launchctl.Exec{Path: "/bin/launchctl"}}}
}
