// Package observe reads the world into a Snapshot: pidfiles, the owners of
// every declared port (one pass over /proc on Linux), the processes involved,
// the hub unit as a file and as the service manager sees it, stale module
// units, linger and the hub's /health answer.
//
// observe never writes, signals or starts anything.
package observe
