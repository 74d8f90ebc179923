package procfs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat that the observer and the actuator use.
type Stat struct {
	Pid int
	// Comm is the thread name (field 2), at most 15 bytes, any characters.
	Comm string
	// State is the one-letter kernel state (R, S, D, Z, T, X, …).
	State string
	// PPid, Pgid and Sid are the parent, process group and session.
	PPid int
	Pgid int
	Sid  int
	// StartTicks is the start time in clock ticks since boot (field 22).
	StartTicks uint64
	// KernelThread is PF_KTHREAD in the flags (field 9): a kernel thread,
	// which has no open files of its own.
	KernelThread bool
}

// pfKthread is PF_KTHREAD of include/linux/sched.h.
const pfKthread = 0x00200000

// ParseStat parses the content of /proc/PID/stat.
//
// comm (field 2) is whatever the process set with prctl(PR_SET_NAME) and may
// contain spaces and parentheses, for example "a) (b". The kernel prints it
// between the first "(" and the LAST ")" of the line; every field after it is
// free of both, so splitting at the last ")" is the only safe parse.
func ParseStat(data []byte) (Stat, error) {
	open := bytes.IndexByte(data, '(')
	closing := bytes.LastIndexByte(data, ')')
	if open < 1 || closing < open {
		return Stat{}, fmt.Errorf("parse stat %q: no (comm)", truncate(data))
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat pid: %w", err)
	}
	// rest[0] is field 3 (state); starttime is field 22, so rest[19]. The
	// walk parses one stat per process: the fields are cut without a slice
	// per line (bytes.Fields) and the state letter is a constant.
	var rest [20][]byte
	nf := 0
	for f := range statFields(data[closing+1:]) {
		if nf == len(rest) {
			break
		}
		rest[nf] = f
		nf++
	}
	if nf < len(rest) {
		return Stat{}, fmt.Errorf("parse stat of pid %d: %d fields after comm, want at least 20", pid, nf)
	}
	s := Stat{Pid: pid, Comm: string(data[open+1 : closing]), State: stateString(rest[0])}
	ints := []*int{&s.PPid, &s.Pgid, &s.Sid}
	for i, dst := range ints {
		v, err := strconv.Atoi(string(rest[1+i]))
		if err != nil {
			return Stat{}, fmt.Errorf("parse stat of pid %d field %d: %w", pid, 4+i, err)
		}
		*dst = v
	}
	s.StartTicks, err = strconv.ParseUint(string(rest[19]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat of pid %d starttime: %w", pid, err)
	}
	flags, err := strconv.ParseUint(string(rest[6]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat of pid %d flags: %w", pid, err)
	}
	s.KernelThread = flags&pfKthread != 0
	return s, nil
}

// InCgroup reports whether a process whose cgroup path is path lives in
// cgroup cg or below it. An empty path or cg answers false: unknown is never
// "inside".
func InCgroup(path, cg string) bool {
	if cg == "" || path == "" {
		return false
	}
	return path == cg || strings.HasPrefix(path, strings.TrimSuffix(cg, "/")+"/")
}

// ParseCgroup returns the unified (v2) path from /proc/PID/cgroup: the path of
// the "0::" line; on a hybrid or v1 host without one, the path of the
// "name=systemd" hierarchy, which systemd keeps in step with its units.
func ParseCgroup(data []byte) string {
	fallback := ""
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\n")
		// hierarchy-ID:controller-list:path — the path may itself hold ':'.
		id, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		controllers, path, ok := bytes.Cut(rest, []byte(":"))
		if !ok {
			continue
		}
		if string(id) == "0" && len(controllers) == 0 {
			return string(path)
		}
		for c := range bytes.SplitSeq(controllers, []byte(",")) {
			if string(c) == "name=systemd" && fallback == "" {
				fallback = string(path)
			}
		}
	}
	return fallback
}

// truncate shortens b for an error message.
func truncate(b []byte) []byte {
	b = bytes.TrimRight(b, "\n")
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// statFields yields the fields of b as bytes.Fields splits them (ASCII
// white space; stat has no other).
func statFields(b []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for i := 0; i < len(b); {
			for i < len(b) && asciiSpace(b[i]) {
				i++
			}
			j := i
			for j < len(b) && !asciiSpace(b[j]) {
				j++
			}
			if j > i && !yield(b[i:j]) {
				return
			}
			i = j
		}
	}
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// stateString is string(b) without an allocation for the one-letter states
// the kernel prints (fs/proc/array.c task_state_array).
func stateString(b []byte) string {
	if len(b) == 1 {
		switch b[0] {
		case 'R':
			return "R"
		case 'S':
			return "S"
		case 'D':
			return "D"
		case 'T':
			return "T"
		case 't':
			return "t"
		case 'X':
			return "X"
		case 'Z':
			return "Z"
		case 'P':
			return "P"
		case 'I':
			return "I"
		}
	}
	return string(b)
}
