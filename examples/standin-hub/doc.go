// Command standin-hub is a stand-in for the Parachute hub that honours the
// contracts the reconciler depends on (docs/upstream-hub.md §3.3, §4.2, §6, §7),
// so the example box and the tests can run a whole box without bun.
//
// It picks its mode from its arguments, the way `bun <script> …` would run
// the real hub's scripts (a leading argument ending in ".ts" is the script
// and is otherwise ignored):
//
//	standin-hub serve                                   serve mode
//	bun …/src/cli.ts serve                              serve mode
//	standin-hub --port N --well-known-dir D --db F      detached hub-server mode
//	bun …/src/hub-server.ts --port N --well-known-dir D --db F
//
// Serve mode is `parachute serve`, what the hub unit runs: PORT (default
// 1939) on PARACHUTE_BIND_HOST (default 0.0.0.0; the unit forces 127.0.0.1);
// it binds first and fails with the hub's own message when the port is
// taken, answers GET /health, writes <HOME>/hub-instance.json, then boots
// every services.json row as a supervised child in its own process group
// (startCmd from <installDir>/.parachute/module.json) with the hub's restart
// budget. On SIGTERM or SIGINT it stops the children one after another
// (SIGTERM to the group, 5 s, SIGKILL to the group), removes
// hub-instance.json and exits 0.
//
// Hub-server mode is the detached era's `bun src/hub-server.ts`: it binds
// PARACHUTE_BIND_HOST or 127.0.0.1, writes hub/run/hub.pid and hub.port
// itself, runs no supervisor (module-ops answer 503 supervisor_unavailable)
// and removes both files on SIGTERM or SIGINT.
//
// Test knobs: STANDIN_HUB_SLOW_BIND=<duration> sleeps before binding;
// STANDIN_HUB_FAIL=1 exits 1 at once.
//
// Where the stand-in differs from the real hub: every row's command comes
// from module.json (the real hub has built-in commands for first-party
// modules); no database, well-known files, issuer or module-ops API; the
// readiness gate polls every 25 ms instead of 200 ms; a port found held
// before a (re)start marks the module crashed with port_squatter and the
// stand-in never kills the holder (the real hub's crash-restart path may
// adopt-kill an attributable one).
//
// standin-hub signals only the process groups of children it started itself
// and writes only hub-instance.json (serve mode) or hub/run/hub.pid and
// hub.port (hub-server mode); it never writes services.json or a .env file.
package main
