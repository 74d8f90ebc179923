package launchctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Exec runs the real launchctl (Path, /bin/launchctl when empty)
// and reports its output and exit code; only a failure to run it at all (or
// a cancelled ctx) is an error. observe only ever asks it read-only verbs;
// actuate wraps it with the test-time guard for the others.
type Exec struct{ Path string }

// Run runs launchctl with args.
func (e Exec) Run(ctx context.Context, args ...string) (string, string, int, error) {
	path := e.Path
	if path == "" {
		path = "/bin/launchctl"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	stdout, stderr := LimitedBuffer{Max: maxOutput}, LimitedBuffer{Max: maxOutput}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil && stdout.Cut {
		// A cut listing would parse as a short one: say so instead.
		return "", stderr.String(), -1, fmt.Errorf("launchctl %s: output over %d bytes", strings.Join(args, " "), maxOutput)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		return stdout.String(), stderr.String(), exit.ExitCode(), nil
	}
	if err != nil {
		return stdout.String(), stderr.String(), -1, err
	}
	return stdout.String(), stderr.String(), 0, nil
}

// maxOutput bounds what is kept of launchctl's output: a domain's listing
// is tens of KiB.
const maxOutput = 4 << 20

// LimitedBuffer keeps the first Max bytes written to it and drops the rest,
// noting that it did (Cut): the output of a program the run starts is read
// bounded, like every file.
type LimitedBuffer struct {
	Max int
	Cut bool
	buf bytes.Buffer
}

// Write implements io.Writer; it never fails, so the program is not
// stopped by a broken pipe.
func (l *LimitedBuffer) Write(p []byte) (int, error) {
	room := l.Max - l.buf.Len()
	if room < len(p) {
		l.Cut = true
	}
	if room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// Bytes is what was kept.
func (l *LimitedBuffer) Bytes() []byte { return l.buf.Bytes() }

// String is what was kept, as a string.
func (l *LimitedBuffer) String() string { return l.buf.String() }

// Job is what `launchctl print <domain>/<label>` says about a loaded
// job (top-level keys only; nested blocks are skipped except arguments).
type Job struct {
	// State is launchd's word: "running", "waiting", "not running",
	// "spawn scheduled", "exited", …
	State string `json:"state"`
	// PID is the job's process, 0 when not running.
	PID int `json:"pid,omitempty"`
	// LastExitCode is the last exit status; LastExitKnown is false for
	// "(never exited)" or when the line is missing.
	LastExitCode  int  `json:"lastExitCode,omitempty"`
	LastExitKnown bool `json:"lastExitKnown,omitempty"`
	// Path is the plist launchd loaded the job from.
	Path string `json:"path,omitempty"`
	// Program and Arguments are what launchd runs.
	Program   string   `json:"program,omitempty"`
	Arguments []string `json:"arguments,omitempty"`
}

// ParsePrint reads the output of `launchctl print
// <domain>/<label>`: "key = value" lines of the job's top-level block, the
// arguments block, a last exit code that may read "78: EX_CONFIG" or
// "(never exited)". It never fails; keys it does not know are ignored.
func ParsePrint(out string) Job {
	var j Job
	depth := 0
	inArgs := false
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if line == "}" {
			if depth == 2 && inArgs {
				inArgs = false
			}
			if depth > 0 {
				depth--
			}
			continue
		}
		key, val, hasEq := strings.Cut(line, " = ")
		if strings.HasSuffix(line, "{") {
			if depth == 1 && hasEq && key == "arguments" {
				inArgs = true
			}
			depth++
			continue
		}
		if depth == 2 && inArgs {
			j.Arguments = append(j.Arguments, line)
			continue
		}
		if depth > 1 || !hasEq {
			continue
		}
		// depth 1 is the job's block; depth 0 happens when only the body
		// was printed (no "label = {" header).
		switch key {
		case "state":
			j.State = val
		case "pid":
			j.PID, _ = strconv.Atoi(val)
		case "path":
			j.Path = val
		case "program":
			j.Program = val
		case "last exit code":
			num, _, _ := strings.Cut(val, ":")
			if n, err := strconv.Atoi(strings.TrimSpace(num)); err == nil {
				j.LastExitCode, j.LastExitKnown = n, true
			}
		}
	}
	return j
}

// ParseDisabled reads `launchctl print-disabled <domain>`: lines
// `"label" => disabled|enabled` (macOS 11 and later) or `=> true|false`
// (older, where true means disabled). It returns label → disabled.
func ParseDisabled(out string) map[string]bool {
	m := map[string]bool{}
	for _, raw := range strings.Split(out, "\n") {
		label, state, ok := strings.Cut(strings.TrimSpace(raw), "=>")
		if !ok {
			continue
		}
		label = strings.Trim(strings.TrimSpace(label), `"`)
		switch strings.TrimSpace(state) {
		case "disabled", "true":
			m[label] = true
		case "enabled", "false":
			m[label] = false
		}
	}
	return m
}
