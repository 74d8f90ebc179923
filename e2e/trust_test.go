package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// End-to-end tests of docs/design.md's trust model ("a root cron job must never
// hurt a bystander"), one per rule that a bystander could be hurt by: each
// plants a process, a file or a unit that looks like the box's but is not
// (or is the box's but looks foreign), runs the real reconciler in a
// sandboxed systemd, and checks by pid and start time, by file content and
// by unit state what it did.

// strangerServer is a small HTTP server for the strangers of these tests: a
// program of its own (not Python's http.server module by name), so that the
// path it lives at is the only thing that could make it look like the box's.
const strangerServer = `import http.server, sys
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
`

// needPython fails the test when the strangers' interpreter is missing.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("the stranger needs /usr/bin/python3: %v", err)
	}
}

// startIn starts argv inside, as root, as its own session with its output
// discarded and the working directory dir (inside), and returns its pid.
func (b *box) startIn(dir string, argv ...string) int {
	b.t.Helper()
	script := `d=$1; shift; cd "$d" && exec setsid "$@" </dev/null >/dev/null 2>&1 & echo $!`
	out := strings.TrimSpace(b.mustRun(append([]string{"sh", "-c", script, "stranger", dir}, argv...)...))
	pid, err := strconv.Atoi(out)
	if err != nil {
		b.t.Fatalf("start %q in %s: pid %q", argv, dir, out)
	}
	return pid
}

