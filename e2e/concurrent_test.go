package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// startTogether runs "$@" eight times inside, released at one instant: each
// copy blocks reading one line from a FIFO that the script holds open, and
// the script then writes the eight lines in one write. Copy i leaves its
// stdout, stderr and exit code in DIR/out.i, DIR/err.i and DIR/code.i.
const startTogether = `set -eu
d=$1; shift
mkfifo "$d/go"
exec 3<>"$d/go"
for i in 1 2 3 4 5 6 7 8; do
	( read x <"$d/go"; set +e; "$@" >"$d/out.$i" 2>"$d/err.$i"; echo $? >"$d/code.$i" ) &
done
sleep 0.3
printf 'go\ngo\ngo\ngo\ngo\ngo\ngo\ngo\n' >&3
wait
`

// TestConcurrentRuns starts eight applying runs at the same instant on a
// detached-era box: exactly one acts and converges the box, the seven others
// exit 75 (locked) having printed no event.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	old := boxPids(b.observe())
	data := b.dataFiles()
	dir := filepath.Join(b.dir, "concurrent")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b.mustRun("sh", "-c", startTogether, "together", dir,
		b.bins.parachute, "reconcile", "--desired", "supervised", "--spec", b.spec, "--output", "json")

	acted, locked := 0, 0
	for i := 1; i <= 8; i++ {
		n := strconv.Itoa(i)
		code, err := os.ReadFile(filepath.Join(dir, "code."+n))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		out, _ := os.ReadFile(filepath.Join(dir, "out."+n))
		errOut, _ := os.ReadFile(filepath.Join(dir, "err."+n))
		events, doc := splitOutput(t, string(out))
		c, _ := strconv.Atoi(strings.TrimSpace(string(code)))
		switch {
		case c == 0:
			acted++
			if !doc.Converged || len(doc.Applied) == 0 || len(events) == 0 {
				t.Errorf("run %d exited 0 but converged %v, applied %d, events %d", i, doc.Converged, len(doc.Applied), len(events))
			}
		case c == 75:
			locked++
			if len(events) != 0 || !strings.Contains(string(errOut), "another run holds") {
				t.Errorf("locked run %d printed %d events; stderr %q", i, len(events), errOut)
			}
		default:
			t.Errorf("run %d: exit %s\nstderr: %s", i, code, errOut)
		}
	}
	if acted != 1 || locked != 7 {
		t.Fatalf("%d runs acted and %d exited 75; want 1 and 7", acted, locked)
	}
	b.checkSupervised(old)
	b.sameData(data)
	b.noTwoHubs(0)
}
