package procfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// The raw calls answer what the ordinary ones answer, on the real /proc.
func TestRawCallsMatchTheOrdinaryOnes(t *testing.T) {
	root, err := os.Open("/proc")
	if err != nil {
		t.Skip(err)
	}
	defer root.Close()
	rootFd := int(root.Fd())
	self := strconv.Itoa(os.Getpid())

	buf := make([]byte, 4096)
	for name, read := range map[string]func(int, string, []byte) ([]byte, error){"ReadStatAt": ReadStatAt, "RawReadStatAt": RawReadStatAt} {
		got, err := read(rootFd, self, buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.HasPrefix(got, []byte(self+" (")) || got[len(got)-1] != '\n' {
			t.Errorf("%s(%s) = %q, not this process's stat line", name, self, got)
		}
		if _, err := read(unix.AT_FDCWD, "/proc/0", buf); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s(/proc/0): %v, want not-exist", name, err)
		}
		if _, err := read(rootFd, self, make([]byte, 8)); err == nil {
			t.Errorf("%s into 8 bytes: no error for a line that does not fit", name)
		}
	}

	want, err := os.Readlink("/proc/" + self + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	link := make([]byte, 4096)
	n, err := RawReadlinkat(rootFd, []byte(self+"/exe\x00"), link)
	if err != nil || string(link[:n]) != want {
		t.Errorf("RawReadlinkat(%s/exe) = %q, %v; want %q", self, link[:n], err, want)
	}

	fd, err := RawOpenat(rootFd, []byte(self+"/fd\x00"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer RawClose(fd)
	dirents := make([]byte, 8192)
	n, err = RawGetdents(fd, dirents)
	if err != nil || n == 0 {
		t.Fatalf("RawGetdents = %d, %v", n, err)
	}
	// The directory lists the descriptor it was read through.
	if !bytes.Contains(dirents[:n], []byte(strconv.Itoa(fd)+"\x00")) {
		t.Errorf("RawGetdents of %s/fd does not list fd %d", self, fd)
	}
}

func TestRawCallsRefuseAnUnterminatedPath(t *testing.T) {
	if _, err := RawOpenat(unix.AT_FDCWD, []byte("/proc/self/stat"), unix.O_RDONLY); err != unix.EINVAL {
		t.Errorf("RawOpenat without a NUL: %v, want EINVAL", err)
	}
	if _, err := RawReadlinkat(unix.AT_FDCWD, []byte("/proc/self/exe"), make([]byte, 64)); err != unix.EINVAL {
		t.Errorf("RawReadlinkat without a NUL: %v, want EINVAL", err)
	}
	if _, err := RawRead(0, nil); err != unix.EINVAL {
		t.Errorf("RawRead into nothing: %v, want EINVAL", err)
	}
}

func TestRawErrorsAreErrnos(t *testing.T) {
	_, err := RawOpenat(unix.AT_FDCWD, []byte("/proc/no-such-entry\x00"), unix.O_RDONLY)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RawOpenat of a missing entry: %v, want ENOENT", err)
	}
}
