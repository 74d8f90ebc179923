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
	return Managers{GOOS: "darwin", Launchd: LaunchdUnits{Launchctl: ExecLaunchctl{Path: "/bin/launchctl"}}}
}

// ExecLaunchctl runs the real launchctl (Path, /bin/launchctl when empty)
// and reports its output and exit code; only a failure to run it at all (or
// a cancelled ctx) is an error. observe only ever asks it read-only verbs;
// actuate wraps it with the test-time guard for the others.
type ExecLaunchctl struct{ Path string }

var _ Launchctl = ExecLaunchctl{}

// Run implements Launchctl.
func (e ExecLaunchctl) Run(ctx context.Context, args ...string) (string, string, int, error) {
	path := e.Path
	if path == "" {
		path = "/bin/launchctl"
	}
	cmd := exec.CommandContext(ctx, path, args...)
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
