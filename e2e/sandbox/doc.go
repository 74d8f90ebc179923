// Package sandbox boots a real systemd as PID 1 in private namespaces, so the
// end-to-end tests can drive the same service manager users run (system
// manager, D-Bus, logind, user managers, linger) on machines whose own PID 1
// is not systemd.
//
// It follows the recipe in docs/systemd-sandbox.md: Boot makes a cgroup2
// child of the caller's cgroup, starts `unshare` on the embedded init.sh
// (which privatises /run, /tmp, /var/tmp, /home, /dev, /sys, the systemd
// configuration and state, the account files and /etc/machine-id, masks
// every unit that would touch the shared kernel, clock or disks, and drops
// dangerous capabilities), then waits for `systemctl is-system-running` to
// say running or degraded. Command, CommandAs and Systemctl run programs
// inside through nsenter; Shutdown powers the instance off and removes its
// cgroup.
//
// It is a test harness, not a security boundary: processes inside are root
// on the shared root filesystem. Whatever a test writes must stay inside
// the instance's private mounts or under Options.WorkDir, which stays
// visible at the same path inside.
//
// This package must never talk to the host's own service manager: every
// command it runs goes through nsenter into a booted instance, and only
// after that instance's PID 1 has become systemd. It never signals a process
// by name or by a bare pid number: only the systemd it started, through a
// pidfd, after checking that the process is still inside the instance's
// cgroup; and it writes to no cgroup but the ones it created.
package sandbox
