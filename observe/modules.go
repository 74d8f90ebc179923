package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parachute/reconcile/internal/boxfs"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// hubLogTail bounds how much of hub/logs/hub.log is read: enough for the
// supervisor's lines about a few dozen modules, never the whole file.
const hubLogTail = 64 << 10

// hubLogLines is how many of the log's last lines a snapshot keeps.
const hubLogLines = 20

// maxManifest bounds a module's .parachute/module.json.
const maxManifest = 256 << 10

// firstParty are the modules the hub has a built-in start command for
// (its getSpec): their manifests are never read. notes and app run under
// bun from the hub's own package.
var firstParty = map[string][]string{
	"vault":   {"parachute-vault", "serve"},
	"scribe":  {"parachute-scribe", "serve"},
	"surface": {"parachute-surface", "serve"},
	"notes":   {"bun"},
	"app":     {"bun"},
}

// StartCommand resolves the command the hub's supervisor runs for m, as
// the supervisor does: a first-party module has a built-in command (only
// its program is returned for notes and app); any other needs
// <installDir>/.parachute/module.json with a startCmd array of non-empty
// strings. A missing, unreadable or malformed manifest is "no spec": argv
// is nil and why says what is missing, in the hub's terms.
func StartCommand(m spec.Module) (argv []string, why string) {
	if cmd, ok := firstParty[m.Short]; ok {
		return cmd, ""
	}
	if m.InstallDir == "" {
		return nil, "no startCmd resolvable: the services.json row has no installDir, and only first-party modules have a built-in command"
	}
	path := filepath.Join(m.InstallDir, ".parachute", "module.json")
	data, _, err := boxfs.ReadFile(path, maxManifest, nil)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "no startCmd resolvable: " + path + " does not exist"
		}
		return nil, "no startCmd resolvable: " + err.Error()
	}
	// Keys exactly as spelled, as JSON.parse reads them: encoding/json
	// alone would take "StartCmd" (or the last of several spellings).
	var obj map[string]json.RawMessage
	var cmd []string
	if json.Unmarshal(data, &obj) != nil || (obj["startCmd"] != nil && json.Unmarshal(obj["startCmd"], &cmd) != nil) {
		return nil, "no startCmd resolvable: " + path + " is not a JSON object with a startCmd array of strings"
	}
	if len(cmd) == 0 || slices.Contains(cmd, "") {
		return nil, "no startCmd resolvable: " + path + " has no startCmd (a non-empty array of non-empty strings)"
	}
	return cmd, ""
}

// onPath reports whether program runs: an absolute or relative path is
// checked as it stands; a bare name must be an executable regular file in
// one of dirs (the hub's preflight: which(cmd[0])).
func onPath(program string, dirs []string) bool {
	executable := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
	}
	if strings.ContainsRune(program, '/') {
		return executable(program)
	}
	for _, d := range dirs {
		if d != "" && filepath.IsAbs(d) && executable(filepath.Join(d, program)) {
			return true
		}
	}
	return false
}

// hubPathDirs are the directories a program of a module may be found in:
// the PATH the hub unit sets (when its file says), the reconciler's own PATH
// (a detached hub inherits it), and the hub's additions of ~/.local/bin and
// ~/.bun/bin. It is a union on purpose: a program found in any of them is
// not reported missing, so the report errs towards "booting", never towards
// a false "unstartable".
func hubPathDirs(manager spec.Manager, unitContent, home string) []string {
	var dirs []string
	for _, p := range unitPaths(manager, unitContent) {
		dirs = append(dirs, strings.Split(p, ":")...)
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("PATH"))...)
	dirs = append(dirs, "/usr/local/bin", "/usr/bin", "/bin")
	if home != "" {
		dirs = append(dirs, filepath.Join(home, ".local", "bin"), filepath.Join(home, ".bun", "bin"))
	}
	return dirs
}

