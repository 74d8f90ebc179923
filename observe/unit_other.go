//go:build !linux && !darwin

package observe

import "runtime"

// NewUnitObserver on a platform without systemd or launchd: every unit is
// reported unavailable ("no service manager").
func NewUnitObserver(getenv func(string) string) UnitObserver {
	return Managers{GOOS: runtime.GOOS}
}
