package actuate

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/parachute/reconcile/internal/launchctl"
)

// ExecLaunchctl is Launchctl on the real machine: it runs Path
// (/bin/launchctl) with the reconciler's environment.
//
// Under `go test` it refuses every verb that changes launchd unless
// PARACHUTE_ALLOW_REAL_LAUNCHCTL=1: a test once ran the real `launchctl
// bootout computer.parachute.hub` on an operator's Mac and took the hub down
// (the hub's launchctl-guard, docs/upstream-hub.md §5.10). Read-only verbs pass.
type ExecLaunchctl struct {
	Path string
}

var _ Launchctl = ExecLaunchctl{}

// Run implements Launchctl.
func (e ExecLaunchctl) Run(ctx context.Context, args ...string) (string, string, int, error) {
	if len(args) > 0 && testing.Testing() && os.Getenv("PARACHUTE_ALLOW_REAL_LAUNCHCTL") != "1" {
		switch args[0] {
		case "bootstrap", "bootout", "enable", "disable", "kickstart", "load", "unload", "kill", "remove":
			return "", "", -1, fmt.Errorf("refusing to run the real launchctl %s under go test (set PARACHUTE_ALLOW_REAL_LAUNCHCTL=1 to allow)", args[0])
		}
	}
	return launchctl.Exec{Path: e.Path}.Run(ctx, args...)
}
