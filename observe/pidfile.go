package observe

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/parachute/reconcile/internal/boxfs"
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
}

// readPidfiles reads every pidfile an old or current box may have, plus
// hub.port. Candidates, in order: hub/run/hub.pid; each module's
// <short>/run/<short>.pid and the same for each of its detached-era shorts;
// the retired shorts (runner, channel, agent) when their files exist. Only
// existing files are returned. Nothing is followed out of home: a symlinked
// pidfile, <short> or run directory is never followed (reported instead).
func readPidfiles(home string, d spec.Desired) ([]pidfileCandidate, *PortFile, []string) {
	r := openRuns(home, d.Owner.UID)
	defer r.close()
	type want struct {
		short, module string
		legacy        bool
	}
	wants := []want{{short: "hub"}}
	for _, m := range d.Manifest.Modules {
		wants = append(wants, want{short: m.Short, module: m.Name})
		for _, ls := range m.LegacyShorts {
			wants = append(wants, want{short: ls, module: m.Name, legacy: true})
		}
	}
	for _, rs := range spec.RetiredShorts {
		wants = append(wants, want{short: rs, legacy: true})
	}

	var out []pidfileCandidate
	seen := map[string]bool{}
	for _, w := range wants {
		if seen[w.short] {
			continue
		}
		seen[w.short] = true
		data, path, mod, untrusted, ok := r.read(w.short, w.short+".pid")
		if !ok {
			continue
		}
		pid, parse := parsePid(data)
		c := pidfileCandidate{
			pf: Pidfile{Service: w.short, Module: w.module, Legacy: w.legacy, Path: path, Pid: pid, ModTime: mod,
				Untrusted: untrusted},
			parse: parse,
		}
		out = append(out, c)
	}

	var portFile *PortFile
	if data, path, _, untrusted, ok := r.read("hub", "hub.port"); ok {
		portFile = &PortFile{Path: path, Port: parsePort(data), Untrusted: untrusted}
	}
	return out, portFile, r.problems
}

// runReader reads <home>/<short>/run/<file> through boxfs: never through a
// symlink, never blocking, never more than maxRunFile bytes; and says
// whether the owner can trust it. The home is opened and judged once (the
// first read), and each file is judged by the descriptors it was read
// through (boxfs.Dir.ReadJudged): for 500 modules that is a third of the
// system calls of a read plus a separate trust walk per file, and below
// the home the verdict is about the bytes read, not about a path walked
// again after the read.
type runReader struct {
	home     string
	owner    int
	dir      *boxfs.Dir // the home; nil when it could not be opened
	homeWhy  string     // why the home or a directory above it is untrusted
	problems []string
}

// openRuns judges the home by its path from / (links resolved), then opens
// it. Judged first: a chain that passes can be changed only by the owner
// or root, so the directory opened is the one judged.
func openRuns(home string, owner int) *runReader {
	r := &runReader{home: home, owner: owner}
	if err := boxfs.CheckTrustedWay(home, owner); err != nil {
		r.homeWhy = err.Error()
	}
	d, err := boxfs.OpenDir(home, "", nil)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			r.problems = append(r.problems, fmt.Sprintf("pidfiles not read: %v", err)) // err names the home
		}
		return r
	}
	r.dir = d
	return r
}

func (r *runReader) close() {
	if r.dir != nil {
		r.dir.Close()
	}
}

// read returns the content and mtime of <home>/<short>/run/<file>, and why
// it is not to be trusted ("" when it is); ok is false when it does not
// exist or was not read (then a problem says why).
func (r *runReader) read(short, file string) (data []byte, path string, mod time.Time, untrusted string, ok bool) {
	if !safeElement(short) {
		r.problems = append(r.problems, fmt.Sprintf("pidfile of %q not read: not a safe file name", short))
		return nil, "", time.Time{}, "", false
	}
	if r.dir == nil {
		return nil, "", time.Time{}, "", false
	}
	rel := filepath.Join(short, "run", file)
	path = filepath.Join(r.home, rel)
	// One walk from the home with O_NOFOLLOW at each component: a
	// symlinked <short>, run directory or pidfile is refused, not followed.
	data, info, why, err := r.dir.ReadJudged(rel, maxRunFile, r.owner)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			r.problems = append(r.problems, fmt.Sprintf("pidfile not read: %v", err)) // err names the path
		}
		return nil, "", time.Time{}, "", false
	}
	switch {
	case r.homeWhy != "":
		untrusted = r.homeWhy
	case why != nil:
		untrusted = why.Error()
	}
	return data, path, info.ModTime, untrusted, true
}

// plantedLinks reports a symlink on any path under home that the
// reconciler writes, or has the service manager write: the hub's log (the
// unit's StandardOutput=append: and the detached hub's output) and its
// pidfile and port file.
func plantedLinks(home string) ([]Link, []string) {
	var links []Link
	var problems []string
	seen := map[string]bool{}
	for _, rel := range []string{"hub/logs/hub.log", "hub/run/hub.pid", "hub/run/hub.port"} {
		link, target, err := boxfs.FirstLink(home, rel)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", filepath.Join(home, rel), err))
			continue
		}
		if link != "" && !seen[link] {
			seen[link] = true
			links = append(links, Link{Path: link, Target: target, For: rel})
		}
	}
	return links, problems
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
// no such process). Live means the pid is alive and started before the file
// was written (within startSlack): the file's claim stands as far as time
// can tell. Whether that process is the box's is the planner's to decide,
// with the rest of the evidence (owner, markers, port, environment); a
// pidfile is a claim, not proof.
func (c pidfileCandidate) judge(p *Process) Pidfile {
	pf := c.pf
	switch c.parse {
	case pidNone:
		pf.State, pf.Reason = PidInvalid, "content is not a positive integer"
		return pf
	case pidTooLarge:
		pf.State, pf.Reason = PidDead, "the number is larger than any pid: no such process"
		return pf
	case pidOK:
	}
	switch {
	case p == nil:
		pf.State, pf.Reason = PidDead, fmt.Sprintf("no process %d", pf.Pid)
	case slices.Contains(p.Unreadable, "stat"):
		pf.State, pf.Reason = PidUnknown, fmt.Sprintf("process %d exists but cannot be read", pf.Pid)
	case p.Zombie():
		pf.State, pf.Reason = PidDead, fmt.Sprintf("process %d is a zombie", pf.Pid)
	case p.Started.IsZero():
		pf.State, pf.Reason = PidUnknown, fmt.Sprintf("start time of process %d unknown", pf.Pid)
	case p.Started.After(pf.ModTime.Add(startSlack)):
		pf.State, pf.Reason = PidReused, fmt.Sprintf("process %d started %s, after the file was written (%s)",
			pf.Pid, p.Started.UTC().Format(time.RFC3339Nano), pf.ModTime.UTC().Format(time.RFC3339Nano))
	default:
		pf.State, pf.Reason = PidLive, fmt.Sprintf("process %d started before the file was written", pf.Pid)
	}
	return pf
}
