package observe

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/parachute/reconcile/spec"
)

// Journalctl is SystemdUnits.Journal over journalctl(1): the last n
// messages of unit in scope ("user" reads the invoking user's journal), as
// plain text. It runs at most two seconds and reads at most 64 KiB; the
// journal is only asked about a unit that failed or is restarting, so a
// healthy run never forks it.
func Journalctl(ctx context.Context, scope, unit string, n int) ([]string, error) {
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
	return lastLines(out.buf.Bytes(), n, false), nil
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
