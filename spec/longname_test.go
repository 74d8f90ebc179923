package spec

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxReason bounds a skip reason about an over-long name: the name is
// quoted by ShownName, never in full.
const maxReason = 400

func TestLongNameSkippedUnsafe(t *testing.T) {
	name := "parachute-" + strings.Repeat("a", 4990)
	if len(name) != 5000 {
		t.Fatalf("name is %d bytes", len(name))
	}
	path := filepath.Join(t.TempDir(), "services.json")
	data := manifestOf(row("parachute-vault", "1940"), row(name, "1950"))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Modules) != 1 || m.Modules[0].Name != "parachute-vault" {
		t.Errorf("Modules = %+v, want only parachute-vault", m.Modules)
	}
	if len(m.Skipped) != 1 {
		t.Fatalf("Skipped = %d rows, want 1", len(m.Skipped))
	}
	s := m.Skipped[0]
	if s.Index != 1 || s.Port != 1950 || s.Cause != SkipUnsafe {
		t.Errorf("skipped row: index %d, port %d, cause %q; want 1, 1950, %q", s.Index, s.Port, s.Cause, SkipUnsafe)
	}
	if len(s.Reason) >= maxReason {
		t.Errorf("reason is %d bytes, want under %d: %.200q…", len(s.Reason), maxReason, s.Reason)
	}
	for _, want := range []string{
		`name "parachute-` + strings.Repeat("a", 54) + `"… (5000 bytes) is 5000 bytes long; `,
		"is 5000 bytes long; names longer than 128 bytes",
		"fix: rename the row",
	} {
		if !strings.Contains(s.Reason, want) {
			t.Errorf("reason %q lacks %q", s.Reason, want)
		}
	}
}

func TestShortLengthLimit(t *testing.T) {
	tests := []struct {
		name string
		row  string
		keep bool
	}{
		{"128 ASCII bytes", "m" + strings.Repeat("a", 127), true},
		{"129 ASCII bytes", "m" + strings.Repeat("a", 128), false},
		{"128 bytes of two-byte runes", strings.Repeat("é", 64), true},
		{"129 bytes, multi-byte", strings.Repeat("é", 64) + "a", false},
		{"one megabyte", strings.Repeat("b", 1<<20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest("/h/services.json", manifestOf(row(tt.row, "1950")))
			if err != nil {
				t.Fatal(err)
			}
			if tt.keep {
				if len(m.Modules) != 1 || m.Modules[0].Short != tt.row || len(m.Skipped) != 0 {
					t.Errorf("%d-byte name: Modules %d, Skipped %+v; want it kept with its own short", len(tt.row), len(m.Modules), m.Skipped)
				}
				return
			}
			if len(m.Modules) != 0 || len(m.Skipped) != 1 {
				t.Fatalf("%d-byte name: %d kept, %d skipped; want it skipped", len(tt.row), len(m.Modules), len(m.Skipped))
			}
			s := m.Skipped[0]
			if s.Cause != SkipUnsafe {
				t.Errorf("cause %q, want %q", s.Cause, SkipUnsafe)
			}
			wantLen := "is " + strconv.Itoa(len(tt.row)) + " bytes long"
			wantShown := "(" + strconv.Itoa(len(tt.row)) + " bytes)"
			if !strings.Contains(s.Reason, wantLen) || !strings.Contains(s.Reason, wantShown) {
				t.Errorf("reason %.300q lacks %q or %q", s.Reason, wantLen, wantShown)
			}
			if len(s.Reason) >= maxReason || !utf8.ValidString(s.Reason) {
				t.Errorf("reason: %d bytes, valid UTF-8 %v; want under %d, valid", len(s.Reason), utf8.ValidString(s.Reason), maxReason)
			}
		})
	}
}

// A reason naming an over-long name for another cause (a duplicate port)
// is bounded too.
func TestLongNameDuplicatePortReasonBounded(t *testing.T) {
	long := "parachute-" + strings.Repeat("z", 4990)
	m, err := ParseManifest("/h/services.json", manifestOf(row("parachute-first", "1950"), row(long, "1950")))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Skipped) != 1 {
		t.Fatalf("Skipped = %+v, want one row", m.Skipped)
	}
	s := m.Skipped[0]
	if s.Cause != SkipDuplicatePort || s.Index != 1 {
		t.Errorf("skipped row %d with cause %q, want row 1, %q", s.Index, s.Cause, SkipDuplicatePort)
	}
	if len(s.Reason) >= maxReason || !strings.Contains(s.Reason, "(5000 bytes)") {
		t.Errorf("reason is %d bytes (want under %d, naming \"(5000 bytes)\"): %.300q", len(s.Reason), maxReason, s.Reason)
	}
}

func TestShownName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"short", "parachute-vault", `"parachute-vault"`},
		{"control characters quoted", "x\ny\x1b", `"x\ny\x1b"`},
		{"64 bytes whole", strings.Repeat("a", 64), `"` + strings.Repeat("a", 64) + `"`},
		{"65 bytes cut", strings.Repeat("a", 65), `"` + strings.Repeat("a", 64) + `"… (65 bytes)`},
		// 90 bytes of three-byte runes: byte 64 is inside the 22nd rune.
		{"three-byte runes", strings.Repeat("日", 30), `"` + strings.Repeat("日", 21) + `"… (90 bytes)`},
		// "ab" then three-byte runes: byte 64 is inside a rune, 62 starts one.
		{"offset runes", "ab" + strings.Repeat("日", 30), `"ab` + strings.Repeat("日", 20) + `"… (92 bytes)`},
		// Four-byte runes: byte 64 starts the 17th.
		{"four-byte runes on the boundary", strings.Repeat("😀", 20), `"` + strings.Repeat("😀", 16) + `"… (80 bytes)`},
		{"two-byte runes", "a" + strings.Repeat("é", 40), `"a` + strings.Repeat("é", 31) + `"… (81 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ShownName(tt.in)
			if got != tt.want {
				t.Errorf("ShownName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("ShownName(%q) = %q is not valid UTF-8", tt.in, got)
			}
		})
	}
}

// validateEntry reads the row's health path; the kept Module must carry it
// (Module.Health: "the row's health path, answered on Port by the module
// itself"), since observe.ModulesBooted probes it.
func TestParseManifestKeepsHealthPath(t *testing.T) {
	m, err := ParseManifest("/h/services.json", manifestOf(row("parachute-vault", "1940", `"health": "/vault/default/health"`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Modules) != 1 {
		t.Fatalf("Modules = %+v, want one", m.Modules)
	}
	if got := m.Modules[0].Health; got != "/vault/default/health" {
		t.Errorf("ParseManifest drops the row's health path: Module.Health = %q, want %q (validateEntry sets k.health, then returns a new keptRow without it)", got, "/vault/default/health")
	}
}
