// Package procfs parses the /proc files that both the observer and the
// actuator read about one process: /proc/PID/stat (identity: start time,
// parent, group, session) and /proc/PID/cgroup (which unit it is inside).
//
// The parsers are pure: they parse bytes handed to them and build and are
// tested on every platform. The Linux readers (ReadStatAt, LiveGroups) read
// /proc relative to a directory descriptor, one read per stat file.
package procfs
