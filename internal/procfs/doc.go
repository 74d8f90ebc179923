// Package procfs parses the /proc files that both the observer and the
// actuator read about one process: /proc/PID/stat (identity: start time,
// parent, group, session) and /proc/PID/cgroup (which unit it is inside).
//
// procfs is pure: it parses bytes handed to it and never opens a file, so
// it builds and is tested on every platform.
package procfs
