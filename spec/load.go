package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parachute/reconcile/internal/boxfs"
)

// Options are Load's inputs: the command-line flag values (nil, or "" for
// SpecFile, when the flag was not given) and the world the desired state is
// resolved against. Nil functions default to the real ones (os.Getenv,
// exec.LookPath, filepath.EvalSymlinks) and an empty Cwd to os.Getwd; tests
// pass their own.
type Options struct {
	// Desired is --desired.
	Desired *Model
	// Home is --home.
	Home *string
	// SpecFile is --spec, "" when not given.
	SpecFile string
	// Port is --port.
	Port *int
	// Scope is --scope.
	Scope *Scope
	// Manager is --manager.
	Manager *Manager
	// Textfile is --textfile.
	Textfile *string

	// Getenv reads an environment variable (PARACHUTE_HOME,
	// PARACHUTE_EXTRA_PATH).
	Getenv func(string) string
	// LookPath finds a program on PATH, as exec.LookPath does.
	LookPath func(string) (string, error)
	// EvalSymlinks resolves symbolic links, as filepath.EvalSymlinks does.
	EvalSymlinks func(string) (string, error)
	// Cwd is the working directory relative paths are resolved against.
	Cwd string
	// User is the invoking user; User.Home is the os.homedir() the hub
	// would see ($HOME).
	User User
	// LookupUser names a uid (os/user); nil uses the real one.
	LookupUser func(uid int) (string, error)
}

// Load builds the desired state. Precedence is flag > spec file >
// environment and defaults:
//
//   - model: --desired, desired:, else supervised;
//   - home: --home (relative to Cwd), home: (absolute), else the hub's
//     configDir() ($PARACHUTE_HOME or <User.Home>/.parachute) made absolute
//     against Cwd (see AbsHome);
//   - hub port: --port, hub.port, else 1939 ($PORT is not read: it belongs
//     to whatever else runs in the caller's shell);
//   - scope and manager: the flag, the file, else auto;
//   - hub command: hub.command (a bare program name in [0] is looked up on
//     PATH), else discovered as the hub does (see below);
//   - timeouts: each from the file, else DefaultTimeouts.
//
// services.json is then read from the resolved home (ReadManifest).
//
// The hub command, when the spec file gives none, is discovered as the hub
// bakes it: LookPath("parachute"), resolved through symlinks, must be a
// file named cli.ts in a directory named src (the npm bin links to the
// package's src/cli.ts); LookPath("bun") must succeed; the command is
// [bun, cli.ts, "serve"]. When that fails HubCommand is empty and
// HubCommandProblem says what is missing and how to fix it. That is not an
// error: the planner decides what it means for the model asked for.
//
// Errors: a bad flag value is a *UsageError (exit 64); a bad spec file or an
// unreadable services.json is an *InputError (exit 65).
func Load(opts Options) (Desired, error) {
	w, err := opts.world()
	if err != nil {
		return Desired{}, err
	}
	if err := checkFlags(opts); err != nil {
		return Desired{}, err
	}
	var file File
	if opts.SpecFile != "" {
		// The spec is the invoker's input: a final symlink is followed
		// when the invoker or root made it.
		if file, err = LoadFile(AbsHome(opts.SpecFile, w.cwd), opts.User.UID, 0); err != nil {
			return Desired{}, err
		}
	}

	d := Desired{
		Model:     pick(opts.Desired, file.Desired, Supervised),
		HubPort:   pick(opts.Port, file.Hub.Port, DefaultHubPort),
		Scope:     pick(opts.Scope, file.Scope, ScopeAuto),
		Manager:   pick(opts.Manager, file.Manager, ManagerAuto),
		HubEnv:    file.Hub.Env,
		Timeouts:  file.Timeouts.or(DefaultTimeouts),
		Textfile:  pick(opts.Textfile, file.Textfile, ""),
		User:      opts.User,
		ExtraPath: w.getenv("PARACHUTE_EXTRA_PATH"),
	}
	if d.Home, d.HomeFrom, err = desiredHome(opts, file, w); err != nil {
		return Desired{}, err
	}
	d.Owner, d.HomeMissing = homeOwner(d.Home, opts.User, opts.LookupUser)
	if d.Manifest, err = ReadManifest(filepath.Join(d.Home, "services.json"), d.Owner.UID, 0); err != nil {
		return Desired{}, err
	}
	if len(file.Hub.Command) > 0 {
		d.HubCommand, d.HubCommandProblem = specCommand(file, w.lookPath, w.cwd)
	} else {
		d.HubCommand, d.HubCommandProblem = discoverHubCommand(w.lookPath, w.evalSymlinks, w.cwd)
	}
	d.Untrusted = untrustedInputs(d, file.Path)
	return d, nil
}

