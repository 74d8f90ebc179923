// Package spec builds the desired state of a Parachute box: PARACHUTE_HOME
// resolved as the hub resolves it, services.json read exactly like the hub's
// lenient reader, the optional YAML spec file (strict) and the command-line
// flags, which win over it.
//
// spec reads files but never writes, signals or starts anything.
package spec
