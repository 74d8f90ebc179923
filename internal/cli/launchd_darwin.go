package cli

import (
	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// newLaunchdUnits returns launchd's Units for the hub's LaunchAgent at loc:
// /bin/launchctl in loc's domain (gui/<uid>), paced by the wall clock.
func newLaunchdUnits(loc unitfile.Location, d spec.Desired, logPath string) actuate.Units {
	return &actuate.LaunchdUnits{
		Launchctl: actuate.ExecLaunchctl{Path: "/bin/launchctl"},
		Domain:    loc.Scope,
		Label:     loc.Name,
		User:      d.User.Name,
		Clock:     actuate.RealClock{},
		LogPath:   logPath,
	}
}
