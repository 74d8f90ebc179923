//go:build !linux

package observe

// answeredInCgroup has no control groups to look in off Linux: ProbeHealthIn
// walks every process.
func answeredInCgroup(Env, int, *healthConn, string) int { return 0 }
