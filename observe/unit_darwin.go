package observe

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
)

// NewUnitObserver is the real machine's UnitObserver on macOS: the
// LaunchAgent through /bin/launchctl (read-only verbs only). systemd cannot
// be asked here; getenv is unused.
func NewUnitObserver(getenv func(string) string) UnitObserver {
	return Managers{GOOS: "darwin", Launchd: LaunchdUnits{Launchctl: execLaunchctl{path: "/bin/launchctl"}}}
}

// execLaunchctl runs the real launchctl.
type execLaunchctl struct{ path string }

var _ Launchctl = execLaunchctl{}

// Run implements Launchctl.
func (e execLaunchctl) Run(ctx context.Context, args ...string) (string, string, int, error) {
	cmd := exec.CommandContext(ctx, e.path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		return stdout.String(), stderr.String(), exit.ExitCode(), nil
	}
	if err != nil {
		return stdout.String(), stderr.String(), -1, err
	}
	return stdout.String(), stderr.String(), 0, nil
}