// world is what Load resolves against: Options' functions and working
// directory, or the real ones where those are not set.
type world struct {
	getenv       func(string) string
	lookPath     func(string) (string, error)
	evalSymlinks func(string) (string, error)
	cwd          string
}

func (opts Options) world() (world, error) {
	w := world{getenv: opts.Getenv, lookPath: opts.LookPath, evalSymlinks: opts.EvalSymlinks, cwd: opts.Cwd}
	if w.getenv == nil {
		w.getenv = os.Getenv
	}
	if w.lookPath == nil {
		w.lookPath = exec.LookPath
	}
	if w.evalSymlinks == nil {
		w.evalSymlinks = filepath.EvalSymlinks
	}
	if w.cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return world{}, fmt.Errorf("spec: working directory: %w", err)
		}
		w.cwd = wd
	}
	return w, nil
}

// or is t with each timeout the file does not set taken from def.
func (t FileTimeouts) or(def Timeouts) Timeouts {
	if t.Stop > 0 {
		def.Stop = t.Stop
	}
	if t.PortFree > 0 {
		def.PortFree = t.PortFree
	}
	if t.Healthy > 0 {
		def.Healthy = t.Healthy
	}
	if t.Modules > 0 {
		def.Modules = t.Modules
	}
	return def
}

// desiredHome is PARACHUTE_HOME, absolute: --home (relative to the working
// directory), else the file's home, else the hub's own resolution. A home
// that cannot be resolved, or that cannot go into a unit file, is a
// *UsageError.
func desiredHome(opts Options, file File, w world) (home, from string, err error) {
	switch {
	case opts.Home != nil:
		home, from = AbsHome(*opts.Home, w.cwd), "--home"
	case file.Home != "":
		home, from = file.Home, "home: in "+file.Path
	case w.getenv("PARACHUTE_HOME") == "" && opts.User.Home == "":
		return "", "", &UsageError{
			Problem: "cannot resolve PARACHUTE_HOME: it is not set and the user's home directory is unknown",
			Fix:     "set PARACHUTE_HOME, pass --home DIR, or set home: in the spec file",
		}
	default:
		home, from = AbsHome(ResolveHome(w.getenv, opts.User.Home), w.cwd), "$PARACHUTE_HOME"
		if w.getenv("PARACHUTE_HOME") == "" {
			from = "the default, ~/.parachute (PARACHUTE_HOME is not set; the home directory is " + opts.User.Home + ")"
		}
	}
	if strings.ContainsAny(home, "\x00\n\r") {
		return "", "", &UsageError{
			Problem: fmt.Sprintf("PARACHUTE_HOME %q contains a NUL or line break, which cannot go into a unit file", home),
			Fix:     "use a directory name without control characters",
		}
	}
	return home, from, nil
}

// homeOwner is the owner of home (following a link at home itself: the
// operator chose the path). A home that does not exist yet belongs to the
// invoking user, who would create it.
//
// missing is true when home does not exist (any other stat error is not
// "missing": the run then finds out what is wrong when it reads).
func homeOwner(home string, u User, lookup func(int) (string, error)) (o Owner, missing bool) {
	fi, err := os.Stat(home)
	if err != nil {
		return Owner{UID: u.UID, Name: u.Name}, errors.Is(err, fs.ErrNotExist)
	}
	uid, ok := fileUID(fi)
	if !ok {
		return Owner{UID: u.UID, Name: u.Name}, false
	}
	o = Owner{UID: uid, Known: true}
	if uid == u.UID {
		o.Name = u.Name
	} else {
		if lookup == nil {
			lookup = UserName
		}
		o.Name, _ = lookup(uid)
	}
	return o, false
}

// untrustedInputs checks, as sshd's StrictModes does, every file the run
// believes: services.json, the spec file and the programs of the hub
// command, each with every directory on the way to it, must belong to the
// box's owner or root and be writable by no one else. A file that does
// not exist is not listed here (reading it said so already).
func untrustedInputs(d Desired, specFile string) []Untrusted {
	var out []Untrusted
	check := func(what, path string) {
		if path == "" {
			return
		}
		err := boxfs.CheckTrusted(path, d.Owner.UID)
		var u *boxfs.Untrusted
		if errors.As(err, &u) {
			out = append(out, Untrusted{What: what, Path: path, Why: u.Error()})
		}
	}
	if d.Manifest.Exists {
		check("services.json", d.Manifest.Path)
	}
	check("spec file", specFile)
	for _, p := range commandFiles(d.HubCommand) {
		check("hub command", p)
	}
	return out
}

