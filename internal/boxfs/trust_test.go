package boxfs

import (
	"os"
	"path/filepath"
	"testing"
)

// CheckTrustedWay(dir) is CheckTrusted's verdict on a trusted file below
// dir: a root-owned sticky directory passes on the way (and fails as a
// path of its own), a writable directory fails with the same words, and a
// link is judged and followed the same way.
func TestCheckTrustedWayIsTheWayToAFile(t *testing.T) {
	base := t.TempDir()
	owner := os.Geteuid()
	dirs := map[string]os.FileMode{"a": 0o755, "b": 0o777, "g": 0o775, "sticky": os.ModeSticky | 0o777}
	for name, mode := range dirs {
		d := filepath.Join(base, "home", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "home", "b"), filepath.Join(base, "home", "link")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "g", "sticky", "link"} {
		d := filepath.Join(base, "home", name)
		want, got := CheckTrusted(filepath.Join(d, "f"), owner), CheckTrustedWay(d, owner)
		if (want == nil) != (got == nil) || want != nil && want.Error() != got.Error() {
			t.Errorf("%s: CheckTrustedWay = %v; CheckTrusted of a file below = %v", name, got, want)
		}
	}
	sticky := filepath.Join(base, "home", "sticky")
	if owner == 0 && CheckTrusted(sticky, owner) == nil {
		t.Error("a sticky directory writable by others passed as a path of its own")
	}
	if owner == 0 && CheckTrustedWay(sticky, owner) != nil {
		t.Error("a root-owned sticky directory failed on the way")
	}
}
