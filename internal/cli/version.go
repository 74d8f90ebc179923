package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

var versionCmd = &command{
	UsageLine: "parachute version",
	Short:     "print the reconciler's version, VCS revision and build",
	Long: `Version prints the module version, the VCS revision and time it was built
from (a trailing "+dirty" when the tree had uncommitted changes), and the Go
version, as the binary's build information records them. parachute --version
prints the same.
`,
	Run: func(_ context.Context, inv *invocation) int {
		fmt.Fprintln(inv.stdout, versionLine())
		return ExitConverged
	},
}

// versionLine is "parachute-reconcile v1.2.3 (rev 0123abcd4567, 2026-12-06T05:00:00Z) go1.26.8 linux/amd64".
func versionLine() string {
	version, rev, when, dirty := "(devel)", "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	var build []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		build = append(build, "rev "+rev)
	}
	if when != "" {
		build = append(build, when)
	}
	line := "parachute-reconcile " + version
	if len(build) > 0 {
		line += " (" + strings.Join(build, ", ") + ")"
	}
	return line + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