// unitPaths are the PATH values the hub unit's file sets, read as its
// manager reads them: each PATH= of a systemd unit's [Service] environment
// (unitfile.Environment: not PassEnvironment=, not a comment, not a word of
// ExecStart=, not an assignment an empty Environment= cleared), or the PATH
// of a launchd job's EnvironmentVariables. A file that does not parse sets
// nothing we can know.
func unitPaths(manager spec.Manager, content string) []string {
	var out []string
	switch manager {
	case spec.ManagerSystemd:
		opts, err := unitfile.ParseSystemd([]byte(content))
		if err != nil {
			return nil
		}
		for _, w := range unitfile.Environment(opts) {
			if p, ok := strings.CutPrefix(w, "PATH="); ok {
				out = append(out, p)
			}
		}
	case spec.ManagerLaunchd:
		if job, err := unitfile.ParseLaunchd([]byte(content)); err == nil {
			env, _ := job["EnvironmentVariables"].(map[string]any)
			if p, _ := env["PATH"].(string); p != "" {
				out = append(out, p)
			}
		}
	case spec.ManagerAuto:
		// No manager, no unit file.
	}
	return out
}

func missingDependency(program string) string {
	return "missing_dependency: " + program + " is not an executable on the hub's PATH; the hub's supervisor marks the module crashed without starting it"
}

// supervisorIndex is each module's last supervisor line in a tail of the
// hub's log, by short: built in one pass, so that asking about every module
// of a large box costs one scan of the tail, not one per module (the wait
// after a start asks on every poll). The hub prefixes its supervisor's
// lines "[supervisor] " and names the module first ("vault exited
// (code=1); …", "vault: no startCmd resolvable …", "vault crashed 3x within
// 60000ms — giving up."); lines a module prints itself start "[vault] "
// and are not the supervisor's.
type supervisorIndex map[string]string

// indexSupervisor indexes the "[supervisor] <short> …" lines of log; the
// short ends at the first space or colon, so that "[supervisor] vaultx …"
// is vaultx's and never vault's, and a line with nothing after the short
// is no module's.
func indexSupervisor(log []byte) supervisorIndex {
	idx := supervisorIndex{}
	prefix := []byte("[supervisor] ")
	for len(log) > 0 {
		l, rest, _ := bytes.Cut(log, []byte{'\n'})
		log = rest
		l = bytes.TrimRight(l, "\r")
		after, ok := bytes.CutPrefix(l, prefix)
		if !ok {
			continue
		}
		if end := bytes.IndexAny(after, " :"); end > 0 {
			idx[string(after[:end])] = string(l) // a later line replaces an earlier one
		}
	}
	return idx
}

// line is short's last supervisor line and whether it is the give-up line.
func (x supervisorIndex) line(short string) (string, bool) {
	s, ok := x[short]
	if !ok {
		return "", false
	}
	return s, strings.Contains(s, "— giving up") || strings.Contains(s, "giving up.")
}

