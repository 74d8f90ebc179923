package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// row is one services.json row kept by the reader, reduced to what the boot
// uses. The stand-in keeps its own reader rather than the reconciler's
// spec package on purpose: it models the upstream hub independently, so the
// reconciler's tests are checked against a second reading of the contract.
type row struct {
	Name       string
	Short      string
	Port       int
	Paths      []string
	InstallDir string
}

// shortNames is shortNameForManifest at HEAD (§2.6); other names map to themselves.
var shortNames = map[string]string{
	"parachute-notes":   "notes",
	"parachute-app":     "app",
	"parachute-vault":   "vault",
	"parachute-scribe":  "scribe",
	"parachute-surface": "surface",
	"parachute-lens":    "notes",
}

// retired are RETIRED_MODULES at HEAD: their rows are dropped on read.
var retired = map[string]bool{"agent": true, "channel": true, "parachute-agent": true, "parachute-channel": true}

// shortName is shortNameForManifest(name) ?? name.
func shortName(name string) string {
	if s, ok := shortNames[name]; ok {
		return s
	}
	return name
}

// isVaultName reports the vault carve-out of the duplicate-port rule.
func isVaultName(name string) bool {
	return name == "parachute-vault" || strings.HasPrefix(name, "parachute-vault-")
}

// readModules reads services.json leniently, like readManifestLenient (§2.4):
// a missing or unparsable file is no modules; a bad row is skipped with the
// hub's warning on warn; a later row on an already-used port is dropped
// unless both are vault names. It never writes the file back.
//
// It is a small local reader (the stand-in must run without the reconciler's
// spec package being complete): it checks the row fields the boot uses and
// drops retired rows, but does not validate `uis`/`lastStartError` or run
// the app/legacy-short heal passes.
func readModules(path string, warn io.Writer) []row {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		fmt.Fprintf(warn, "[services-manifest] cannot read %s: %v\n", path, err)
		return nil
	}
	var root struct {
		Services []json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(b, &root); err != nil {
		fmt.Fprintf(warn, "[services-manifest] %s is not valid: %v\n", path, err)
		return nil
	}
	var mods []row
	usedBy := map[int]string{}
	for _, raw := range root.Services {
		m, err := parseRow(raw)
		if err != nil {
			fmt.Fprintf(warn, "[services-manifest] skipping bad entry: %v\n", err)
			continue
		}
		if retired[m.Name] {
			fmt.Fprintf(warn, "[services-manifest] dropping retired module row %q\n", m.Name)
			continue
		}
		if prev, ok := usedBy[m.Port]; ok && !(isVaultName(prev) && isVaultName(m.Name)) {
			fmt.Fprintf(warn, "[services-manifest] dropping duplicate-port entry: %q on port %d (already used by %q)\n", m.Name, m.Port, prev)
			continue
		}
		if _, ok := usedBy[m.Port]; !ok {
			usedBy[m.Port] = m.Name
		}
		mods = append(mods, m)
	}
	return mods
}

// parseRow validates the fields validateEntry requires and keeps what the
// boot needs.
func parseRow(raw json.RawMessage) (row, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return row{}, fmt.Errorf("row is not an object: %s", raw)
	}
	name, _ := obj["name"].(string)
	if name == "" {
		return row{}, fmt.Errorf("name must be a non-empty string: %s", raw)
	}
	port, ok := obj["port"].(float64)
	if !ok || port != math.Trunc(port) || port < 1 || port > 65535 {
		return row{}, fmt.Errorf("%s: port must be an integer 1..65535", name)
	}
	rawPaths, ok := obj["paths"].([]any)
	if !ok {
		return row{}, fmt.Errorf("%s: paths must be an array of strings", name)
	}
	paths := make([]string, 0, len(rawPaths))
	for _, p := range rawPaths {
		s, ok := p.(string)
		if !ok {
			return row{}, fmt.Errorf("%s: paths must be an array of strings", name)
		}
		paths = append(paths, s)
	}
	if h, _ := obj["health"].(string); !strings.HasPrefix(h, "/") {
		return row{}, fmt.Errorf("%s: health must start with /", name)
	}
	if _, ok := obj["version"].(string); !ok {
		return row{}, fmt.Errorf("%s: version must be a string", name)
	}
	installDir := ""
	if v, present := obj["installDir"]; present {
		s, ok := v.(string)
		if !ok || s == "" {
			return row{}, fmt.Errorf("%s: installDir must be a non-empty string", name)
		}
		installDir = s
	}
	return row{Name: name, Short: shortName(name), Port: int(port), Paths: paths, InstallDir: installDir}, nil
}

// startCmd reads <installDir>/.parachute/module.json's startCmd; a missing or
// malformed manifest is "no spec" (nil), as upstream.
func startCmd(installDir string) []string {
	if installDir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(installDir, ".parachute", "module.json"))
	if err != nil {
		return nil
	}
	var mf struct {
		StartCmd []string `json:"startCmd"`
	}
	if json.Unmarshal(b, &mf) != nil || len(mf.StartCmd) == 0 || mf.StartCmd[0] == "" {
		return nil
	}
	return mf.StartCmd
}
