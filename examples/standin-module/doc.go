// Command standin-module is a stand-in for a Parachute module (vault, scribe,
// surface, …) with the shapes the reconciler must cope with.
//
// Usage (argv carries the markers real modules carry: it is run through a
// symlink named parachute-<short> inside the module's installDir, with serve
// first):
//
//	parachute-vault serve [--health /vault/default/health] [--ignore-sigterm]
//	                      [--slow-exit 2s] [--wrapper] [--setsid-child]
//
// It binds 127.0.0.1:$PORT, answers GET on its health path with 200 JSON and
// logs one line per request to stdout. On SIGTERM or SIGINT it closes the
// listener and exits 0 (after --slow-exit, if given); with --ignore-sigterm it
// ignores SIGTERM and must be SIGKILLed.
//
// --wrapper re-executes itself as a child that holds the port while this
// process only waits, the shape of `pnpm exec tsx …`: the wrapper dies on
// SIGTERM without forwarding it, so a bare-pid kill leaves the child holding
// the port (upstream pitfall 1) and only a process-group kill reaches it.
// --setsid-child implies --wrapper and makes the child call setsid, so it
// leaves the group (and the session) while staying a descendant.
//
// standin-module never signals any process but its own wrapped child and never
// writes a file: real modules self-register in services.json, this one does not.
package main
