package reconcile_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPlannerImportsNoTransport: the planner is pure in its imports, not
// only in its code. It plans from state's data types and never links the
// observer, a D-Bus client or an HTTP stack; the actuator executes plans
// without the observer; state imports nothing of the project but spec.
// (go-systemd's unit package is the pure unit-file encoder unitfile
// renders with; its dbus package is what is refused.) state's own imports
// are spec and the standard library.
func TestPlannerImportsNoTransport(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	const mod = "github.com/parachute/reconcile/"
	forbidden := map[string][]string{
		"./":         {"github.com/godbus/", "github.com/coreos/go-systemd/v22/dbus", mod + "internal/sdbus", mod + "observe", "net/http", "crypto/tls"},
		"../actuate": {mod + "observe"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command(gobin, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range bad {
				if dep == b || strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
	out, err := exec.Command(gobin, "list", "-f", `{{join .Imports "\n"}}`, "../state").Output()
	if err != nil {
		t.Fatalf("go list ../state: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(imp, ".") && imp != mod+"spec" {
			t.Errorf("state imports %s; it may import only spec and the standard library", imp)
		}
	}
}
