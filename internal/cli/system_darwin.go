package cli

import (
	"os"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

func newProcesses() actuate.Processes { return actuate.OSProcesses{} }

// platform wires launchd: launchctl is a command, nothing to share.
type platform struct{}

func newPlatform() *platform { return &platform{} }

func (*platform) close() {}

// predial does nothing: launchctl is run per question.
func (*platform) predial() {}

func (*platform) unitObserver() observe.UnitObserver { return observe.NewUnitObserver(os.Getenv) }

// units returns launchd's units for the LaunchAgent of loc.
func (*platform) units(loc unitfile.Location, d spec.Desired, logPath string) actuate.Units {
	return newLaunchdUnits(loc, d, logPath)
}
