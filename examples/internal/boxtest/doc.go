// Package boxtest is test support for the example box: it builds the
// stand-in programs, waits for ports, and reads process facts (group,
// session, state, children, which pids hold a listening socket) from /proc.
//
// boxtest never signals a process it was not handed by the caller, and
// never by name.
package boxtest
