package spec

import "path/filepath"

// ResolveHome is the hub's configDir(): $PARACHUTE_HOME when it is set and
// non-empty, verbatim (no tilde expansion, no cleaning), otherwise
// <userHome>/.parachute. userHome is what os.homedir() gives the hub, which
// is $HOME on POSIX. The result may be relative; see AbsHome.
func ResolveHome(getenv func(string) string, userHome string) string {
	if h := getenv("PARACHUTE_HOME"); h != "" {
		return h
	}
	return filepath.Join(userHome, ".parachute")
}

// AbsHome makes a resolved home absolute against cwd (which must itself be
// absolute) and cleans it. This is a deliberate difference from the hub,
// which keeps a relative PARACHUTE_HOME relative and bakes it verbatim into
// the unit, where it then resolves against the service manager's working
// directory instead of the operator's. A leading "~" is not expanded,
// exactly as the hub does not expand it: "~/x" is a directory named "~".
func AbsHome(home, cwd string) string {
	if filepath.IsAbs(home) {
		return filepath.Clean(home)
	}
	return filepath.Join(cwd, home)
}
