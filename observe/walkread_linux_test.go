package observe

import (
	"github.com/parachute/reconcile/internal/procfs"

	"bytes"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// readStatAt's one-read shortcut must return the same bytes as reading the
// file to its end, for a real process.
func TestReadStatAtIsTheWholeFile(t *testing.T) {
	p := newProcFS("/proc")
	root, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	pid := strconv.Itoa(os.Getpid())
	got, err := p.readStatAt(root, pid)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// utime, stime and the like move between the two reads; the identity
	// fields must not, and the line must be whole.
	a, errA := procfs.ParseStat(got)
	b, errB := procfs.ParseStat(want)
	if errA != nil || errB != nil || a != b || !bytes.HasSuffix(got, []byte("\n")) {
		t.Fatalf("readStatAt %q (%v), os.ReadFile %q (%v)", got, errA, want, errB)
	}
	// A buffer too small for the line takes the reading-to-the-end path.
	p.buf = make([]byte, 8)
	got, err = p.readStatAt(root, pid)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := procfs.ParseStat(got); err != nil || c != b {
		t.Fatalf("with an 8-byte buffer: %q (%v), want %+v", got, err, b)
	}
	if _, err := p.readStatAt(root, "999999999"); err == nil {
		t.Fatal("readStatAt of a pid that cannot exist: no error")
	}
}

func TestFdNameIsTheDecimalName(t *testing.T) {
	p := newProcFS("/proc")
	for _, name := range []string{"0", "1", "9", "10", "255", "256", "1000", "00", "01", "x", "1x", ""} {
		if got := p.fdName([]byte(name)); got != name {
			t.Errorf("fdName(%q) = %q", name, got)
		}
	}
}
