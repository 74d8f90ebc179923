package actuatetest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

const testHome = "/home/op/.parachute"

var testModules = []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}, {Name: "parachute-scribe", Short: "scribe", Port: 1943}}

// scratchEntries counts Snapshot's temporary directories.
func scratchEntries(t *testing.T) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(scratchDir(), "actuatetest-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

// A detached hub the actuator started is seen the way observe sees a real
// one: its pidfile live, its listener held by it, /health answered by it
// (the server side of the connection), its environment and directory read,
// the reconciler's ancestors recorded; paths are the world's, and nothing
// is left on disk.
func TestSnapshotThroughTheObserver(t *testing.T) {
	// A scratch directory of its own: other test binaries' snapshots come
	// and go in the shared one meanwhile.
	t.Setenv("TMPDIR", t.TempDir())
	before := scratchEntries(t)
	w := New(testHome, 1939, testModules)
	hub, err := w.StartDetached(w.HubArgv, []string{"PARACHUTE_HOME=" + testHome}, testHome, testHome+"/hub/logs/hub.log")
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFileNow(testHome+"/hub/run/hub.pid", strconv.Itoa(hub)+"\n")
	s := w.Snapshot()

	if len(s.Pidfiles) != 1 || s.Pidfiles[0].State != state.PidLive || s.Pidfiles[0].Path != testHome+"/hub/run/hub.pid" || s.Pidfiles[0].Pid != hub {
		t.Errorf("pidfiles = %+v", s.Pidfiles)
	}
	if s.Home != testHome || s.User != w.User || s.GOOS != "linux" || !s.Taken.Equal(w.Now()) {
		t.Errorf("home %s user %+v goos %s taken %v", s.Home, s.User, s.GOOS, s.Taken)
	}
	if l := s.Ports[0].Listeners; len(l) != 1 || !slices.Equal(l[0].Pids, []int{hub}) || l[0].Addr != "127.0.0.1:1939" {
		t.Errorf("hub port listeners = %+v", l)
	}
	if h := s.Health; !h.OK || h.Status != 200 || h.Service != "parachute-hub" || h.AnsweredBy != hub {
		t.Errorf("health = %+v, want 200 from pid %d", h, hub)
	}
	if !slices.Equal(s.Ancestors, []int{99, 1}) || s.Self != 100 || s.Parent != 99 {
		t.Errorf("self %d parent %d ancestors %v", s.Self, s.Parent, s.Ancestors)
	}
	var got []int
	for _, p := range s.Processes {
		got = append(got, p.Pid)
		if p.Pid == hub && (p.EnvHome != testHome || p.Cwd != testHome || p.Exe != w.HubArgv[0] || p.User != "op") {
			t.Errorf("hub process = %+v", p)
		}
	}
	// The hub with its two modules (its descendants), the reconciler and
	// its ancestors.
	if want := []int{1, 99, 100, hub, hub + 1, hub + 2}; !slices.Equal(got, want) {
		t.Errorf("processes %v, want %v", got, want)
	}
	for _, p := range s.Problems {
		if strings.Contains(p, "actuatetest-") {
			t.Errorf("problem names the scratch directory: %s", p)
		}
	}
	if after := scratchEntries(t); after != before {
		t.Errorf("%d scratch directories left behind", after-before)
	}
}

// /health: a holder that is not the hub answers 404 and is who answered;
// nobody listening is connection refused.
func TestSnapshotHealthAnswers(t *testing.T) {
	w := New(testHome, 1939, nil)
	if h := w.Snapshot().Health; h.Status != 0 || !strings.Contains(h.Error, "connection refused") || h.AnsweredBy != 0 {
		t.Errorf("nobody: health = %+v", h)
	}
	py := w.Spawn(Proc{Argv: []string{"python3", "-m", "http.server", "1939"}, Ports: []int{1939}})
	if h := w.Snapshot().Health; h.Status != 404 || h.OK || h.AnsweredBy != py {
		t.Errorf("a stranger: health = %+v, want 404 from %d", h, py)
	}
}

// Another user's process: its listener is held, owner unknown, and the
// observer says so; nobody is named as having answered.
func TestSnapshotUnreadableHolder(t *testing.T) {
	w := New(testHome, 1939, nil)
	w.Spawn(Proc{Argv: []string{"secret"}, UID: 0, Unreadable: true, Ports: []int{1939}})
	s := w.Snapshot()
	if l := s.Ports[0].Listeners; len(l) != 1 || len(l[0].Pids) != 0 || l[0].UID != 0 {
		t.Errorf("listeners = %+v, want one with no visible holder", l)
	}
	if !slices.ContainsFunc(s.Problems, func(p string) bool { return strings.Contains(p, "held, owner unknown") }) {
		t.Errorf("problems = %q", s.Problems)
	}
	if s.Health.AnsweredBy != 0 {
		t.Errorf("answered by %d, want unknown", s.Health.AnsweredBy)
	}
}

// A pid is reused when its process started after the file was written by
// more than the observer's slack (a second): the world's clock has to move.
func TestSnapshotPidReuseNeedsTime(t *testing.T) {
	w := New(testHome, 1939, nil)
	w.WriteFileNow(testHome+"/hub/run/hub.pid", "1001\n")
	if err := w.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	w.Spawn(Proc{Argv: []string{"sleep", "100"}})
	if pf := w.Snapshot().Pidfiles; len(pf) != 1 || pf[0].State != state.PidReused {
		t.Errorf("pidfiles = %+v, want reused", pf)
	}
}

// A symlink planted on the hub's pidfile path is reported with the world's
// paths.
func TestSnapshotPlantedLink(t *testing.T) {
	w := New(testHome, 1939, nil)
	w.Symlink(testHome+"/hub/run/hub.pid", "/etc/passwd")
	s := w.Snapshot()
	if len(s.Links) != 1 || s.Links[0].Path != testHome+"/hub/run/hub.pid" || s.Links[0].Target != "/etc/passwd" {
		t.Errorf("links = %+v", s.Links)
	}
	for _, p := range s.Problems {
		if strings.Contains(p, os.TempDir()+"/actuatetest-") || strings.Contains(p, "/dev/shm/") {
			t.Errorf("problem names the scratch directory: %s", p)
		}
	}
}
