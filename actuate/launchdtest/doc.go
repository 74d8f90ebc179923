// Package launchdtest is a stateful, in-memory launchd behind launchctl's
// command line, for tests on any platform.
//
// Launchctl answers the verbs the reconciler uses (print, print-disabled,
// bootstrap, bootout, enable, disable, kickstart) with the output, exit
// codes and error messages of the real one (macOS 13 and later): 113 for a
// job that is not loaded, 125 for a gui/<uid> domain that does not exist
// (no GUI login session), 3 from bootout of nothing, 5 from bootstrap of a
// label launchd is still tearing down, of a label already loaded or
// disabled, or of a plist it cannot read. Its jobs' programs run as
// processes of an actuatetest.World, so ports, /health and ownership by pid
// tree behave as on a Mac: the hub's job binds the hub port and starts the
// modules as its children.
//
// Time is the world's fake time. bootout releases the label Linger later and
// refuses a new bootstrap of it for Window; a KeepAlive job whose program
// exits is started again ThrottleInterval after its last start. Failures are
// switched on with FailNext and Break; nothing asserts call sequences, and
// Calls only records them.
//
// launchdtest never runs the real launchctl.
package launchdtest
