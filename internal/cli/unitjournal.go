package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/parachute/reconcile/internal/launchctl"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
)

// journalLines is how many of the unit's last journal lines a failure shows.
const journalLines = 10

// withJournal fills s.Unit.Journal, for the planner's account of a failure,
// when the hub unit failed or is restarting. It is here, after the
// observation, because reading the journal forks journalctl: observe stays
// fork-free, and a healthy run never pays for it. A journal that cannot be
// read leaves the lines out (said with --verbose); it is never a reason to
// call the observation incomplete.
func (r *run) withJournal(ctx context.Context, s *observe.Snapshot) {
	u := s.Unit
	if u.Manager != spec.ManagerSystemd || !u.Available ||
		(u.ActiveState != "failed" && u.SubState != "auto-restart" && (u.Result == "" || u.Result == "success")) {
		return
	}
	lines, err := journalctl(ctx, u.Scope, u.Name, journalLines)
	if err != nil && r.opts.verbose {
		pf(r.stderr, "%s: journal of %s: %v\n", r.cmd.title(), u.Name, err)
	}
	s.Unit.Journal = lines
}

// journalctl returns the last n messages of unit in scope ("user" reads the
// invoking user's journal), as plain text. It runs at most two seconds and
// reads at most 64 KiB.
func journalctl(ctx context.Context, scope, unit string, n int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	args := []string{"--no-pager", "--quiet", "--output=cat", fmt.Sprintf("--lines=%d", n)}
	if scope == string(spec.ScopeUser) {
		args = append(args, "--user")
	}
	args = append(args, "--unit="+unit)
	cmd := exec.CommandContext(ctx, journalctlPath(), args...)
	out := launchctl.LimitedBuffer{Max: 64 << 10}
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return observe.LastLines(out.Bytes(), n, false), nil
}

// journalctlPath is systemd's journalctl where Debian and Fedora put it,
// never looked up in $PATH: a root run must not run whatever a PATH entry
// someone else can write holds under that name.
func journalctlPath() string {
	for _, p := range []string{"/usr/bin/journalctl", "/bin/journalctl"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/bin/journalctl"
}
