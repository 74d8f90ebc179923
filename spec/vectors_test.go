package spec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// vectorRow is one row the hub's own reader kept.
type vectorRow struct {
	Name  string `json:"name"`
	Port  int    `json:"port"`
	Short string `json:"short"`
}

// vector is one line of testdata/services-json/expected.jsonl.
type vector struct {
	Case       string      `json:"case"`
	Rows       []vectorRow `json:"rows"`
	Unreadable bool        `json:"unreadable"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "services-json", "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v vector
		// expected.jsonl is our own fixture written by a tool, so plain
		// encoding/json is fine here (its keys are exact).
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("expected.jsonl: %v", err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHubVectors checks ParseManifest against what the hub's own TypeScript
// reader kept for each of the 300 vector files: the same rows (name, port,
// short) in the same order, an *InputError where the hub saw no services
// array, and, as the one allowed difference, rows with unsafe names moved
// to Skipped instead of kept.
func TestHubVectors(t *testing.T) {
	vectors := loadVectors(t)
	if len(vectors) != 300 {
		t.Fatalf("got %d vectors, want 300", len(vectors))
	}
	pass, unsafeSeen := 0, 0
	for _, v := range vectors {
		ok := t.Run(v.Case, func(t *testing.T) {
			path := filepath.Join("testdata", "services-json", "cases", v.Case)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseManifest(path, data)
			if v.Unreadable {
				var ie *InputError
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v, want *InputError", err)
				}
				if ie.File != path || ie.Problem == "" || ie.Fix == "" {
					t.Errorf("InputError lacks file, problem or fix: %+v", ie)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var want []vectorRow
			var wantUnsafe []vectorRow
			for _, r := range v.Rows {
				if unsafeShort(r.Short) != "" {
					wantUnsafe = append(wantUnsafe, r)
					continue
				}
				want = append(want, r)
			}
			var got []vectorRow
			for _, mod := range m.Modules {
				got = append(got, vectorRow{Name: mod.Name, Port: mod.Port, Short: mod.Short})
			}
			if !equalRows(got, want) {
				t.Errorf("rows differ\n got: %v\nwant: %v\nskipped: %+v", got, want, m.Skipped)
			}
			// Each unsafe row the hub keeps must be reported as unsafe.
			var gotUnsafe []vectorRow
			for _, s := range m.Skipped {
				if s.Cause == SkipUnsafe {
					gotUnsafe = append(gotUnsafe, vectorRow{Name: s.Name, Port: s.Port, Short: ShortName(s.Name)})
				}
			}
			if !equalRows(gotUnsafe, wantUnsafe) {
				t.Errorf("unsafe rows differ\n got: %v\nwant: %v", gotUnsafe, wantUnsafe)
			}
			unsafeSeen += len(wantUnsafe)
			// Every row is either kept or skipped, exactly once.
			checkAccounting(t, data, m)
		})
		if ok {
			pass++
		}
	}
	t.Logf("hub vectors: %d/%d match (%d unsafe rows reported as skipped)", pass, len(vectors), unsafeSeen)
	if unsafeSeen == 0 {
		t.Error("no vector exercised the unsafe-name rule")
	}
}

func equalRows(a, b []vectorRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkParseManifest reads a 200-row services.json (far more than a
// real box has) through every stage of the reader.
func BenchmarkParseManifest(b *testing.B) {
	var rows []string
	for i := 0; i < 200; i++ {
		rows = append(rows, row(fmt.Sprintf("parachute-m%d", i), fmt.Sprint(2000+i), `"installDir": "/opt/parachute/m"`, `"uis": {"n": {"displayName": "N", "path": "/n"}}`))
	}
	data := manifestOf(rows...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseManifest("/h/services.json", data)
		if err != nil || len(m.Modules) != 200 {
			b.Fatalf("%d modules, %v", len(m.Modules), err)
		}
	}
}
