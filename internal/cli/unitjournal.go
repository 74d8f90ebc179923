package cli

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"

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
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	var out limited
	out.max = 64 << 10
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return observe.LastLines(out.buf.Bytes(), n, false), nil
}

// limited is a writer that keeps the first max bytes and drops the rest.
type limited struct {
	buf bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
