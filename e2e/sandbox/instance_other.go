//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
)

// errUnsupported is what every entry point returns off Linux: the sandbox
// needs Linux namespaces, cgroup2 and systemd.
var errUnsupported = fmt.Errorf("systemd sandbox: not supported on %s", runtime.GOOS)

// Instance is one booted systemd; off Linux none ever boots.
type Instance struct{ instanceBase }

// Boot needs Linux; elsewhere it always fails.
func Boot(ctx context.Context, opts Options) (*Instance, error) {
	return nil, errUnsupported
}

// Command needs Linux; elsewhere the command fails to start.
func (in *Instance) Command(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "false")
	cmd.Err = errUnsupported
	return cmd
}

// CommandAs needs Linux; elsewhere the command fails to start.
func (in *Instance) CommandAs(ctx context.Context, user User, argv ...string) *exec.Cmd {
	return in.Command(ctx, argv...)
}

// AddUser needs Linux; elsewhere it always fails.
func (in *Instance) AddUser(ctx context.Context, name string) (User, error) {
	return User{}, errUnsupported
}

// Shutdown has nothing to stop off Linux.
func (in *Instance) Shutdown(ctx context.Context) error {
	return nil
}
