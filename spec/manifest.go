package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/parachute/reconcile/internal/boxfs"
)

// SkipCause names the stage of the services.json reader that dropped a row.
type SkipCause string

// Skip causes, in the order the reader applies them. The first four are the
// hub's own; SkipUnsafe is this project's one deliberate difference.
const (
	SkipStaleApp      SkipCause = "stale-app"      // heal pass 1: a UI-host app row that is really surface's
	SkipRetired       SkipCause = "retired"        // heal pass 2: a retired module's row (agent, channel, claw)
	SkipLegacyShort   SkipCause = "legacy-short"   // heal pass 3: "X" beside "parachute-X" on the same port
	SkipInvalid       SkipCause = "invalid"        // validateEntry rejected the row
	SkipDuplicatePort SkipCause = "duplicate-port" // a later row on a port an earlier row claimed
	SkipUnsafe        SkipCause = "unsafe"         // kept by the hub, but its name is not a safe directory name
)

// manifestKind is how InputErrors about services.json name the file.
const manifestKind = "services.json"

// ReadManifest reads services.json at path as the hub's readManifestLenient
// does (see ParseManifest). A missing file is an empty box: Exists is false
// and the error is nil. A file that cannot be read is an *InputError.
//
// The file is read through boxfs: never blocking (a FIFO, a device or a
// directory is an *InputError at once), never more than MaxManifest bytes,
// and through a final symlink only when the link belongs to one of
// trustLinks (the box's owner and root).
func ReadManifest(path string, trustLinks ...int) (Manifest, error) {
	data, _, err := boxfs.ReadFile(path, MaxManifest, trustLinks)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{Path: path, Modules: []Module{}, Skipped: []SkippedRow{}}, nil
	}
	if err != nil {
		return Manifest{Path: path}, &InputError{
			Kind: manifestKind, File: path, Err: err,
			Problem: fmt.Sprintf("cannot read the file: %v", unwrapPathError(err)),
			Fix:     "make it a regular file (not a pipe, device or link someone else made), readable by this user, under 4 MiB; the hub reads it at every boot",
		}
	}
	return ParseManifest(path, data)
}

// MaxManifest bounds services.json: a real one is a few kilobytes; 4 MiB
// holds thousands of rows and stops a /dev/zero or a runaway writer.
const MaxManifest = 4 << 20

// ParseManifest reads the bytes of services.json exactly as the hub's
// readManifestLenient (hub 0.7.15) does, with two deliberate differences:
//
//   - A file that is not JSON, whose top level is not an object, or whose
//     "services" is missing or not an array is an *InputError. The hub reads
//     such a file as "no modules" and would go on to start a hub that
//     supervises nothing; we stop and say so.
//   - A row the hub would keep but whose short name is not one safe path
//     element ("../etc", "a/b", ".", names with control characters, …) is
//     skipped with cause SkipUnsafe: the hub would build
//     <HOME>/<short>/run/<short>.pid from it unchecked.
//
// Otherwise the same rows survive, in the same order: the three heal passes
// on the raw JSON (stale app rows, retired modules, legacy short-name twins),
// then per-row validation (validateEntry, including the uis sub-units), then
// duplicate ports (the first claimant wins; vault names may share). Every
// dropped row is in Skipped with its cause and a reason a person can act
// on. Nothing is ever written back.
//
// path is used only in messages.
func ParseManifest(path string, data []byte) (Manifest, error) {
	m := Manifest{Path: path, Exists: true, Modules: []Module{}, Skipped: []SkippedRow{}}
	root, err := parseJS(data)
	if err != nil {
		var se *jsonSyntaxError
		line := 0
		if errors.As(err, &se) {
			line = se.line
		}
		fix := "repair the JSON near that line (a missing comma, quote or bracket is usual); the hub reads an unparseable file as if no modules were installed"
		switch {
		case len(bytes.TrimSpace(data)) == 0:
			fix = `write {"services": []} into it, or delete it if the box has no modules`
		case bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")):
			fix = "save the file as UTF-8 without a byte-order mark (JSON.parse rejects it)"
		}
		return m, &InputError{Kind: manifestKind, File: path, Line: line, Problem: "not valid JSON: " + err.Error(), Fix: fix}
	}
	if root.kind != jsObject {
		return m, &InputError{
			Kind: manifestKind, File: path, Line: root.line,
			Problem: fmt.Sprintf("the top level is %s, not an object with a \"services\" array", describeKind(root)),
			Fix:     `make the file {"services": [ …rows… ]}; the hub reads anything else as if no modules were installed`,
		}
	}
	services := root.get("services")
	if services == nil || services.kind != jsArray {
		problem := `the "services" key is missing`
		line := root.line
		if services != nil {
			problem = fmt.Sprintf(`"services" is %s, not an array`, describeKind(services))
			line = services.line
		}
		return m, &InputError{
			Kind: manifestKind, File: path, Line: line, Field: "services", Problem: problem,
			Fix: `make "services" an array of rows ([] for none); the hub reads anything else as if no modules were installed`,
		}
	}

	r := &rowReader{rows: services.arr, skipped: make([]*SkippedRow, len(services.arr))}
	r.healStaleAppRows()
	r.dropRetiredRows()
	r.dropLegacyShortNameRows()
	kept := r.validateAndDedupe()
	for _, k := range kept {
		short := ShortName(k.name)
		if why := unsafeShort(short); why != "" {
			r.skip(k.index, SkipUnsafe, fmt.Sprintf(
				"name %s %s; the hub would accept it, but the reconciler never follows such a name to a pidfile or signals through it — fix: rename the row to a plain name such as parachute-<module>",
				ShownName(k.name), why))
			continue
		}
		m.Modules = append(m.Modules, Module{
			Name:         k.name,
			Short:        short,
			Port:         k.port,
			Paths:        k.paths,
			InstallDir:   k.installDir,
			Health:       k.health,
			LegacyShorts: LegacyShorts(k.name),
		})
	}
	for _, s := range r.skipped {
		if s != nil {
			m.Skipped = append(m.Skipped, *s)
		}
	}
	return m, nil
}

