package observe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/parachute/reconcile/spec"
)

// startSlack is how much later than its pidfile's mtime a process may seem to
// have started and still be the one that wrote it. The computed start time is
// boot time + ticks, and the kernel truncates boot time to the second, so it
// runs up to 1 s early, never late; but a file system with 1 s mtime
// resolution (HFS+, ext3) truncates the mtime by up to 1 s, which can make a
// file written 0.9 s after the start look written before it. One second
// covers that. A real pid reuse is a process started after the old one died,
// which was after the file was written: seconds at least, in practice far
// more.
const startSlack = time.Second

// maxRunFile bounds how much of a pidfile or hub.port is read. The hub writes
// "<pid>\n"; anything this large is not a pidfile.
const maxRunFile = 64 << 10

// pidfileCandidate is one pidfile read from disk, waiting to be judged
// against the process its pid names.
type pidfileCandidate struct {
	pf    Pidfile
	parse pidParse
	// markers attribute the process to the file's owner (spec.Attributes).
	markers []string
	// broad also accepts the word "parachute" anywhere in argv, exe or cwd:
	// the needle of the hub's own migrate sweep, used for hub.pid and
	// detached-era names. spec.Attributes never takes it (it would let a
	// sibling module's process claim a port); here the start time has
	// already been checked, and the question is only whether the pid now
	// names something of this box at all.
	broad bool
}

// readPidfiles reads every pidfile an old or current box may have, plus
// hub.port. Candidates, in order: hub/run/hub.pid; each module's
// <short>/run/<short>.pid and the same for each of its detached-era shorts;
// the retired shorts (runner, channel, agent) when their files exist. Only
// existing files are returned. Nothing is followed out of home: a symlinked
// pidfile is never opened, and a symlinked <short> or run directory is
// followed only when it resolves inside home.
func readPidfiles(home string, d spec.Desired) ([]pidfileCandidate, *PortFile, []string) {
	r := runReader{home: home}
	if real, err := filepath.EvalSymlinks(home); err == nil {
		r.realHome = real
	}
	type want struct {
		short, module string
		legacy, broad bool
		markers       []string
	}
	wants := []want{{short: "hub", broad: true, markers: d.HubMarkers()}}
	for _, m := range d.Manifest.Modules {
		wants = append(wants, want{short: m.Short, module: m.Name, markers: m.Markers()})
		for _, ls := range m.LegacyShorts {
			// Detached-era shorts predate per-module markers: the broad
			// needle too.
			wants = append(wants, want{short: ls, module: m.Name, legacy: true, broad: true, markers: m.Markers()})
		}
	}
	for _, rs := range spec.RetiredShorts {
		wants = append(wants, want{short: rs, legacy: true, broad: true})
	}

	var out []pidfileCandidate
	seen := map[string]bool{}
	for _, w := range wants {
		if seen[w.short] {
			continue
		}
		seen[w.short] = true
		data, path, mod, ok := r.read(w.short, w.short+".pid")
		if !ok {
			continue
		}
		pid, parse := parsePid(data)
		c := pidfileCandidate{
			pf:      Pidfile{Service: w.short, Module: w.module, Legacy: w.legacy, Path: path, Pid: pid, ModTime: mod},
			parse:   parse,
			markers: sortedUnique(w.markers),
			broad:   w.broad,
		}
		out = append(out, c)
	}

	var portFile *PortFile
	if data, path, _, ok := r.read("hub", "hub.port"); ok {
		portFile = &PortFile{Path: path, Port: parsePort(data)}
	}
	return out, portFile, r.problems
}

// runReader reads <home>/<short>/run/<file> safely.
type runReader struct {
	home, realHome string
	problems       []string
}

// read returns the content and mtime of <home>/<short>/run/<file>; ok is
// false when it does not exist or was not read (then a problem says why).
func (r *runReader) read(short, file string) (data []byte, path string, mod time.Time, ok bool) {
	if !safeElement(short) {
		r.problems = append(r.problems, fmt.Sprintf("pidfile of %q not read: not a safe file name", short))
		return nil, "", time.Time{}, false
	}
	path = filepath.Join(r.home, short, "run", file)
	if rel, err := filepath.Rel(r.home, path); err != nil || !filepath.IsLocal(rel) {
		r.problems = append(r.problems, fmt.Sprintf("pidfile %s not read: outside PARACHUTE_HOME", path))
		return nil, "", time.Time{}, false
	}
	for _, dir := range []string{filepath.Join(r.home, short), filepath.Join(r.home, short, "run")} {
		fi, err := os.Lstat(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				r.problems = append(r.problems, fmt.Sprintf("pidfile %s not read: %v", path, err))
			}
			return nil, "", time.Time{}, false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, "", time.Time{}, false // dangling: no file behind it
		}
		if rel, err := filepath.Rel(r.realHome, real); r.realHome == "" || err != nil || !filepath.IsLocal(rel) {
			r.problems = append(r.problems, fmt.Sprintf("pidfile %s not read: %s is a symlink to %s, outside PARACHUTE_HOME", path, dir, real))
			return nil, "", time.Time{}, false
		}
	}
	// O_NOFOLLOW: a symlinked pidfile is reported, never read through.
	// O_NONBLOCK: a FIFO planted there must not hang the observation.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		case errors.Is(err, syscall.ELOOP):
			target, _ := os.Readlink(path)
			r.problems = append(r.problems, fmt.Sprintf("pidfile %s is a symlink to %q: not followed", path, target))
		default:
			r.problems = append(r.problems, fmt.Sprintf("pidfile %s unreadable: %v", path, err))
		}
		return nil, "", time.Time{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("pidfile %s unreadable: %v", path, err))
		return nil, "", time.Time{}, false
	}
	if !fi.Mode().IsRegular() {
		r.problems = append(r.problems, fmt.Sprintf("pidfile %s is not a regular file (%s): not read", path, fi.Mode().Type()))
		return nil, "", time.Time{}, false
	}
	data, err = io.ReadAll(io.LimitReader(f, maxRunFile))
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("pidfile %s unreadable: %v", path, err))
		return nil, "", time.Time{}, false
	}
	return data, path, fi.ModTime(), true
}

