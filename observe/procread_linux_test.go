package observe

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A /proc file is read to its end up to maxProcFile and refused past it:
// argv and the environment are the process's own to make large.
func TestProcReadIsBounded(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(small, bytes.Repeat([]byte("a"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), maxProcFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newProcFS(dir)
	if data, err := p.read(small); err != nil || len(data) != 1<<20 {
		t.Errorf("1 MiB file: %d bytes, %v", len(data), err)
	}
	if _, err := p.read(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over the bound: %v, want refused", err)
	}
}