// describeKind names the JSON type of v for an InputError.
func describeKind(v *jsValue) string {
	switch v.kind {
	case jsNull:
		return "null"
	case jsBool:
		return "a boolean"
	case jsNumber:
		return "a number"
	case jsString:
		return "a string"
	case jsArray:
		return "an array"
	case jsObject:
		return "an object"
	default:
		panic(fmt.Sprintf("spec: unknown JSON kind %d", v.kind))
	}
}

// unwrapPathError drops the *fs.PathError's repeat of the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// rowReader carries the rows through the reader's stages. skipped[i] is set
// once row i is dropped; later stages see only the rows still alive, as the
// hub's passes each see the array the previous pass returned.
type rowReader struct {
	rows    []*jsValue
	skipped []*SkippedRow
}

// keptRow is a row that passed validation and the duplicate-port check.
type keptRow struct {
	index      int
	name       string
	port       int
	paths      []string
	installDir string
	health     string
}

func (r *rowReader) alive(i int) bool { return r.skipped[i] == nil }

// skip drops row i for a reason. Name and Port are filled when the row has a
// string name and an integer port in range.
func (r *rowReader) skip(i int, cause SkipCause, reason string) {
	row := r.rows[i]
	s := &SkippedRow{Index: i, Line: row.line, Cause: cause, Reason: reason}
	if name, ok := row.get("name").str(); ok {
		s.Name = name
	}
	if p := row.get("port"); isPortNumber(p) {
		s.Port = int(p.n)
	}
	r.skipped[i] = s
}

// isPortNumber is the hub's port rule: typeof port === "number",
// Number.isInteger(port), 1..65535. 1940.0 and 1.94e3 pass; -0 does not.
func isPortNumber(v *jsValue) bool {
	return v != nil && v.kind == jsNumber && v.n >= 1 && v.n <= 65535 && v.n == math.Trunc(v.n)
}

// firstPath returns paths[0] when paths is an array whose first element is a
// string. (A string "paths" would index to one character, which can never
// be /app-, /surface- or /claw-rooted, so the result is the same.)
func firstPath(row *jsValue) (string, bool) {
	paths := row.get("paths")
	if paths == nil || paths.kind != jsArray || len(paths.arr) == 0 {
		return "", false
	}
	return paths.arr[0].str()
}

// rootedAt reports whether p is root or below it, segment-wise ("/app",
// "/app/x"; not "/apple").
func rootedAt(p, root string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}