// LastLines returns the last n non-empty lines of a log tail, dropping a
// first line that the tail cut in half, with invalid UTF-8 replaced.
func LastLines(tail []byte, n int, cut bool) []string {
	text := strings.ToValidUTF8(string(tail), string(utf8.RuneError))
	lines := strings.Split(text, "\n")
	if cut && len(lines) > 0 {
		lines = lines[1:]
	}
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimRight(lines[i], "\r"); strings.TrimSpace(l) != "" {
			if len(l) > 500 {
				l = spec.CutAtRune(l, 500) + "…"
			}
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// observeModules fills Snapshot.Idle and, when anything is not right (a
// module idle, the unit failed or restarting, /health not 2xx),
// Snapshot.HubLog: the cost on a box where everything listens and answers
// is nothing.
func observeModules(d spec.Desired, snap *Snapshot) {
	listening := map[int]bool{}
	for _, p := range snap.Ports {
		listening[p.Port] = len(p.Listeners) > 0
	}
	var idle []spec.Module
	for _, m := range snap.Modules {
		if !listening[m.Port] && m.Port != snap.HubPort {
			idle = append(idle, m)
		}
	}
	u := snap.Unit
	troubled := u.ActiveState == "failed" || u.SubState == "auto-restart" || (u.Result != "" && u.Result != "success")
	if len(idle) == 0 && !troubled && snap.Health.OK {
		return
	}
	tail, err := boxfs.ReadTailUnder(d.Home, filepath.Join("hub", "logs", "hub.log"), hubLogTail)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		snap.Problems = append(snap.Problems, "hub log: "+err.Error())
	}
	snap.HubLog = LastLines(tail, hubLogLines, len(tail) == hubLogTail)
	var dirs []string
	idx := indexSupervisor(tail)
	for _, m := range idle {
		im := IdleModule{Name: m.Name, Short: m.Short, Port: m.Port}
		im.StartCmd, im.Unstartable = StartCommand(m)
		if len(im.StartCmd) > 0 {
			if dirs == nil {
				dirs = hubPathDirs(u.Manager, u.File.Content, d.User.Home)
			}
			if !onPath(im.StartCmd[0], dirs) {
				im.Missing = missingDependency(im.StartCmd[0])
			}
		}
		im.LastLog, im.GivenUp = idx.line(m.Short)
		snap.Idle = append(snap.Idle, im)
	}
}

// ModuleBoot is how one module of a freshly started hub is doing.
type ModuleBoot struct {
	// Up: it answered GET <health> on its port with a 2xx status.
	Up bool
	// Status is the HTTP status it answered with, 0 when nothing answered.
	Status int
	// Unstartable (no start command) and GivenUp are as in IdleModule:
	// it never will answer. A program missing from the PATH is not judged
	// here: the PATH is only inferred.
	Unstartable string
	GivenUp     string
}

// moduleProbeTimeout bounds one module's health request during the wait.
const moduleProbeTimeout = 500 * time.Millisecond

// ModulesBooted asks each of mods for its health path, and for those that
// do not answer 2xx, whether the hub can start them at all and whether its
// supervisor gave up on them (from the tail of log, the hub's log, reached
// from dir without following a link). It is the wait after a start: one
// call per poll.
//
// A poll must stay cheap when hundreds of modules are still booting: it
// would otherwise take the CPU the hub boots them with. One look at the
// listening sockets (listeningPorts) says which modules can answer at all,
// and only those are asked over HTTP; the others are refused without a
// connection. The hub's log is read and indexed once per poll, and a
// module's start command, once found, is not resolved again (its
// module.json is read once, not on every poll).
func (o *Observer) ModulesBooted(ctx context.Context, dir, log string, mods []spec.Module) []ModuleBoot {
	env := o.Env.withDefaults()
	out := make([]ModuleBoot, len(mods))
	ports := make([]int, len(mods))
	for i, m := range mods {
		ports[i] = m.Port
	}
	listening := listeningPorts(env, ports)
	var idx supervisorIndex
	for i, m := range mods {
		if listening == nil || listening[m.Port] {
			out[i].Status = probeModule(ctx, env, m)
			if out[i].Status >= 200 && out[i].Status < 300 {
				out[i].Up = true
				continue
			}
		}
		if why := o.unstartable(m); why != "" {
			out[i].Unstartable = why
			continue
		}
		if idx == nil {
			var tail []byte
			if rel, err := filepath.Rel(dir, log); err == nil && filepath.IsLocal(rel) {
				tail, _ = boxfs.ReadTailUnder(dir, rel, hubLogTail)
			}
			idx = indexSupervisor(tail)
		}
		if line, gaveUp := idx.line(m.Short); gaveUp {
			out[i].GivenUp = line
		}
	}
	return out
}

// unstartable is StartCommand's why for m. A module found startable is
// remembered for the Observer's life (its manifest is not read again on
// every poll); one found unstartable is asked again next time, so that a
// manifest an install writes meanwhile is seen.
func (o *Observer) unstartable(m spec.Module) string {
	key := startKey{m.Short, m.InstallDir} // no string built per module per poll
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if o.startable[key] {
		return ""
	}
	_, why := StartCommand(m)
	if why == "" {
		if o.startable == nil {
			o.startable = map[startKey]bool{}
		}
		o.startable[key] = true
	}
	return why
}

// startKey names a module's start command: its short and install dir.
type startKey struct{ short, installDir string }

// probeModule is GET http://127.0.0.1:<port><health>: the status, or 0.
func probeModule(ctx context.Context, env Env, m spec.Module) int {
	path := m.Health
	if path == "" || !strings.HasPrefix(path, "/") {
		path = "/health"
	}
	conn, ans, _ := getLoopback(ctx, env, m.Port, path, "", 0, moduleProbeTimeout)
	if conn != nil {
		conn.Close()
	}
	return ans.Status
}
