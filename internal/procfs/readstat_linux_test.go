package procfs

import (
	"bytes"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// ReadStatAt's one read is the whole file, for a real process; a buffer
// too small for the line is an error, never a part of it.
func TestReadStatAtIsTheWholeFile(t *testing.T) {
	root, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	pid := strconv.Itoa(os.Getpid())
	got, err := ReadStatAt(root, pid, make([]byte, 4096))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// utime, stime and the state letter move between the two reads; the
	// identity fields must not, and the line must be whole.
	a, errA := ParseStat(got)
	b, errB := ParseStat(want)
	same := a.Pid == b.Pid && a.PPid == b.PPid && a.Pgid == b.Pgid && a.Sid == b.Sid && a.StartTicks == b.StartTicks
	if errA != nil || errB != nil || !same || !bytes.HasSuffix(got, []byte("\n")) {
		t.Fatalf("ReadStatAt %q (%v), os.ReadFile %q (%v)", got, errA, want, errB)
	}
	if part, err := ReadStatAt(root, pid, make([]byte, 8)); err == nil {
		t.Fatalf("with an 8-byte buffer: %q, want an error", part)
	}
	if _, err := ReadStatAt(root, "999999999", make([]byte, 4096)); err == nil {
		t.Fatal("ReadStatAt of a pid that cannot exist: no error")
	}
}