// healStaleAppRows is heal pass 1 (the hub's healStaleUiHostAppRows): an
// "app" or "parachute-app" row
// whose first path is not /app-rooted and that is really surface's (its first
// path is /surface-rooted, or it sits on surface's port 1946) is a leftover
// of the UI-host era and is dropped. "Rooted" is taken segment-wise; the
// hub's vectors do not tell "/apple" from "/app/x".
func (r *rowReader) healStaleAppRows() {
	for i, row := range r.rows {
		if !r.alive(i) {
			continue
		}
		name, ok := row.get("name").str()
		if !ok || (name != "app" && name != "parachute-app") {
			continue
		}
		first, hasFirst := firstPath(row)
		if hasFirst && rootedAt(first, "/app") {
			continue
		}
		port := row.get("port")
		onSurfacePort := port != nil && port.kind == jsNumber && port.n == 1946
		if hasFirst && rootedAt(first, "/surface") {
			r.skip(i, SkipStaleApp, fmt.Sprintf(
				"stale %q row: its first path %q belongs to surface, not the app (left by the old UI-host layout); the hub drops it on every read — fix: delete the row (the app module re-registers itself with /app)",
				name, first))
		} else if onSurfacePort {
			r.skip(i, SkipStaleApp, fmt.Sprintf(
				"stale %q row: it sits on surface's port 1946 without an /app path (left by the old UI-host layout); the hub drops it on every read — fix: delete the row (the app module re-registers itself on 1944 with /app)",
				name))
		}
	}
}

// retiredModules is RETIRED_MODULES at HEAD.
var retiredModules = map[string]bool{"agent": true, "channel": true, "parachute-agent": true, "parachute-channel": true}

// dropRetiredRows is heal pass 2: rows of retired modules, and the paraclaw
// "claw" row mounted at /claw.
func (r *rowReader) dropRetiredRows() {
	for i, row := range r.rows {
		if !r.alive(i) {
			continue
		}
		name, ok := row.get("name").str()
		if !ok {
			continue
		}
		first, _ := firstPath(row)
		switch {
		case retiredModules[name]:
			r.skip(i, SkipRetired, fmt.Sprintf(
				"%q is a retired module; the hub drops its row on every read and never starts it — fix: stop its daemon if one still runs, then delete the row", name))
		case name == "claw" && first == "/claw":
			r.skip(i, SkipRetired, `"claw" (paraclaw, mounted at /claw) is a retired module; the hub drops its row on every read — fix: delete the row`)
		case jsObjectPrototype[name]:
			// The hub tests RETIRED_MODULES[name] !== undefined on a plain
			// object, so a name that is a built-in property of every
			// JavaScript object reads as "retired" and is dropped too.
			r.skip(i, SkipRetired, fmt.Sprintf(
				"the hub drops a row named %q as retired: its RETIRED_MODULES lookup finds JavaScript's built-in Object.prototype.%s — fix: rename the row", name, name))
		}
	}
}

// dropLegacyShortNameRows is heal pass 3: when two rows share a port and
// one is named X (not parachute-…) while the other is parachute-X, the X
// row is dropped. Rows count here with any string name and any numeric
// port, valid or not, as in the hub (JavaScript Map keys: -0 equals 0).
func (r *rowReader) dropLegacyShortNameRows() {
	byPort := map[float64][]int{}
	var order []float64
	for i, row := range r.rows {
		if !r.alive(i) {
			continue
		}
		_, okName := row.get("name").str()
		port := row.get("port")
		if !okName || port == nil || port.kind != jsNumber {
			continue
		}
		key := port.n
		if key == 0 {
			key = 0 // fold -0 into 0
		}
		if _, seen := byPort[key]; !seen {
			order = append(order, key)
		}
		byPort[key] = append(byPort[key], i)
	}
	drop := map[int]string{} // index → the parachute- twin's name
	for _, key := range order {
		bucket := byPort[key]
		if len(bucket) < 2 {
			continue
		}
		for _, a := range bucket {
			an, _ := r.rows[a].get("name").str()
			if strings.HasPrefix(an, "parachute-") {
				continue
			}
			for _, b := range bucket {
				bn, _ := r.rows[b].get("name").str()
				if a != b && bn == "parachute-"+an {
					drop[a] = bn
					break
				}
			}
		}
	}
	for i := range r.rows {
		twin, ok := drop[i]
		if !ok {
			continue
		}
		name, _ := r.rows[i].get("name").str()
		r.skip(i, SkipLegacyShort, fmt.Sprintf(
			"legacy short-name row %q shares its port with %q; the hub keeps the parachute- row and drops this one on every read — fix: delete the %q row", name, twin, name))
	}
}

