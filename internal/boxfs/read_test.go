package boxfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"
)

// readUpTo returns the whole file when it fits in max, else its first
// max+1 bytes, whatever size the caller expected: a stale or wrong hint
// (a file that grew or shrank since its fstat, /proc's size 0) changes
// only how often the buffer grows, never what is read.
func TestReadUpToProperty(t *testing.T) {
	dir := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		content := rapid.SliceOfN(rapid.Byte(), 0, 5000).Draw(t, "content")
		max := rapid.Int64Range(0, 6000).Draw(t, "max")
		expect := rapid.Int64Range(0, 6000).Draw(t, "expect")
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		got, err := readUpTo(fd, expect, max)
		if err != nil {
			t.Fatal(err)
		}
		want := content
		if int64(len(want)) > max+1 {
			want = want[:max+1]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes, want %d (file %d, max %d, expect %d)", len(got), len(want), len(content), max, expect)
		}
	})
}

// ReadJudged's verdict, taken from the descriptors it read through, is
// CheckTrusted's verdict on the same path: for any modes (group or other
// writable, sticky) and, as root, any box owner and any owners (root, the
// box's, a stranger's) of the directories on the way and the file.
func TestReadJudgedIsCheckTrusted(t *testing.T) {
	home := t.TempDir()
	root := os.Geteuid() == 0
	rapid.Check(t, func(t *rapid.T) {
		owner := os.Geteuid()
		if root {
			owner = rapid.SampledFrom([]int{0, 4242}).Draw(t, "box owner")
		}
		modes := []os.FileMode{0o755, 0o775, 0o777, os.ModeSticky | 0o777, 0o700, os.ModeSticky | 0o755}
		fileModes := []os.FileMode{0o644, 0o664, 0o666, 0o600, os.ModeSticky | 0o666}
		box := filepath.Join(home, "b")
		if err := os.RemoveAll(box); err != nil {
			t.Fatal(err)
		}
		run := filepath.Join(box, "short", "run")
		if err := os.MkdirAll(run, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(run, "short.pid")
		if err := os.WriteFile(file, []byte("42\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{filepath.Join(box, "short"), run, file} {
			m := rapid.SampledFrom(modes).Draw(t, "mode "+filepath.Base(p))
			if p == file {
				m = rapid.SampledFrom(fileModes).Draw(t, "file mode")
			}
			if err := os.Chmod(p, m); err != nil {
				t.Fatal(err)
			}
			if root {
				uid := rapid.SampledFrom([]int{0, owner, 4343}).Draw(t, "uid "+filepath.Base(p))
				if err := os.Lchown(p, uid, -1); err != nil {
					t.Fatal(err)
				}
			}
		}
		d, err := OpenDir(box, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		data, _, untrusted, err := d.ReadJudged("short/run/short.pid", 64, owner)
		if err != nil {
			t.Fatal(err) // every mode drawn keeps the owner's read and search bits
		}
		if string(data) != "42\n" {
			t.Fatalf("read %q", data)
		}
		want := ""
		if err := CheckTrusted(file, owner); err != nil {
			var u *Untrusted
			if !errors.As(err, &u) {
				t.Fatalf("CheckTrusted: %v", err)
			}
			// The test's home and the directories above it are trusted:
			// a verdict about them would not be ReadJudged's to give.
			if !strings.HasPrefix(u.Path, box+"/") {
				t.Fatalf("CheckTrusted blames %s, above the box", u.Path)
			}
			want = u.Error()
		}
		got := ""
		if untrusted != nil {
			got = untrusted.Error()
		}
		if got != want {
			t.Fatalf("ReadJudged: %q\nCheckTrusted: %q", got, want)
		}
	})
}
