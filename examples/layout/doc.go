// Command layout lays out a detached-era Parachute box exactly as the old
// hub and CLI did (docs/upstream-hub.md §1.2, §3, §4), for demos and for the
// reconciler's tests to migrate from:
//
//	layout --home DIR --bin DIR [--modules vault,scribe,surface]
//	       [--wrapper scribe] [--setsid-child SHORT,…] [--start]
//	       [--hub-port N] [--port-base N] [--lib DIR] [--force]
//	layout --home DIR --bin DIR --print-spec
//
// Without --start it writes files only: services.json (rows
// parachute-<short> on the canonical ports, or --port-base + the canonical
// offset), each module's installDir under <lib>/@openparachute/<short> with
// .parachute/module.json (startCmd) and a bin/parachute-<short> symlink to
// the stand-in module, each module's <HOME>/<short>/.env and log, the hub's
// package root (<lib>/@openparachute/hub with src/cli.ts and
// src/hub-server.ts), and in <bin> a `bun` symlink to the stand-in hub and a
// `parachute` symlink to src/cli.ts, so PATH=<bin>:$PATH resolves the hub
// command the way the reconciler discovers it.
//
// With --start it then starts every module detached the way `parachute
// start` did (its own process group, stdin /dev/null, stdout and stderr
// appended to its log, env + PORT + .env, cwd installDir) and writes
// <short>/run/<short>.pid, starts the hub as `bun <pkgroot>/src/hub-server.ts
// --port … --well-known-dir … --db …` and writes hub/run/hub.pid and hub.port,
// waits (bounded, 5 s) until every port accepts TCP, prints a JSON summary
// of pids, groups and ports, and exits leaving them running.
//
// The hub is started as ensureHubRunning did: not detached, so it is not a
// group leader; it stays in layout's own process group and session and
// simply outlives layout's exit (Node's unref). Run from a shell, that group
// is the shell's job for the layout command: a terminal hangup would reach
// the hub, layout exiting does not. Callers that run layout from a program
// should give it its own process group (Setpgid) so the hub never shares the
// caller's group, and must never signal the hub's group, only its pid.
//
// layout never signals a process, never writes outside --home, --bin and
// --lib, never overwrites an existing .env, and refuses to replace a
// services.json that differs from the one it would write unless --force.
package main