// safeElement reports whether s names one entry of a directory: not empty,
// not "." or "..", no separator, no NUL.
func safeElement(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// pid returns the process the file names now, nil when there is none (or the
// content names no pid).
func (c pidfileCandidate) pid(load func(int) *Process) *Process {
	if c.parse != pidOK {
		return nil
	}
	return load(c.pf.Pid)
}

// judge decides the pidfile's state from the process its pid names now (nil:
// no such process). Live needs both: the process started before the file was
// written (within startSlack), and its argv, exe or cwd carries one of the
// file's markers (when it has any). A process that fails either is a reused
// pid, not ours; one whose details cannot be read is unknown.
func (c pidfileCandidate) judge(p *Process) Pidfile {
	pf := c.pf
	switch c.parse {
	case pidNone:
		pf.State, pf.Reason = PidInvalid, "content is not a positive integer"
		return pf
	case pidTooLarge:
		pf.State, pf.Reason = PidDead, "the number is larger than any pid: no such process"
		return pf
	}
	switch {
	case p == nil:
		pf.State, pf.Reason = PidDead, fmt.Sprintf("no process %d", pf.Pid)
		return pf
	case slices.Contains(p.Unreadable, "stat"):
		pf.State, pf.Reason = PidUnknown, fmt.Sprintf("process %d exists but cannot be read", pf.Pid)
		return pf
	case p.Zombie():
		pf.State, pf.Reason = PidDead, fmt.Sprintf("process %d is a zombie", pf.Pid)
		return pf
	case p.Started.IsZero():
		pf.State, pf.Reason = PidUnknown, fmt.Sprintf("start time of process %d unknown", pf.Pid)
		return pf
	case p.Started.After(pf.ModTime.Add(startSlack)):
		pf.State, pf.Reason = PidReused, fmt.Sprintf("process %d started %s, after the file was written (%s)",
			pf.Pid, p.Started.UTC().Format(time.RFC3339Nano), pf.ModTime.UTC().Format(time.RFC3339Nano))
		return pf
	}
	needles := c.markers
	if c.broad {
		needles = append(slices.Clone(needles), "parachute")
	}
	if len(needles) == 0 {
		pf.State = PidLive
		pf.Reason = fmt.Sprintf("process %d started before the file was written; argv not checked: %s has no attribution marker", pf.Pid, pf.Module)
		return pf
	}
	if m, ok := spec.Attributes(c.markers, p.Argv, p.Exe, p.Cwd); ok {
		pf.State, pf.Reason = PidLive, fmt.Sprintf("process %d started before the file was written and its argv, exe or cwd matches %q", pf.Pid, m)
		return pf
	}
	if c.broad && mentionsParachute(p) {
		pf.State, pf.Reason = PidLive, fmt.Sprintf("process %d started before the file was written and its argv, exe or cwd mentions \"parachute\"", pf.Pid)
		return pf
	}
	var hidden []string
	for _, f := range []string{"argv", "exe", "cwd"} {
		if slices.Contains(p.Unreadable, f) {
			hidden = append(hidden, f)
		}
	}
	if len(hidden) > 0 {
		pf.State, pf.Reason = PidUnknown, fmt.Sprintf("process %d: %s unreadable and the rest names none of %s", pf.Pid, strings.Join(hidden, ", "), strings.Join(needles, ", "))
		return pf
	}
	pf.State, pf.Reason = PidReused, fmt.Sprintf("process %d is not ours: its argv, exe and cwd name none of %s", pf.Pid, strings.Join(needles, ", "))
	return pf
}

// mentionsParachute is the hub's migrate-sweep needle: "parachute",
// case-insensitively, anywhere in argv, exe or cwd.
func mentionsParachute(p *Process) bool {
	for _, s := range append([]string{p.Exe, p.Cwd}, p.Argv...) {
		if strings.Contains(strings.ToLower(s), "parachute") {
			return true
		}
	}
	return false
}
