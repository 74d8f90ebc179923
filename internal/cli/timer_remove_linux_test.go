package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parachute/reconcile/unitfile"
)

// What timer remove finds, before it stops anything: the files as boxfs
// will remove them, and a refusal for a link on the way or at a file.
func TestPresentTimerFiles(t *testing.T) {
	root := t.TempDir()
	place := timerPlace{root: root, dir: filepath.Join(root, "systemd", "user")}
	if got, err := presentTimerFiles(place); err != nil || len(got) != 0 {
		t.Fatalf("no unit directory: %v, %v; want nothing", got, err)
	}
	if err := os.MkdirAll(place.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(place.dir, unitfile.TimerName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := presentTimerFiles(place); err != nil || !reflect.DeepEqual(got, []string{unitfile.TimerName}) {
		t.Fatalf("one file: %v, %v", got, err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(place.dir, unitfile.TimerServiceName)); err != nil {
		t.Fatal(err)
	}
	if _, err := presentTimerFiles(place); err == nil {
		t.Error("a link at a unit file was not refused")
	}
	// A link on the way: the unit directory's parent replaced by a link.
	other := t.TempDir()
	if err := os.Rename(filepath.Join(root, "systemd"), filepath.Join(other, "systemd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "systemd"), filepath.Join(root, "systemd")); err != nil {
		t.Fatal(err)
	}
	if _, err := presentTimerFiles(place); err == nil {
		t.Error("a link on the way to the unit directory was not refused")
	}
}
