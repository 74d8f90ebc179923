package cli

import (
	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

func newProcesses() actuate.Processes { return actuate.OSProcesses{} }

// newUnits returns launchd's units for the LaunchAgent of loc.
func newUnits(loc unitfile.Location, d spec.Desired, logPath string, _ *[]func()) actuate.Units {
	return newLaunchdUnits(loc, d, logPath)
}
