package observe

import "github.com/parachute/reconcile/internal/sdbus"

// NewUnitObserver is the real machine's UnitObserver on Linux: systemd over
// D-Bus (sdbus; getenv, normally os.Getenv, is read to find the user bus)
// and linger from /var/lib/systemd/linger. launchd cannot be asked here.
func NewUnitObserver(getenv func(string) string) UnitObserver {
	return Managers{
		GOOS:    "linux",
		Systemd: SystemdUnits{Dial: DialSystemd(getenv), Linger: sdbus.Linger},
	}
}
