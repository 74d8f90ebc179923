package boxfs

import (
	"bytes"
	"os"
	"path/filepath"
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