// validateAndDedupe runs validateEntry over the rows still alive, then the
// lenient reader's duplicate-port rule: the first row on a port wins, later
// ones are dropped unless both it and the first claimant are vault names.
func (r *rowReader) validateAndDedupe() []keptRow {
	var kept []keptRow
	type claim struct {
		name  string
		index int
	}
	claims := map[int]claim{}
	for i, row := range r.rows {
		if !r.alive(i) {
			continue
		}
		k, reason := validateEntry(row)
		if reason != "" {
			r.skip(i, SkipInvalid, "the hub skips this row: "+reason)
			continue
		}
		k.index = i
		if prev, ok := claims[k.port]; ok {
			if !(IsVaultName(prev.name) && IsVaultName(k.name)) {
				r.skip(i, SkipDuplicatePort, fmt.Sprintf(
					"port %d is already claimed by %s (services[%d]); the hub keeps the first row on a port and drops the rest (only parachute-vault* rows may share one) — fix: give %s its own port, or delete the row",
					k.port, ShownName(prev.name), prev.index, ShownName(k.name)))
				continue
			}
		} else {
			claims[k.port] = claim{name: k.name, index: i}
		}
		kept = append(kept, k)
	}
	return kept
}

// validateEntry is the hub's validateEntry (HEAD): it returns the row's
// fields, or a reason (problem — fix) for the first rule the row breaks, in
// the hub's order. Present-but-null counts as present, as in the hub, where
// only undefined is absent. A malformed lastStartError is dropped silently
// and never rejects the row, so it is not looked at.
func validateEntry(row *jsValue) (keptRow, string) {
	var k keptRow
	if row.kind != jsObject && row.kind != jsArray {
		return k, fmt.Sprintf("the row is %s, not an object — fix: make it an object with name, port, paths, health and version", describe(row))
	}
	name, ok := row.get("name").str()
	if !ok || name == "" {
		return k, fmt.Sprintf(`"name" must be a non-empty string, got %s — fix: set "name" to the module's manifest name, such as "parachute-vault"`, describe(row.get("name")))
	}
	port := row.get("port")
	if !isPortNumber(port) {
		fix := `set "port" to a bare integer 1..65535`
		if s, ok := port.str(); ok {
			if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 65535 {
				fix = fmt.Sprintf(`write the port without quotes: "port": %d`, n)
			}
		}
		return k, fmt.Sprintf(`"port" must be an integer 1..65535, got %s — fix: %s`, describe(port), fix)
	}
	paths := row.get("paths")
	if paths == nil || paths.kind != jsArray {
		return k, fmt.Sprintf(`"paths" must be an array of strings, got %s — fix: write it as a list, such as ["/vault/default"]`, describe(paths))
	}
	var ps []string
	for j, p := range paths.arr {
		s, ok := p.str()
		if !ok {
			return k, fmt.Sprintf(`"paths" must be an array of strings, but paths[%d] is %s — fix: quote every mount path`, j, describe(p))
		}
		ps = append(ps, s)
	}
	if h, ok := row.get("health").str(); !ok || !strings.HasPrefix(h, "/") {
		return k, fmt.Sprintf(`"health" must be a path starting with "/", got %s — fix: set it to the module's health path, such as "/vault/default/health"`, describe(row.get("health")))
	}
	k.health, _ = row.get("health").str()
	if _, ok := row.get("version").str(); !ok {
		return k, fmt.Sprintf(`"version" must be a string, got %s — fix: quote the version, such as "0.5.3"`, describe(row.get("version")))
	}
	for _, f := range []string{"displayName", "tagline"} {
		if v := row.get(f); v != nil && v.kind != jsString {
			return k, fmt.Sprintf(`%q must be a string if present, got %s — fix: quote it or remove it`, f, describe(v))
		}
	}
	if v := row.get("publicExposure"); v != nil {
		if s, _ := v.str(); s != "allowed" && s != "loopback" && s != "auth-required" {
			return k, fmt.Sprintf(`"publicExposure" must be "allowed", "loopback" or "auth-required" if present, got %s — fix: use one of those or remove it`, describe(v))
		}
	}
	installDir := ""
	if v := row.get("installDir"); v != nil {
		s, ok := v.str()
		if !ok || s == "" {
			return k, fmt.Sprintf(`"installDir" must be a non-empty string if present, got %s — fix: set it to the module's absolute package directory or remove it`, describe(v))
		}
		installDir = s
	}
	for _, f := range []string{"stripPrefix", "websocket"} {
		if v := row.get(f); v != nil && v.kind != jsBool {
			return k, fmt.Sprintf(`%q must be a boolean if present, got %s — fix: write true or false without quotes`, f, describe(v))
		}
	}
	if reason := validateUis(row.get("uis")); reason != "" {
		return k, reason
	}
	return keptRow{name: name, port: int(port.n), paths: ps, installDir: installDir, health: k.health}, ""
}

