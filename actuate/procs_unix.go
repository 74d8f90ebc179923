//go:build linux || darwin

package actuate

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// Signal implements Processes: kill(-pgid) for a group, kill(pid) otherwise.
func (OSProcesses) Signal(pid, pgid int, sig syscall.Signal) error {
	if pgid > 0 {
		// The last line of defence: never our own group or our parent's,
		// whatever the plan says.
		own := syscall.Getpgrp()
		parent, _ := syscall.Getpgid(os.Getppid())
		if pgid <= 1 || pgid == own || pgid == parent || pgid == os.Getpid() || pgid == os.Getppid() {
			return fmt.Errorf("refusing to signal process group %d (it holds this reconciler or its parent)", pgid)
		}
		return syscall.Kill(-pgid, sig)
	}
	if pid <= 1 || pid == os.Getpid() || pid == os.Getppid() {
		return fmt.Errorf("refusing to signal pid %d", pid)
	}
	return syscall.Kill(pid, sig)
}

// GroupAlive implements Processes. EPERM means someone is there. kill(-pgid,
// 0) also succeeds for a group of zombies (whose parent, often an init that
// does not reap, has not collected them), which are dead for our purposes:
// groupHasLive settles it where the platform can.
func (p OSProcesses) GroupAlive(pgid int) bool {
	if pgid <= 1 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return p.groupHasLive(pgid)
}

// StartDetached implements Processes: a new session (setsid), stdin from
// /dev/null, stdout and stderr appended to log (which lies below dir, the
// box's home, and is reached from it without following a link), the
// reconciler's environment
// overlaid with env. The child is not waited for here; a goroutine reaps it
// if it exits while the reconciler still runs, so it never lingers as a
// zombie that would read as alive.
func (OSProcesses) StartDetached(argv, env []string, dir, log string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("empty command")
	}
	out, err := openAppend(dir, log, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Args = argv
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}
