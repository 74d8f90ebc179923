package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

func TestWriteTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parachute.prom")
	t0 := time.Unix(1_800_000_000, 0)
	run := Run{Home: "/srv/box", Desired: "supervised", Outcome: reconcile.OutcomeConverged, Converged: true, Changed: true,
		StepsApplied: 12, Duration: 1500 * time.Millisecond, Finished: t0,
		Modules: []reconcile.ModuleReport{{Short: "vault", State: reconcile.ModuleUp}, {Short: "widget", State: reconcile.ModuleUnstartable}}}
	if err := WriteTextfile(path, run); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	text := string(data)
	for _, line := range []string{
		`parachute_reconcile_outcome{home="/srv/box",outcome="converged"} 1`,
		`parachute_reconcile_outcome{home="/srv/box",outcome="blocked"} 0`,
		`parachute_reconcile_module_state{home="/srv/box",module="widget",state="unstartable"} 1`,
		`parachute_reconcile_module_state{home="/srv/box",module="widget",state="up"} 0`,
		`parachute_reconcile_module_state{home="/srv/box",module="vault",state="up"} 1`,
		`parachute_reconcile_duration_seconds{home="/srv/box"} 1.5`,
		`parachute_reconcile_changed{home="/srv/box"} 1`,
		`parachute_reconcile_converged{desired="supervised",home="/srv/box"} 1`,
		`parachute_reconcile_last_converged_timestamp_seconds{home="/srv/box"} 1.8e+09`,
		`parachute_reconcile_steps_applied{home="/srv/box"} 12`,
		"# TYPE parachute_reconcile_converged gauge",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("missing %q in\n%s", line, text)
		}
	}

	// A later blocked run keeps the last-converged time of the run before.
	run2 := Run{Home: "/srv/box", Desired: "supervised", Outcome: reconcile.OutcomeBlocked, Blockers: 1, ExitCode: 3, Finished: t0.Add(time.Minute)}
	if err := WriteTextfile(path, run2); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	text = string(data)
	for _, line := range []string{
		`parachute_reconcile_last_converged_timestamp_seconds{home="/srv/box"} 1.8e+09`,
		`parachute_reconcile_last_run_timestamp_seconds{home="/srv/box"} 1.80000006e+09`,
		`parachute_reconcile_converged{desired="supervised",home="/srv/box"} 0`,
		`parachute_reconcile_exit_code{home="/srv/box"} 3`,
		`parachute_reconcile_blockers{home="/srv/box"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("after a blocked run: missing %q in\n%s", line, text)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// A first run that does not converge writes no last-converged series.
func TestNeverConvergedHasNoTimestamp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.prom")
	if err := WriteTextfile(path, Run{Home: "/h", Desired: "detached", Outcome: reconcile.OutcomeFailed, ExitCode: 1, Finished: time.Unix(5, 0)}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), lastConverged) {
		t.Errorf("a box never converged has a last-converged time:\n%s", data)
	}
}

// A FIFO (or anything but a regular file) where the previous file should be
// is refused at once, not read: the run must not hang on node_exporter's
// directory.
func TestPreviousFileIsNotAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.prom")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- WriteTextfile(path, Run{Home: "/h", Desired: "supervised", Finished: time.Unix(5, 0)}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO at the textfile path was accepted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteTextfile blocked on a FIFO")
	}
}

// The file is 0644 whatever the umask of the run and whatever mode the file
// it replaces had: node_exporter reads it as another user.
func TestTextfileMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "p.prom")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(path, Run{Home: "/h", Desired: "supervised", Finished: time.Unix(5, 0)}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

// Two module rows with one short make one series per state, not two.
func TestDuplicateShortsAreOneSeries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.prom")
	run := Run{Home: "/h", Desired: "supervised", Finished: time.Unix(5, 0), Modules: []reconcile.ModuleReport{
		{Short: "vault", State: reconcile.ModuleUp}, {Short: "vault", State: reconcile.ModuleDown}}}
	if err := WriteTextfile(path, run); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), `parachute_reconcile_module_state{home="/h",module="vault",state="up"}`); n != 1 {
		t.Errorf("the vault/up series is written %d times:\n%s", n, data)
	}
}

// A link planted at the textfile's path is neither read nor written
// through: the run says so, and the file it points to is untouched.
func TestTextfileLinkIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.prom")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(path, Run{Home: "/h", Desired: "supervised", Finished: time.Unix(5, 0)}); err == nil {
		t.Error("a link at the textfile path was accepted")
	}
	if data, _ := os.ReadFile(target); string(data) != "precious\n" {
		t.Errorf("the link's target was changed: %q", data)
	}
}
