package main

import (
	"github.com/parachute/reconcile/spec"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// moduleDef is what the box knows about a first-party module.
type moduleDef struct {
	offset      int // canonical port - 1939 (PORT_RESERVATIONS)
	paths       []string
	health      string
	version     string
	displayName string
}

// catalogue holds the first-party modules with their canonical ports
// (1940 vault, 1942 notes, 1943 scribe, 1944 app, 1946 surface) and the
// mount and health paths they register.
var catalogue = map[string]moduleDef{
	"vault":   {1, []string{"/vault/default"}, "/vault/default/health", "0.5.3", "Vault"},
	"notes":   {3, []string{"/notes"}, "/notes/health", "0.4.1", "Notes"},
	"scribe":  {4, []string{"/scribe"}, "/scribe/health", "0.3.2", "Scribe"},
	"app":     {5, []string{"/app"}, "/app/health", "0.0.0-linked", "Parachute"},
	"surface": {7, []string{"/surface", "/.parachute"}, "/surface/healthz", "0.4.0", "Surface"},
}

// spareOffsets are the unassigned offsets (1941, 1945, 1947, …) handed in
// order to modules outside the catalogue; after them, 21, 22, ….
var spareOffsets = []int{2, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

var shortRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// config is the parsed command line.
type config struct {
	home, bin, lib          string
	hubBinary, moduleBinary string
	modules                 []string
	wrapper, setsid         map[string]bool
	start, printSpec, force bool
	hubPort, portBase       int
}

// box is every path and row of the box, computed from the config alone.
type box struct {
	cfg        config
	pkgRoot    string // <lib>/@openparachute/hub
	cliTS      string
	hubServer  string
	bun        string // <bin>/bun -> hubBinary
	parachute  string // <bin>/parachute -> cliTS
	hubPidfile string
	hubPortf   string
	hubLog     string
	modules    []boxModule
}

// boxModule is one module of the box.
type boxModule struct {
	Short, Name string
	Port        int
	def         moduleDef
	InstallDir  string
	Link        string // <installDir>/bin/parachute-<short> -> moduleBinary
	StartCmd    []string
	Env         string // <HOME>/<short>/.env
	Pidfile     string
	Log         string
	Wrapper     bool
	SetsidChild bool
}

// newBox computes the box; it touches nothing.
func newBox(cfg config) (box, error) {
	b := box{cfg: cfg}
	b.pkgRoot = filepath.Join(cfg.lib, "@openparachute", "hub")
	b.cliTS = filepath.Join(b.pkgRoot, "src", "cli.ts")
	b.hubServer = filepath.Join(b.pkgRoot, "src", "hub-server.ts")
	b.bun = filepath.Join(cfg.bin, "bun")
	b.parachute = filepath.Join(cfg.bin, "parachute")
	b.hubPidfile = filepath.Join(cfg.home, "hub", "run", "hub.pid")
	b.hubPortf = filepath.Join(cfg.home, "hub", "run", "hub.port")
	b.hubLog = filepath.Join(cfg.home, "hub", "logs", "hub.log")
	seen := map[string]bool{}
	ports := map[int]string{cfg.hubPort: "hub"}
	spare := 0
	for _, short := range cfg.modules {
		if !shortRE.MatchString(short) || short == "hub" {
			return box{}, fmt.Errorf("module %q: a short is lower-case letters, digits and dashes, and not \"hub\"", short)
		}
		if seen[short] {
			return box{}, fmt.Errorf("module %q listed twice", short)
		}
		seen[short] = true
		def, ok := catalogue[short]
		if !ok {
			// Past the hub's reserved range (offsets up to 20) every
			// further module takes the next port: boxes of hundreds of
			// modules, for the benchmarks.
			offset := 21 + spare - len(spareOffsets)
			if spare < len(spareOffsets) {
				offset = spareOffsets[spare]
			}
			def = moduleDef{offset: offset, paths: []string{"/" + short}, health: "/" + short + "/health", version: "0.1.0", displayName: short}
			spare++
		}
		port := cfg.portBase + def.offset
		if port < 1 || port > 65535 {
			return box{}, fmt.Errorf("module %s: port %d out of range (--port-base %d)", short, port, cfg.portBase)
		}
		if other, clash := ports[port]; clash {
			return box{}, fmt.Errorf("module %s: port %d is also %s's", short, port, other)
		}
		ports[port] = short
		installDir := filepath.Join(cfg.lib, "@openparachute", short)
		// The detached-era hub's directory name for the row: its short
		// then (runner/run/runner.pid), else today's shortNameForManifest,
		// else the row name itself (parachute-mail/run/parachute-mail.pid).
		dir := spec.ShortName("parachute-" + short)
		if legacy := spec.LegacyShorts("parachute-" + short); len(legacy) > 0 {
			dir = legacy[0]
		}
		m := boxModule{
			Short:       short,
			Name:        "parachute-" + short,
			Port:        port,
			def:         def,
			InstallDir:  installDir,
			Link:        filepath.Join(installDir, "bin", "parachute-"+short),
			Env:         filepath.Join(cfg.home, dir, ".env"),
			Pidfile:     filepath.Join(cfg.home, dir, "run", dir+".pid"),
			Log:         filepath.Join(cfg.home, dir, "logs", dir+".log"),
			Wrapper:     cfg.wrapper[short],
			SetsidChild: cfg.setsid[short],
		}
		m.StartCmd = []string{m.Link, "serve", "--health", def.health}
		if m.Wrapper {
			m.StartCmd = append(m.StartCmd, "--wrapper")
		}
		if m.SetsidChild {
			m.StartCmd = append(m.StartCmd, "--setsid-child")
		}
		b.modules = append(b.modules, m)
	}
	for _, set := range []map[string]bool{cfg.wrapper, cfg.setsid} {
		for short := range set {
			if !seen[short] {
				return box{}, fmt.Errorf("--wrapper/--setsid-child %q: not one of --modules", short)
			}
		}
	}
	return b, nil
}

// manifestRow is a services.json row in the hub's key order (§2.2).
type manifestRow struct {
	Name        string   `json:"name"`
	Port        int      `json:"port"`
	Paths       []string `json:"paths"`
	Health      string   `json:"health"`
	Version     string   `json:"version"`
	DisplayName string   `json:"displayName,omitempty"`
	InstallDir  string   `json:"installDir,omitempty"`
}

// servicesJSON renders services.json as writeManifest does:
// JSON.stringify(manifest, null, 2) + "\n".
func (b box) servicesJSON() []byte {
	rows := make([]manifestRow, 0, len(b.modules))
	for _, m := range b.modules {
		rows = append(rows, manifestRow{m.Name, m.Port, m.def.paths, m.def.health, m.def.version, m.def.displayName, m.InstallDir})
	}
	return marshal(struct {
		Services []manifestRow `json:"services"`
	}{rows})
}

// marshal is JSON.stringify(v, null, 2) + "\n": two-space indent, no HTML
// escaping.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // Encode appends the trailing newline
	return buf.Bytes()
}

const cliTSText = `#!/usr/bin/env bun
// Stand-in for @openparachute/hub's src/cli.ts, laid out by examples/layout.
// The stand-in "bun" (standin-hub) never reads this file: it decides its mode
// from its arguments, so ` + "`bun src/cli.ts serve`" + ` runs the stand-in ` + "`parachute serve`" + `.
`

const hubServerTSText = `// Stand-in for @openparachute/hub's src/hub-server.ts, laid out by examples/layout.
// ` + "`bun src/hub-server.ts --port N --well-known-dir D --db F`" + ` runs the stand-in's
// detached hub-server mode (writes hub/run/hub.pid and hub.port, no supervisor).
`

// write lays the box's files out. It is idempotent: rerunning it with the
// same flags changes nothing, and it never overwrites a .env.
func (b box) write() error {
	cfg := b.cfg
	// services.json first: refusing here leaves nothing half-written.
	manifest := filepath.Join(cfg.home, "services.json")
	want := b.servicesJSON()
	if have, err := os.ReadFile(manifest); err == nil && !bytes.Equal(have, want) && !cfg.force {
		return fmt.Errorf("write %s: a different services.json exists; refusing to replace it without --force", manifest)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", manifest, err)
	}

	dirs := []string{cfg.bin, filepath.Join(b.pkgRoot, "src"),
		filepath.Join(cfg.home, "hub", "run"), filepath.Join(cfg.home, "hub", "logs"), filepath.Join(cfg.home, "well-known")}
	for _, m := range b.modules {
		dirs = append(dirs, filepath.Dir(m.Link), filepath.Join(m.InstallDir, ".parachute"),
			filepath.Dir(m.Pidfile), filepath.Dir(m.Log))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", d, err)
		}
	}

	// The hub package and the two names the reconciler discovers on PATH.
	files := []file{
		{filepath.Join(b.pkgRoot, "package.json"), marshal(map[string]any{"name": "@openparachute/hub", "version": "0.7.15-standin", "bin": map[string]string{"parachute": "src/cli.ts"}}), 0o644},
		{b.cliTS, []byte(cliTSText), 0o755},
		{b.hubServer, []byte(hubServerTSText), 0o644},
	}
	for _, m := range b.modules {
		files = append(files,
			file{filepath.Join(m.InstallDir, "package.json"), marshal(map[string]any{"name": "@openparachute/" + m.Short, "version": m.def.version, "bin": map[string]string{m.Name: "bin/" + m.Name}}), 0o644},
			file{filepath.Join(m.InstallDir, ".parachute", "module.json"), marshal(map[string]any{"startCmd": m.StartCmd}), 0o644},
		)
	}
	for _, f := range files {
		if err := writeFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	if err := ensureSymlink(cfg.hubBinary, b.bun); err != nil {
		return err
	}
	if err := ensureSymlink(b.cliTS, b.parachute); err != nil {
		return err
	}
	for _, m := range b.modules {
		if err := ensureSymlink(cfg.moduleBinary, m.Link); err != nil {
			return err
		}
	}

	// PARACHUTE_HOME: services.json, the data the reconciler must never lose,
	// the logs the detached processes append to.
	if err := writeFile(manifest, want, 0o644); err != nil {
		return err
	}
	for _, m := range b.modules {
		token := strings.ToUpper(strings.ReplaceAll(m.Short, "-", "_")) + "_TOKEN=standin-" + m.Short + "-token\n"
		if err := createIfMissing(m.Env, []byte(token), 0o600); err != nil {
			return err
		}
		if err := createIfMissing(m.Log, nil, 0o644); err != nil {
			return err
		}
	}
	if err := createIfMissing(b.hubLog, nil, 0o644); err != nil {
		return err
	}
	return createIfMissing(filepath.Join(cfg.home, "hub.db"), []byte("stand-in hub database: the reconciler must never touch it\n"), 0o644)
}

// file is one file write lays out.
type file struct {
	path string
	data []byte
	mode os.FileMode
}

// writeFile writes data atomically (temporary sibling, then rename) unless
// the file already holds exactly that.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, data) {
		return os.Chmod(path, mode)
	}
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// createIfMissing creates path with data and mode unless it exists.
func createIfMissing(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// ensureSymlink makes link a symlink to target, replacing an existing
// symlink atomically; it refuses to replace anything that is not a symlink.
func ensureSymlink(target, link string) error {
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink == 0:
		return fmt.Errorf("link %s: exists and is not a symlink; refusing to replace it", link)
	case err == nil:
		if have, _ := os.Readlink(link); have == target {
			return nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("link %s: %w", link, err)
	}
	tmp := link + ".tmp-" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", link, err)
	}
	return nil
}
