package boxfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Trust answers exactly as CheckTrusted, path after path, while judging
// each directory on the way once: a writable directory next to trusted
// ones, a link, a missing file and a sticky directory as the final path
// are each judged in full.
func TestTrustAgreesWithCheckTrusted(t *testing.T) {
	base := t.TempDir()
	owner := os.Getuid()
	mk := func(rel string) string {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	paths := []string{mk("home/a/run/a.pid"), mk("home/b/run/b.pid"), mk("home/c/run/c.pid")}
	// b's directory becomes writable by others: its pidfile is untrusted
	// even though a and the home above it were trusted a moment before.
	if err := os.Chmod(filepath.Join(base, "home", "b"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "home", "a"), filepath.Join(base, "home", "link")); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(base, "home", "sticky")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o1777); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join(base, "home", "link", "run", "a.pid"), filepath.Join(base, "home", "a", "run", "missing.pid"),
		sticky, filepath.Join(base, "home", "b", "run"), paths[0])
	tr := NewTrust(owner)
	for pass := range 2 {
		for _, p := range paths {
			want, got := CheckTrusted(p, owner), tr.Check(p)
			if (want == nil) != (got == nil) || want != nil && want.Error() != got.Error() {
				t.Errorf("pass %d: %s: Trust.Check = %v, CheckTrusted = %v", pass, p, got, want)
			}
		}
	}
	var u *Untrusted
	if err := tr.Check(paths[1]); !errors.As(err, &u) || u.Path != filepath.Join(base, "home", "b") {
		t.Errorf("b's pidfile: %v, want its writable directory named", err)
	}
	if tr.Check(paths[0]) != nil {
		t.Error("a's pidfile untrusted")
	}
}
