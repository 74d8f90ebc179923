// Package goldenfile compares test output with files under testdata and
// rewrites them when asked: the one helper the golden tests of every
// package share.
package goldenfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Check compares got with the file at path. With update set (each
// package's -update flag) it writes got there instead, creating the
// directory; the reviewer reads the diff.
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; if on purpose, rerun with -update and review the diff\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