// commandFiles are the files a hub command runs: the absolute paths of its
// Program (the program, and the script a runtime loads).
func commandFiles(cmd []string) []string {
	var out []string
	for _, a := range Program(cmd) {
		if filepath.IsAbs(a) {
			out = append(out, a)
		}
	}
	return out
}

// pick returns the flag value when given, else the file's when set, else def.
func pick[T comparable](flag *T, file T, def T) T {
	var zero T
	switch {
	case flag != nil:
		return *flag
	case file != zero:
		return file
	default:
		return def
	}
}

// checkFlags validates the flag values that were given.
func checkFlags(opts Options) error {
	enum := func(flag, value string, values []string) error {
		if slices.Contains(values, value) {
			return nil
		}
		list := strings.Join(values, ", ")
		return &UsageError{Flag: flag, Value: value, Problem: "not one of " + list, Fix: "pass one of " + list}
	}
	if opts.Desired != nil {
		if err := enum("--desired", string(*opts.Desired), modelValues); err != nil {
			return err
		}
	}
	if opts.Scope != nil {
		if err := enum("--scope", string(*opts.Scope), scopeValues); err != nil {
			return err
		}
	}
	if opts.Manager != nil {
		if err := enum("--manager", string(*opts.Manager), managerValues); err != nil {
			return err
		}
	}
	if opts.Port != nil && (*opts.Port < 1 || *opts.Port > 65535) {
		return &UsageError{Flag: "--port", Value: fmt.Sprint(*opts.Port), Problem: "not a port 1..65535", Fix: "pass the hub's port (1939 by default)"}
	}
	if opts.Home != nil {
		switch h := *opts.Home; {
		case h == "":
			return &UsageError{Flag: "--home", Value: h, Problem: "is empty", Fix: "pass the PARACHUTE_HOME directory, or leave the flag out"}
		case strings.HasPrefix(h, "~"):
			return &UsageError{Flag: "--home", Value: h, Problem: "starts with ~, which is not expanded here", Fix: "pass the full path (let the shell expand ~ by leaving it unquoted)"}
		}
	}
	return nil
}

// specCommand resolves the spec file's hub.command: a bare program name in
// [0] is looked up on PATH (and made absolute), the rest is used as given.
func specCommand(file File, lookPath func(string) (string, error), cwd string) ([]string, string) {
	cmd := slices.Clone(file.Hub.Command)
	if filepath.IsAbs(cmd[0]) {
		return cmd, ""
	}
	p, err := lookPath(cmd[0])
	if err != nil {
		return nil, fmt.Sprintf("hub.command[0] %q from the spec file %s is not on PATH (%v) — fix: install it or write its absolute path in hub.command", cmd[0], file.Path, err)
	}
	cmd[0] = AbsHome(p, cwd)
	return cmd, ""
}

// discoverHubCommand finds [bun, <pkg>/src/cli.ts, serve] as the hub bakes it.
func discoverHubCommand(lookPath, evalSymlinks func(string) (string, error), cwd string) ([]string, string) {
	var problems []string
	cli := ""
	if p, err := lookPath("parachute"); err != nil {
		problems = append(problems, fmt.Sprintf("the parachute command is not on PATH (%v) — fix: install the hub (bun add -g @openparachute/hub) and put bun's global bin directory on PATH, or set hub.command in the spec file", err))
	} else if real, err := evalSymlinks(p); err != nil {
		problems = append(problems, fmt.Sprintf("cannot resolve %s to the hub's src/cli.ts: %v — fix: reinstall the hub, or set hub.command in the spec file", p, err))
	} else {
		real = AbsHome(real, cwd)
		if filepath.Base(real) != "cli.ts" || filepath.Base(filepath.Dir(real)) != "src" {
			problems = append(problems, fmt.Sprintf("%s resolves to %s, which is not the hub package's src/cli.ts — fix: put the hub's parachute first on PATH, or set hub.command in the spec file", p, real))
		} else {
			cli = real
		}
	}
	bun := ""
	if p, err := lookPath("bun"); err != nil {
		problems = append(problems, fmt.Sprintf("bun is not on PATH (%v) — fix: install bun (https://bun.sh) and put it on PATH, or set hub.command in the spec file", err))
	} else {
		bun = AbsHome(p, cwd)
	}
	if len(problems) > 0 {
		return nil, strings.Join(problems, "; ")
	}
	return []string{bun, cli, "serve"}, ""
}