// writePidfile writes "<pid>\n" to path (as root, creating its directory),
// after the process it names has started: its start time passes the check.
func (b *box) writePidfile(path string, pid int) {
	b.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// manifestRow is a services.json row without installDir: no marker of its
// own but its name.
func manifestRow(name string, port int) map[string]any {
	return map[string]any{"name": name, "port": port, "paths": []string{"/" + name},
		"health": "/" + name + "/health", "version": "0.1.0"}
}

// addRows appends rows to the box's services.json (as the hub would write
// it: two-space JSON, trailing newline).
func (b *box) addRows(rows ...map[string]any) {
	b.t.Helper()
	path := filepath.Join(b.home, "services.json")
	data, err := os.ReadFile(path)
	if err != nil {
		b.t.Fatal(err)
	}
	var doc struct {
		Services []any `json:"services"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		b.t.Fatalf("services.json: %v", err)
	}
	for _, r := range rows {
		doc.Services = append(doc.Services, r)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// noStopOf fails for every stop step, applied or planned, whose pid is one
// of pids.
func noStopOf(t *testing.T, r result, pids ...int) {
	t.Helper()
	for _, list := range [][]reconcile.Step{r.doc.Applied, r.doc.Steps} {
		for _, st := range list {
			if st.Action == reconcile.Stop && (slices.Contains(pids, st.Pid) || (st.Pgid > 0 && slices.Contains(pids, st.Pgid))) {
				t.Errorf("step %d stop %s (pid %d, pgid %d): %s", st.N, st.Target, st.Pid, st.Pgid, st.Reason)
			}
		}
	}
}

// expectBlocked fails unless r is exit 3, outcome blocked, nothing applied.
func expectBlocked(t *testing.T, r result) {
	t.Helper()
	if r.code != 3 || r.doc.Outcome != reconcile.OutcomeBlocked {
		t.Errorf("exit %d, outcome %q; want 3, blocked\n%s", r.code, r.doc.Outcome, describe(r))
	}
	if len(r.doc.Applied) != 0 {
		t.Errorf("a blocked run applied %v", stepNames(r.doc.Applied))
	}
}

// blockerFor returns the blocker naming pid.
func blockerFor(r result, pid int) (reconcile.Blocker, bool) {
	for _, bl := range r.doc.Blockers {
		if bl.Pid == pid {
			return bl, true
		}
	}
	return reconcile.Blocker{}, false
}

// blockerMentions reports whether a blocker's reason or fix contains s.
func blockerMentions(r result, s string) bool {
	for _, bl := range r.doc.Blockers {
		if strings.Contains(bl.Reason, s) || strings.Contains(bl.Fix, s) {
			return true
		}
	}
	return false
}

// mentionsPid reports whether the document reports pid: a pidfile of its
// snapshot naming it, a blocker or holder with it, or a note naming it.
func mentionsPid(doc reconcile.Document, pid int) bool {
	for _, pf := range doc.Snapshot.Pidfiles {
		if pf.Pid == pid {
			return true
		}
	}
	for _, bl := range doc.Blockers {
		if bl.Pid == pid {
			return true
		}
	}
	for _, h := range doc.Holders {
		if h.Pid == pid {
			return true
		}
	}
	for _, n := range doc.Notes {
		if strings.Contains(n, strconv.Itoa(pid)) {
			return true
		}
	}
	// A stale pidfile's removal says which check its pid failed.
	for _, st := range append(slices.Clone(doc.Applied), doc.Steps...) {
		if st.Action == reconcile.RemovePidfile && strings.Contains(st.Reason, fmt.Sprintf("pid %d is not the box's (", pid)) && strings.Contains(st.Reason, " check: ") {
			return true
		}
	}
	return false
}

// unitFileAbsent fails when a unit file named unit exists in the system
// unit directory inside.
func (b *box) unitFileAbsent(unit string) {
	b.t.Helper()
	if _, err := os.Lstat(b.in.HostPath(filepath.Join("/etc/systemd/system", unit))); !os.IsNotExist(err) {
		b.t.Errorf("/etc/systemd/system/%s exists after the run: %v", unit, err)
	}
}

// TestTrustSubstringMarker proves rule 3 (evidence is a path component,
// never a substring): a stranger whose program lives under
// …/parachute-notes-backup/ holding the notes module's port is not notes'
// (the marker is parachute-notes). The run is blocked, names the stranger,
// and stops nothing; the stranger keeps running.
func TestTrustSubstringMarker(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--modules", "vault,notes,scribe")
	notes := moduleOf(t, sum, "notes")
	b.killPid(notes.Pid)
	b.waitFree(notes.Port)
	box := boxPids(b.observe())
	script := filepath.Join(b.dir, "srv", "tools", "parachute-notes-backup", "server.py")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(strangerServer), 0o644); err != nil {
		t.Fatal(err)
	}
	stranger := b.startStranger("/usr/bin/python3", script, strconv.Itoa(notes.Port))
	b.waitListening(notes.Port)
	before := b.procs(append(box, stranger)...)

	r := b.reconcileTo("supervised")
	expectBlocked(t, r)
	if bl, ok := blockerFor(r, stranger); !ok {
		t.Errorf("no blocker names the stranger (pid %d, %s) on :%d: %+v", stranger, script, notes.Port, r.doc.Blockers)
	} else {
		t.Logf("blocker: pid %d port %d: %s (fix: %s)", bl.Pid, bl.Port, bl.Reason, bl.Fix)
	}
	noStopOf(t, r, stranger)
	b.untouched(b.t, before, "the run (the box or the stranger)")
	b.unitFileAbsent(hubUnit)
}

// TestTrustNoMarkerRow proves rule 4's "a row with no marker of its own
// gets no shortcut" and rule 5's protected set: a services.json row named
// plain "vault" (no installDir, a bare short is no marker) whose pidfile
// names an unrelated process of the same user that started before the file
// was written and holds no port is reported and left alone; and a pidfile
// naming pid 1, pid 2 or a process of another service unit (journald, dbus)
// never plans a stop of it.
func TestTrustNoMarkerRow(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--modules", "scribe")
	b.addRows(manifestRow("vault", 1940))
	pidfile := filepath.Join(b.home, "vault", "run", "vault.pid")

	t.Run("sleep-in-pidfile", func(t *testing.T) {
		b := b.on(t)
		sleep := b.startStranger("sleep", "3600")
		b.writePidfile(pidfile, sleep)
		before := b.procs(sleep)
		r := b.reconcileTo("absent")
		t.Logf("absent: exit %d, outcome %s, applied %v", r.code, r.doc.Outcome, stepNames(r.doc.Applied))
		for _, pf := range r.doc.Snapshot.Pidfiles {
			if pf.Pid == sleep {
				t.Logf("pidfile %s: %s (%s)", pf.Path, pf.State, pf.Reason)
			}
		}
		noStopOf(t, r, sleep)
		b.untouched(b.t, before, "the run (sleep named by vault.pid)")
		if !mentionsPid(r.doc, sleep) {
			t.Errorf("the document does not report pid %d of %s (pidfiles %+v, notes %q)", sleep, pidfile, r.doc.Snapshot.Pidfiles, r.doc.Notes)
		}
	})

	t.Run("protected-pids", func(t *testing.T) {
		b := b.on(t)
		pids := []int{1, 2}
		for _, unit := range []string{"systemd-journald.service", "dbus.service"} {
			if p, err := strconv.Atoi(b.prop(unit, "MainPID")); err == nil && p > 2 {
				pids = append(pids, p)
			}
		}
		if len(pids) < 3 {
			t.Fatalf("no MainPID for journald or dbus inside the sandbox")
		}
		for _, pid := range pids {
			argv, _ := b.run("sh", "-c", `tr '\0' ' ' 2>/dev/null </proc/$1/cmdline || echo "(no such process)"`, "cmdline", strconv.Itoa(pid))
			b.writePidfile(pidfile, pid)
			for _, desired := range []string{"absent", "supervised"} {
				r := b.parachute("reconcile", "--plan", "--desired", desired)
				if r.code == 65 || r.code == 64 {
					t.Fatalf("--plan --desired %s: exit %d\n%s", desired, r.code, r.stderr)
				}
				noStopOf(t, r, pid)
				t.Logf("vault.pid = %d (%s): --plan --desired %s exit %d, steps %v", pid, strings.TrimSpace(argv), desired, r.code, stepNames(r.doc.Steps))
			}
		}
	})
}

// TestTrustParachuteWord proves rule 3's "the word parachute alone, the
// PARACHUTE_HOME path … are never evidence": with PARACHUTE_HOME at
// <dir>/.parachute, hub.pid naming `tail -f <HOME>/hub/logs/hub.log` and a
// detached-era runner.pid naming a `sleep` whose cwd is <HOME>, neither a
// supervised nor an absent run may signal them.
func TestTrustParachuteWord(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.home = filepath.Join(b.dir, ".parachute")
	b.layout(fastTimeouts)
	hubLog := filepath.Join(b.home, "hub", "logs", "hub.log")
	for _, desired := range []string{"supervised", "absent"} {
		t.Run(desired, func(t *testing.T) {
			b := b.on(t)
			tail := b.startStranger("tail", "-f", hubLog)
			sleep := b.startIn(b.home, "sleep", "3600")
			time.Sleep(10 * time.Millisecond)
			b.writePidfile(filepath.Join(b.home, "hub", "run", "hub.pid"), tail)
			b.writePidfile(filepath.Join(b.home, "runner", "run", "runner.pid"), sleep)
			before := b.procs(tail, sleep)
			r := b.reconcileTo(desired)
			t.Logf("--desired %s: exit %d, outcome %s, applied %v", desired, r.code, r.doc.Outcome, stepNames(r.doc.Applied))
			for _, pf := range r.doc.Snapshot.Pidfiles {
				t.Logf("pidfile %s: pid %d %s (%s)", pf.Path, pf.Pid, pf.State, pf.Reason)
			}
			noStopOf(t, r, tail, sleep)
			b.untouched(b.t, before, "the run (tail of hub.log in hub.pid, sleep in <HOME> in runner.pid)")
			for pid, info := range b.procs(tail, sleep) {
				if info.Alive {
					b.killPid(pid)
				}
			}
		})
	}
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestTrustAncestors proves rule 5 (the reconciler and every one of its
// ancestors are protected) and rule 3 (an ancestor's cwd is never
// evidence): hub.pid naming the reconciler's grandparent, a wrapper whose
// argv holds a path ending in /parachute, does not get it signalled; and a
// stranger on a module port whose parent shell's cwd is the hub's package
// directory is a blocker, not ours.
func TestTrustAncestors(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start")

	t.Run("module-port-under-hub-package-shell", func(t *testing.T) {
		b := b.on(t)
		vault := moduleOf(t, sum, "vault")
		b.killPid(vault.Pid)
		b.waitFree(vault.Port)
		box := boxPids(b.observe())
		pkg := filepath.Join(b.dir, "lib", "@openparachute", "hub")
		shell := b.startIn(pkg, "sh", "-c", `env -C / /usr/bin/python3 -m http.server --bind 127.0.0.1 "$1"; exit $?`, "stranger-shell", strconv.Itoa(vault.Port))
		b.waitListening(vault.Port)
		kids := strings.Fields(b.mustRun("cat", fmt.Sprintf("/proc/%d/task/%d/children", shell, shell)))
		if len(kids) != 1 {
			t.Fatalf("the stranger's shell %d has children %q, want one python", shell, kids)
		}
		py, _ := strconv.Atoi(kids[0])
		cwds := strings.Fields(b.mustRun("readlink", fmt.Sprintf("/proc/%d/cwd", shell), fmt.Sprintf("/proc/%d/cwd", py)))
		if len(cwds) != 2 || cwds[0] != pkg || cwds[1] != "/" {
			t.Fatalf("cwds of shell %d and python %d: %q; want %s and /", shell, py, cwds, pkg)
		}
		before := b.procs(append(box, shell, py)...)
		r := b.reconcileTo("supervised")
		expectBlocked(t, r)
		if bl, ok := blockerFor(r, py); !ok {
			t.Errorf("no blocker names the stranger (pid %d) on :%d: %+v", py, vault.Port, r.doc.Blockers)
		} else {
			t.Logf("blocker: pid %d port %d: %s", bl.Pid, bl.Port, bl.Reason)
		}
		noStopOf(t, r, py, shell)
		b.untouched(b.t, before, "the run (the box or the stranger)")
		b.unitFileAbsent(hubUnit)
		for _, pid := range []int{py, shell} {
			if b.procs(pid)[pid].Alive {
				b.killPid(pid)
			}
		}
	})

	t.Run("grandparent-in-hub.pid", func(t *testing.T) {
		b := b.on(t)
		dir := filepath.Join(b.dir, "wrap")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		sh, err := os.ReadFile("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		wrapper := filepath.Join(dir, "parachute")
		if err := os.WriteFile(wrapper, sh, 0o755); err != nil {
			t.Fatal(err)
		}
		hubPid := filepath.Join(b.home, "hub", "run", "hub.pid")
		out, errf, rc := filepath.Join(dir, "out"), filepath.Join(dir, "err"), filepath.Join(dir, "rc")
		// The wrapper records itself, waits, then runs the reconciler
		// through an intermediate shell that cannot exec it away ("; echo"
		// follows), and keeps its pid afterwards for the survival check.
		script := fmt.Sprintf(`echo $$ > %s
sleep 1
sh -c '"$@"; echo $? > %s' sh %s reconcile --desired absent --spec %s --output json > %s 2> %s
exec sleep 3600
`, shq(hubPid), shq(rc), shq(b.bins.parachute), shq(b.spec), shq(out), shq(errf))
		scriptPath := filepath.Join(dir, "run.sh")
		if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		pidText := strings.TrimSpace(b.mustRun("sh", "-c", `cd / && "$@" </dev/null >/dev/null 2>&1 & echo $!`, "wrapper", wrapper, scriptPath))
		wpid, err := strconv.Atoi(pidText)
		if err != nil {
			t.Fatalf("wrapper pid %q", pidText)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			data, _ := os.ReadFile(hubPid)
			if strings.TrimSpace(string(data)) == pidText {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the wrapper %d did not write hub.pid (%q)", wpid, data)
			}
			time.Sleep(20 * time.Millisecond)
		}
		before := b.procs(wpid)
		t.Logf("wrapper pid %d: %s", wpid, before[wpid].Argv)
		deadline = time.Now().Add(90 * time.Second)
		var code string
		for {
			data, _ := os.ReadFile(rc)
			if code = strings.TrimSpace(string(data)); code != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the reconciler run by the wrapper did not finish in 90s (wrapper alive: %v)", b.procs(wpid)[wpid].Alive)
			}
			time.Sleep(50 * time.Millisecond)
		}
		stdout, _ := os.ReadFile(out)
		stderr, _ := os.ReadFile(errf)
		r := result{stdout: string(stdout), stderr: string(stderr)}
		r.code, _ = strconv.Atoi(code)
		r.events, r.doc = splitOutput(t, r.stdout)
		t.Logf("absent run under the wrapper: exit %d, outcome %s, applied %v", r.code, r.doc.Outcome, stepNames(r.doc.Applied))
		if r.doc.Snapshot.Parent == wpid || r.doc.Snapshot.Self == wpid {
			t.Fatalf("the wrapper %d is the reconciler (%d) or its parent (%d), not its grandparent", wpid, r.doc.Snapshot.Self, r.doc.Snapshot.Parent)
		}
		noStopOf(t, r, wpid)
		b.untouched(b.t, before, "the run (the reconciler's grandparent, named by hub.pid)")
		if r.code != 0 && r.code != 3 {
			t.Errorf("exit %d, want 0 or 3\n%s", r.code, describe(r))
		}
		if b.procs(wpid)[wpid].Alive {
			b.killPid(wpid)
		}
	})
}

// TestTrustRootOnUserHome proves rule 1 (the box has one owner): root run
// on a PARACHUTE_HOME owned by an ordinary user is blocked with a fix that
// says `sudo -u <user>`, and writes nothing — no lock file, no system unit,
// no file of the home changed — and stops nothing of the user's box.
func TestTrustRootOnUserHome(t *testing.T) {
	t.Parallel()
	b := newUserBox(t)
	b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	s := b.observe()
	pids := boxPids(s)
	if len(pids) < 5 {
		t.Fatalf("the user's box has %d pids, want hub, 3 modules and scribe's child: %v", len(pids), pids)
	}
	before := b.procs(pids...)
	// The running box appends to its logs (the hub logs requests, the
	// reconciler's /health included); everything else must stay as it was.
	tree := func() map[string]string {
		out := map[string]string{}
		for p, v := range fileTree(t, b.home) {
			if !strings.Contains(p, "/logs/") {
				out[p] = v
			}
		}
		return out
	}
	homeBefore := tree()
	userUnitsBefore := fileTree(t, b.in.HostPath(filepath.Join(b.as.Home, ".config")))

	root := b.on(t)
	root.as = nil
	r := root.parachute("reconcile", "--desired", "supervised", "--home", b.home)
	expectBlocked(t, r)
	want := "sudo -u " + b.as.Name
	found := false
	for _, bl := range r.doc.Blockers {
		if strings.Contains(bl.Fix, want) {
			found = true
			t.Logf("blocker: %s (fix: %s)", bl.Reason, bl.Fix)
		}
	}
	if !found {
		t.Errorf("no blocker's fix contains %q: %+v", want, r.doc.Blockers)
	}
	if d := diffTrees(homeBefore, tree()); len(d) > 0 {
		t.Errorf("root's run changed the user's home:\n  %s", strings.Join(d, "\n  "))
	}
	if fi, err := os.Lstat(filepath.Join(b.home, ".reconcile.lock")); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		t.Errorf(".reconcile.lock exists after root's run (uid %d)", st.Uid)
	}
	err := filepath.Walk(b.home, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != b.as.UID {
			t.Errorf("%s is owned by uid %d, not %s (%d)", p, st.Uid, b.as.Name, b.as.UID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b.unitFileAbsent(hubUnit)
	if d := diffTrees(userUnitsBefore, fileTree(t, b.in.HostPath(filepath.Join(b.as.Home, ".config")))); len(d) > 0 {
		t.Errorf("root's run changed %s/.config:\n  %s", b.as.Home, strings.Join(d, "\n  "))
	}
	b.untouched(b.t, before, "the run (the user's box)")
}

// TestTrustPlantedLinks proves rule 7 (writes never follow links): a
// hub.log symlinked to a root-only file, a hub/logs directory symlinked
// elsewhere and a dangling hub.log link are blockers naming the link, for
// the detached model (the reconciler opens the log) and the supervised one
// (systemd's StandardOutput=append: would open it as root); the link's
// target is never written or created, and no unit is started.
func TestTrustPlantedLinks(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts)
	logs := filepath.Join(b.home, "hub", "logs")
	hubLog := filepath.Join(logs, "hub.log")
	secret := filepath.Join(b.dir, "secret")
	elsewhere := filepath.Join(b.dir, "elsewhere")
	created := filepath.Join(b.dir, "created-by-root")
	const secretText = "root's secret: nobody may append to this\n"

	// restore undoes every plant: hub/logs a directory, hub.log a regular
	// file, the secret as it was, nothing behind the other targets.
	restore := func(t *testing.T) {
		t.Helper()
		if fi, err := os.Lstat(logs); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if err := os.Remove(logs); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(logs, 0o755); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(hubLog); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if err := os.Remove(hubLog); err != nil {
				t.Fatal(err)
			}
		}
		f, err := os.OpenFile(hubLog, os.O_CREATE|os.O_WRONLY|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.WriteFile(secret, []byte(secretText), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(secret, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(created)
		_ = os.RemoveAll(elsewhere)
		if err := os.Mkdir(elsewhere, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// reset brings the box back to absent with no plant.
	reset := func(t *testing.T) {
		t.Helper()
		restore(t)
		if r := b.on(t).reconcileTo("absent"); r.code != 0 {
			t.Errorf("reset to absent: %s", describe(r))
		}
	}
	link := func(t *testing.T, target, path string) {
		t.Helper()
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	secretSame := func(t *testing.T) {
		t.Helper()
		fi, err := os.Stat(secret)
		if err != nil {
			t.Fatalf("secret: %v", err)
		}
		data, _ := os.ReadFile(secret)
		if string(data) != secretText || fi.Size() != int64(len(secretText)) || fi.Mode().Perm() != 0o600 {
			t.Errorf("the link's target %s changed: mode %v, %d bytes (was %d):\n%s", secret, fi.Mode(), fi.Size(), len(secretText), data)
		}
	}
	noUnitStarted := func(t *testing.T) {
		t.Helper()
		bt := b.on(t)
		if got := bt.prop(hubUnit, "ActiveState"); got == "active" || got == "activating" {
			t.Errorf("the hub unit is %s", got)
		}
		if got := bt.prop(hubUnit, "ExecMainStartTimestampMonotonic"); got != "0" && got != "" {
			t.Errorf("the hub unit was started (ExecMainStartTimestampMonotonic=%s)", got)
		}
	}
	// named checks that a blocker names the link, by its path from
	// PARACHUTE_HOME on (absolute or not).
	named := func(t *testing.T, r result, path string) {
		t.Helper()
		rel, err := filepath.Rel(b.home, path)
		if err != nil {
			t.Fatal(err)
		}
		if !blockerMentions(r, rel) {
			t.Errorf("no blocker names the planted link %s: %+v", path, r.doc.Blockers)
		}
	}

	restore(t)
	t.Run("hub.log-to-secret/detached", func(t *testing.T) {
		defer reset(t)
		link(t, secret, hubLog)
		r := b.on(t).reconcileTo("detached")
		expectBlocked(t, r)
		named(t, r, hubLog)
		time.Sleep(100 * time.Millisecond) // a hub started anyway would have logged by now
		secretSame(t)
	})
	t.Run("logs-dir-to-elsewhere/detached", func(t *testing.T) {
		defer reset(t)
		link(t, elsewhere, logs)
		r := b.on(t).reconcileTo("detached")
		expectBlocked(t, r)
		named(t, r, logs)
		time.Sleep(100 * time.Millisecond)
		entries, err := os.ReadDir(elsewhere)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("created through the hub/logs link: %s", filepath.Join(elsewhere, e.Name()))
		}
	})
	t.Run("dangling-hub.log/detached", func(t *testing.T) {
		defer reset(t)
		link(t, created, hubLog)
		r := b.on(t).reconcileTo("detached")
		expectBlocked(t, r)
		named(t, r, hubLog)
		time.Sleep(100 * time.Millisecond)
		if _, err := os.Lstat(created); !os.IsNotExist(err) {
			t.Errorf("the dangling link's target %s came to exist: %v", created, err)
		}
	})
	t.Run("hub.log-to-secret/supervised", func(t *testing.T) {
		defer reset(t)
		link(t, secret, hubLog)
		r := b.on(t).reconcileTo("supervised")
		expectBlocked(t, r)
		named(t, r, hubLog)
		time.Sleep(100 * time.Millisecond)
		secretSame(t)
		noUnitStarted(t)
	})
}

// operatorUnit is a system unit of the machine's operator whose name merely
// shares the parachute- prefix.
const operatorUnit = `[Unit]
Description=the operator's own %s, not a Parachute module unit

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`

// TestTrustUnitsByName proves rule 6 (units by content, not by name): with
// services.json rows named tunnel and reconcile-boot, the operator's own
// parachute-tunnel.service and parachute-reconcile-boot.service (running
// sleep, names outside the hub's module catalogue) stay active and enabled
// through a supervised cutover.
func TestTrustUnitsByName(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts, "--start")
	b.addRows(manifestRow("tunnel", 1950), manifestRow("reconcile-boot", 1951))
	units := []string{"parachute-tunnel.service", "parachute-reconcile-boot.service"}
	for _, u := range units {
		if err := os.WriteFile(b.in.HostPath(filepath.Join("/etc/systemd/system", u)), []byte(fmt.Sprintf(operatorUnit, u)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.systemctl("daemon-reload")
	for _, u := range units {
		out := b.systemctl("enable", "--now", u)
		if b.systemctl("is-active", u) != "active" || b.systemctl("is-enabled", u) != "enabled" {
			t.Fatalf("%s did not start: %s\n%s", u, out, b.systemctl("status", u))
		}
	}
	mains := map[string]string{}
	for _, u := range units {
		mains[u] = b.prop(u, "MainPID")
	}

	r := b.reconcileTo("supervised")
	t.Logf("supervised: exit %d, outcome %s, applied %v, notes %q", r.code, r.doc.Outcome, stepNames(r.doc.Applied), r.doc.Notes)
	for _, st := range append(append([]reconcile.Step{}, r.doc.Applied...), r.doc.Steps...) {
		if slices.Contains(units, st.Unit) {
			t.Errorf("step %d %s %s: %s", st.N, st.Action, st.Unit, st.Reason)
		}
	}
	for _, u := range units {
		if got := b.systemctl("is-active", u); got != "active" {
			t.Errorf("%s is %q after the cutover, want active", u, got)
		}
		if got := b.systemctl("is-enabled", u); got != "enabled" {
			t.Errorf("%s is %q after the cutover, want enabled", u, got)
		}
		if got := b.prop(u, "MainPID"); got != mains[u] {
			t.Errorf("%s's MainPID is %s, was %s: it was restarted", u, got, mains[u])
		}
	}
}

// endlessLimit is how long a run on an endless or blocking input may take.
const endlessLimit = 3 * time.Second

// parachuteWithin runs the reconciler inside with args exactly as given
// (no --spec added) plus --output json, with its data segment limited to
// 512 MiB (RLIMIT_DATA: an unbounded read of /dev/zero then ends in an
// out-of-memory crash of the reconciler, not in the shared machine's
// memory; the address-space limit would also starve thread creation), and
// gives it limit. A run still going after limit is SIGKILLed by its pid
// inside (recorded by the shell that execs it) and reported as hung.
func (b *box) parachuteWithin(limit time.Duration, tag string, args ...string) (r result, took time.Duration, hung bool) {
	b.t.Helper()
	pidFile := filepath.Join(b.dir, "endless-"+tag+".pid")
	_ = os.Remove(pidFile)
	argv := append([]string{"sh", "-c", `echo $$ >"$1"; ulimit -d 524288; shift; exec "$@"`, "sh", pidFile, b.bins.parachute}, args...)
	argv = append(argv, "--output", "json")
	// The reconciler is killed inside, by its pid, when limit passes; the
	// context is only a backstop. Killing the host-side nsenter instead
	// would leave the reconciler an orphan outside the namespace's init,
	// a zombie that holds up the sandbox's shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), limit+time.Minute)
	defer cancel()
	cmd := b.cmd(ctx, argv...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start parachute %v: %v", args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
		took = time.Since(t0)
	case <-time.After(limit):
		took, hung = time.Since(t0), true
		data, _ := os.ReadFile(pidFile)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil && pid > 1 {
			if b.procs(pid)[pid].Alive {
				b.killPid(pid)
			}
		}
		err = <-done
	}
	r = result{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(err)}
	if hung {
		return r, took, hung
	}
	r.doc = lenientDoc(r.stdout)
	return r, took, false
}

// lenientDoc decodes the result document of a run whose output may not be
// one (a crash): what does not decode is left empty.
func lenientDoc(out string) reconcile.Document {
	var doc reconcile.Document
	var rest strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, `{"event":`) {
			rest.WriteString(line + "\n")
		}
	}
	_ = json.Unmarshal([]byte(rest.String()), &doc)
	return doc
}

// TestTrustEndlessInputs proves rule 2 (inputs are bounded): services.json
// as a FIFO or a symlink to /dev/zero, and a --spec that is a FIFO, each
// end the run at once with exit 65 (invalid input) — no hang, no
// out-of-memory crash — with and without --plan.
func TestTrustEndlessInputs(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.layout(fastTimeouts)
	services := filepath.Join(b.home, "services.json")
	original, err := os.ReadFile(services)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(b.dir, "spec.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	restore := func(t *testing.T) {
		t.Helper()
		if err := os.Remove(services); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(services, original, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		plant func(t *testing.T)
		spec  string
	}{
		{"services.json-fifo", func(t *testing.T) {
			if err := os.Remove(services); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(services, 0o644); err != nil {
				t.Fatal(err)
			}
		}, b.spec},
		{"services.json-dev-zero", func(t *testing.T) {
			if err := os.Remove(services); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/dev/zero", services); err != nil {
				t.Fatal(err)
			}
		}, b.spec},
		{"spec-fifo", func(t *testing.T) {}, fifo},
	}
	for _, c := range cases {
		for _, mode := range [][]string{{"reconcile", "--desired", "supervised"}, {"reconcile", "--plan", "--desired", "supervised"}} {
			name := c.name + "/" + strings.Join(mode[1:], " ")
			t.Run(name, func(t *testing.T) {
				b := b.on(t)
				restore(t)
				defer restore(t)
				c.plant(t)
				args := append(append([]string{}, mode...), "--spec", c.spec)
				if c.spec != b.spec {
					args = append(args, "--home", b.home)
				}
				r, took, hung := b.parachuteWithin(endlessLimit, strings.NewReplacer("/", "_", " ", "_").Replace(name), args...)
				t.Logf("%s: exit %d after %s (hung %v)", name, r.code, took.Round(time.Millisecond), hung)
				if hung {
					t.Fatalf("still running after %s (killed): stderr %q", endlessLimit, tailString(r.stderr, 300))
				}
				if r.code != 65 {
					t.Errorf("exit %d, want 65 (invalid input); stderr: %s", r.code, tailString(r.stderr, 600))
				}
				for _, dump := range []string{"goroutine ", "fatal error:", "panic:"} {
					if strings.Contains(r.stderr, dump) {
						t.Errorf("stderr holds a crash (%q): %s", dump, tailString(r.stderr, 600))
						break
					}
				}
				if len(r.doc.Applied) != 0 {
					t.Errorf("applied %v", stepNames(r.doc.Applied))
				}
			})
		}
	}
	restore(t)
	b.unitFileAbsent(hubUnit)
}

// tailString is the first n bytes of s (enough of a crash to see it).
func tailString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// TestTrustOwnLegacyHub proves rule 8 (ours is ours, too): a detached-era
// hub (bun <pkg>/src/hub-server.ts) is recognised and stopped without its
// pidfiles — with hub.pid and hub.port deleted on the hub port, and with
// only hub.port recording 1941 where it really listens — and the box
// converges; hub.port goes only after 1941 is free.
func TestTrustOwnLegacyHub(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	hubPid := filepath.Join(b.home, "hub", "run", "hub.pid")
	hubPort := filepath.Join(b.home, "hub", "run", "hub.port")

	t.Run("no-pidfiles-on-1939", func(t *testing.T) {
		b := b.on(t)
		sum := b.layout(fastTimeouts, "--start")
		old := boxPids(b.observe())
		for _, p := range []string{hubPid, hubPort} {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Contains(old, sum.Hub.Pid) {
			old = append(old, sum.Hub.Pid)
		}
		r := b.reconcileTo("supervised")
		if r.code != 0 || !r.doc.Converged || r.doc.Outcome != reconcile.OutcomeConverged {
			t.Fatalf("legacy hub without pidfiles: %s", describe(r))
		}
		stopped := false
		for _, st := range r.doc.Applied {
			if st.Action == reconcile.Stop && st.Pid == sum.Hub.Pid {
				stopped = true
				t.Logf("stop %d: %s", st.Pid, st.Reason)
			}
		}
		if !stopped {
			t.Errorf("no stop step for the legacy hub %d: %v", sum.Hub.Pid, stepNames(r.doc.Applied))
		}
		b.checkSupervised(old)
		b.converge("absent")
	})

	t.Run("hub.port-1941", func(t *testing.T) {
		b := b.on(t)
		if _, err := os.Stat(b.spec); err != nil {
			b.layout(fastTimeouts)
		}
		out, err := b.runOut(b.layoutArgs("--start", "--hub-port", "1941")...)
		if err != nil {
			t.Fatalf("layout --hub-port 1941: %v\n%s", err, out)
		}
		var sum layoutSummary
		if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Hub.Pid <= 1 {
			t.Fatalf("layout summary (%v): %s", err, out)
		}
		b.waitListening(1941)
		if err := os.Remove(hubPid); err != nil {
			t.Fatal(err)
		}
		if data, err := os.ReadFile(hubPort); err != nil || strings.TrimSpace(string(data)) != "1941" {
			t.Fatalf("hub.port %q, %v; want 1941", data, err)
		}
		old := append(boxPids(b.observe()), sum.Hub.Pid)
		r := b.reconcileTo("supervised")
		t.Logf("applied: %v", stepNames(r.doc.Applied))
		if r.code != 0 || !r.doc.Converged {
			t.Errorf("legacy hub on hub.port's 1941: %s", describe(r))
		}
		stopAt, removeAt := 0, 0
		for _, st := range r.doc.Applied {
			switch {
			case st.Action == reconcile.Stop && st.Pid == sum.Hub.Pid:
				stopAt = st.N
			case st.Action == reconcile.RemovePidfile && st.Path == hubPort:
				removeAt = st.N
			}
		}
		if stopAt == 0 {
			t.Errorf("no stop step for the hub on 1941 (pid %d)", sum.Hub.Pid)
		}
		if removeAt != 0 && removeAt < stopAt {
			t.Errorf("hub.port removed at step %d, before the hub on 1941 was stopped at step %d", removeAt, stopAt)
		}
		if info := b.procs(sum.Hub.Pid)[sum.Hub.Pid]; info.Alive {
			t.Errorf("the hub on 1941 (pid %d, %s) is still running", sum.Hub.Pid, info.Argv)
		}
		if held, _ := b.run("ss", "-Hltn", "sport = :1941"); strings.TrimSpace(held) != "" {
			t.Errorf(":1941 still held: %s", held)
		}
		if _, err := os.Lstat(hubPort); !os.IsNotExist(err) {
			data, _ := os.ReadFile(hubPort)
			t.Errorf("hub.port still there (%q): %v", data, err)
		}
		if r.code == 0 {
			b.checkSupervised(old)
		}
	})
}

// TestTrustPidfileWording proves that a holder's evidence never contradicts
// the pidfiles: a process named by the module's own pidfile (written after
// it started) and holding the module's port, with a generic argv (python's
// http.server), is not described as "not named by any pidfile".
func TestTrustPidfileWording(t *testing.T) {
	t.Parallel()
	needPython(t)
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start")
	vault := moduleOf(t, sum, "vault")
	b.killPid(vault.Pid)
	b.waitFree(vault.Port)
	py := b.startStranger(httpServer(vault.Port)...)
	b.waitListening(vault.Port)
	b.writePidfile(filepath.Join(b.home, "vault", "run", "vault.pid"), py)

	r := b.parachute("reconcile", "--plan", "--desired", "supervised")
	found := false
	for _, h := range r.doc.Holders {
		if h.Pid != py {
			continue
		}
		found = true
		t.Logf("holder pid %d port %d: %s (%s)", h.Pid, h.Port, h.Verdict, h.Evidence)
		if strings.Contains(h.Evidence, "not named by any pidfile") {
			t.Errorf("vault.pid names pid %d, yet its evidence says: %s", py, h.Evidence)
		}
	}
	if !found {
		t.Errorf("no holder for pid %d on :%d: %+v", py, vault.Port, r.doc.Holders)
	}
}
