// Package fakeproc writes a fake /proc tree: the files observe's Linux
// reader reads when its ProcRoot is not the real /proc (/proc/stat's btime,
// each process's stat, status, cmdline, environ and cgroup, its fd, exe and
// cwd links, and /proc/net/tcp and tcp6), so that tests can run the real
// observer against a process table they describe. A field can be made
// unreadable, as it is for a non-root reader looking at another user's
// process, in a way that holds even when the tests run as root.
//
// It only ever writes under the root it is given; it never reads the real
// /proc. It is for tests (observe's, and actuatetest's simulated box).
package fakeproc
