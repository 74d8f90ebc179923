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
	if err := refuseSignal(pid, pgid); err != nil {
		return err
	}
	if pgid > 0 {
		return syscall.Kill(-pgid, sig)
	}
	return syscall.Kill(pid, sig)
}

// refuseSignal is the last line of defence, whatever the plan says: never
// pid 1, this reconciler or its parent, nor their groups.
func refuseSignal(pid, pgid int) error { return ownProcesses().refuse(pid, pgid) }

// protected is this reconciler's pid, its parent's, and their groups: what
// no signal may reach.
type protected struct{ self, parent, group, parentGroup int }

// ownProcesses is protected as of now.
func ownProcesses() protected {
	pp := os.Getppid()
	parentGroup, _ := syscall.Getpgid(pp)
	return protected{self: os.Getpid(), parent: pp, group: syscall.Getpgrp(), parentGroup: parentGroup}
}

// refuse says why a signal to pid, or to group pgid when pgid > 0, must
// not be sent; nil when it may.
func (o protected) refuse(pid, pgid int) error {
	if pgid > 0 {
		if pgid <= 1 || pgid == o.group || pgid == o.parentGroup || pgid == o.self || pgid == o.parent {
			return fmt.Errorf("refusing to signal process group %d (it holds this reconciler or its parent)", pgid)
		}
		return nil
	}
	if pid <= 1 || pid == o.self || pid == o.parent {
		return fmt.Errorf("refusing to signal pid %d", pid)
	}
	return nil
}

// Groups implements Processes.
func (p OSProcesses) Groups() Groups { return &osGroups{p: p} }

// osGroups is one look at the process groups. kill(-pgid, 0) says whether
// a group has members at all (EPERM: someone is there); it also succeeds
// for a group of zombies (whose parent, often an init that does not reap,
// has not collected them), which are dead for our purposes: the platform's
// process table (liveGroups) settles that, read once per look and only
// when some group has members. When a stop's processes exit at once,
// every group whose leader is a zombie asks: one look, not one walk over
// thousands of processes each.
type osGroups struct {
	p      OSProcesses
	looked bool
	live   map[int]bool // nil: not known, and unknown is never dead
}

// Members implements Groups: kill(-pgid, 0) finds a member (EPERM: one we
// may not signal, but there).
func (g *osGroups) Members(pgid int) bool {
	if pgid <= 1 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Alive implements Groups.
func (g *osGroups) Alive(pgid int) bool {
	if !g.Members(pgid) {
		return false
	}
	if !g.looked {
		g.live, g.looked = g.p.liveGroups(), true
	}
	return g.live == nil || g.live[pgid]
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