// uiAudiences and uiStatuses are the UiSubUnit enums; status aliases are
// accepted on read. An unknown audience rejects the whole row (fail closed).
var (
	uiAudiences = []string{"public", "hub-users", "operator", "surface"}
	uiStatuses  = []string{"active", "pending", "inactive", "failing", "pending-oauth", "disabled"}
)

// validateUis checks the optional uis map; any bad sub-unit rejects the row.
func validateUis(uis *jsValue) string {
	if uis == nil {
		return ""
	}
	if uis.kind != jsObject {
		return fmt.Sprintf(`"uis" must be an object map if present, got %s — fix: make it {"<slug>": {"displayName": …, "path": "/…"}} or remove it`, describe(uis))
	}
	for _, key := range uis.entries() {
		if key == "" {
			return `"uis" keys must be non-empty strings, but one is "" — fix: give the sub-unit a slug`
		}
		if reason := validateUiSubUnit(uis.props[key]); reason != "" {
			return fmt.Sprintf("uis[%q]: %s", key, reason)
		}
	}
	return ""
}

func validateUiSubUnit(u *jsValue) string {
	if u.kind != jsObject {
		return fmt.Sprintf("must be an object, got %s — fix: make it {\"displayName\": …, \"path\": \"/…\"}", describe(u))
	}
	if s, ok := u.get("displayName").str(); !ok || s == "" {
		return fmt.Sprintf(`"displayName" must be a non-empty string, got %s — fix: name the UI`, describe(u.get("displayName")))
	}
	if s, ok := u.get("path").str(); !ok || !strings.HasPrefix(s, "/") {
		return fmt.Sprintf(`"path" must be a path starting with "/", got %s — fix: write its mount path, such as "/app/notes"`, describe(u.get("path")))
	}
	for _, f := range []string{"tagline", "iconUrl", "version", "oauthClientId"} {
		if v := u.get(f); v != nil && v.kind != jsString {
			return fmt.Sprintf(`%q must be a string if present, got %s — fix: quote it or remove it`, f, describe(v))
		}
	}
	if v := u.get("status"); v != nil {
		if s, ok := v.str(); !ok || !slices.Contains(uiStatuses, s) {
			return fmt.Sprintf(`"status" must be one of active, pending, inactive, failing if present, got %s — fix: use one of those or remove it`, describe(v))
		}
	}
	if v := u.get("audience"); v != nil {
		if s, ok := v.str(); !ok || !slices.Contains(uiAudiences, s) {
			return fmt.Sprintf(`"audience" must be one of public, hub-users, operator, surface, got %s; the hub fails closed and drops the whole row — fix: use one of those`, describe(v))
		}
	}
	if v := u.get("scopes_required"); v != nil {
		if v.kind != jsArray {
			return fmt.Sprintf(`"scopes_required" must be an array of non-empty strings, got %s — fix: write it as a list, such as ["vault:*:read"]`, describe(v))
		}
		for j, e := range v.arr {
			if s, ok := e.str(); !ok || s == "" {
				return fmt.Sprintf(`"scopes_required"[%d] must be a non-empty string, got %s — fix: quote each scope`, j, describe(e))
			}
		}
	}
	return ""
}
