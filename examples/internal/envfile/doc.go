// Package envfile reads a module's <PARACHUTE_HOME>/<short>/.env exactly as
// the hub's env-file reader does (docs/upstream-hub.md §7.2) and overlays
// variables onto an environment list.
//
// envfile never writes a file: .env files belong to the operator.
package envfile
