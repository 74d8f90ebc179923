package reconcile_test

// Property tests of the trust model (docs/design.md, "The trust model",
// rules 3, 4 and 5) over generated process tables: whatever the table,
// pidfiles and listeners look like, a plan of any model never stops a
// protected process (P1) nor a process whose only link to the box is no
// evidence (P2); it does stop a genuine detached module under absent (P3);
// and a group it signals is led by the stopped pid and holds nothing
// protected (P4).
//
// The generator builds every process with a kind it knows by construction
// (init, kernel thread, the reconciler, its parent and ancestors, another
// user's process, a genuine module or hub process, a process whose only
// evidence is its own cwd in an installDir, and traps). Traps carry no
// evidence at all: their argv, exe and cwd come from a pool of look-alikes
// (substrings, the home, the word "parachute", generic runtimes, the hub's
// package directory as cwd), their ancestors are only traps, protected
// processes or a process whose cwd (never evidence in an ancestor) is an
// installDir, their process group is their own, another trap's or a
// protected process's (never one a genuine process leads), and a pidfile
// names a trap only when its row has no marker of its own, in which case
// the trap holds no port of that row (nor does any member of its group) and
// carries no PARACHUTE_HOME of this box.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/parachute/reconcile/internal/procfs"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// tpKind is what the generator made a process to be.
type tpKind string

const (
	tpInit     tpKind = "init"
	tpKernel   tpKind = "kernel"
	tpSelf     tpKind = "self"
	tpParent   tpKind = "parent"
	tpAncestor tpKind = "ancestor"
	tpStranger tpKind = "stranger" // another user's process, with any command
	tpGenuine  tpKind = "genuine"  // argv or exe names its row (or the hub) by a marker
	tpCwdOnly  tpKind = "cwd-only" // a generic command whose cwd is its row's installDir
	tpTrap     tpKind = "trap"     // no evidence, by construction
)

// tpProc is one generated process and what it is.
type tpProc struct {
	p    state.Process
	kind tpKind
	// row is the index into tpBox.rows of a genuine or cwd-only process's
	// row, -1 for the hub.
	row int
	// why is what the command is ("substring of parachute-notes").
	why string
	// weak are the rows (all without a marker) whose pidfile names it.
	weak []int
}

// tpRow is one services.json row and what is evidence for it.
type tpRow struct {
	mod       spec.Module
	nameMarks bool // the row's name is a marker
	pkg       bool // @openparachute/<short> is a marker (first-party)
	vaultAlso bool // parachute-vault is a marker too (a vault mount)
	dirMarks  bool // the installDir is a usable path marker
}

func (r tpRow) marked() bool { return r.nameMarks || r.dirMarks }

// tpCmd is a command line with its exe and cwd.
type tpCmd struct {
	argv []string
	exe  string
	cwd  string
	why  string
}

type tpBox struct {
	d        spec.Desired
	s        state.Snapshot
	owner    int
	userHome string
	hubPkg   string
	unitCG   string
	rows     []tpRow
	procs    map[int]*tpProc
	order    []int // pids in creation order
}

type tpAccount struct {
	home, userHome, user string
	uid                  int
}

// tpAccounts are the boxes: a user's and root's (where every root daemon
// runs as the owner, and only evidence and the protected set keep them
// safe).
var tpAccounts = []tpAccount{
	{"/home/op/.parachute", "/home/op", "op", 1000},
	{"/root/.parachute", "/root", "root", 0},
}

var tpUIDs = []int{0, 1000, 1001, 65534}

// tpSlots are the rows a box may have: one name per slot, so shorts and
// ports never collide. Good names, bare shorts of any era and the word
// "parachute".
var tpSlots = []struct {
	port  int
	names []string
}{
	{1940, []string{"parachute-vault", "vault", "parachute-vault-work"}},
	{1941, []string{"parachute-notes", "notes"}},
	{1942, []string{"my-module", "runner", "parachute-runner", "parachute"}},
}

// The names that are markers by themselves, and the first-party ones that
// also have an @openparachute package.
var (
	tpMarkedNames = []string{"parachute-vault", "parachute-vault-work", "parachute-notes", "my-module", "parachute-runner"}
	tpFirstParty  = []string{"parachute-vault", "parachute-notes"}
)

type tpDir struct {
	path   string
	usable bool
}

// tpDirs are a row's possible installDirs, with whether each is evidence:
// none, two usable ones (three for a hyphenated name), the home itself, a
// directory above it, one too shallow and a relative one.
func tpDirs(name, home, userHome string) []tpDir {
	ds := []tpDir{
		{"", false},
		{"/srv/parachute/" + name, true},
		{home + "/modules/" + name, true},
		{home, false},
		{"/opt", false},
		{userHome, false},
		{"relative/" + name, false},
	}
	if strings.Contains(name, "-") {
		ds = append(ds, tpDir{"/opt/" + name, true})
	}
	return ds
}

// tpTraps are look-alikes that name no row, whatever the rows are: a module
// name as a substring, a path that only starts like an installDir, the
// home and files under it, the word "parachute", bare shorts, generic
// runtimes, and the hub's package directory as cwd.
func tpTraps(home, userHome, hubPkg string) []tpCmd {
	bun := userHome + "/.bun/bin/bun"
	nm := userHome + "/.bun/install/global/node_modules"
	return []tpCmd{
		{[]string{"python3", "/srv/tools/parachute-notes-backup/server.py"}, "/usr/bin/python3.12", "/srv/tools/parachute-notes-backup", "substring: parachute-notes-backup"},
		{[]string{"/usr/local/bin/my-parachute-vault", "--sync"}, "/usr/local/bin/my-parachute-vault", "/tmp", "substring: my-parachute-vault"},
		{[]string{"/opt/parachute-vaultx/bin/parachute-vaultx", "run"}, "/opt/parachute-vaultx/bin/parachute-vaultx", "/opt/parachute-vaultx", "substring: parachute-vaultx (and /opt/parachute-vault as a string prefix)"},
		{[]string{"node", "/srv/parachute/my-module-old/server.js"}, "/usr/bin/node", "/srv/parachute/my-module-old", "string prefix of installDir /srv/parachute/my-module"},
		{[]string{"bun", nm + "/@openparachute/vault-tools/bin/x.ts"}, bun, "/tmp", "substring: @openparachute/vault-tools"},
		{[]string{"bun", nm + "/@openparachute/hubble/src/cli.ts", "serve"}, bun, "/tmp", "substring: @openparachute/hubble"},
		{[]string{"git", "-C", userHome + "/src/parachute-vault-fork", "pull"}, "/usr/bin/git", userHome + "/src/parachute-vault-fork", "substring: parachute-vault-fork"},
		{[]string{"PARACHUTE-VAULTX"}, "/usr/local/bin/PARACHUTE-VAULTX", "/", "substring, upper case: PARACHUTE-VAULTX"},
		{[]string{"tail", "-f", home + "/hub/logs/hub.log"}, "/usr/bin/tail", home, "home: tail -f of the hub log"},
		{[]string{"-bash"}, "/usr/bin/bash", home, "home: a login shell in the home"},
		{[]string{"vim", home + "/services.json"}, "/usr/bin/vim", home + "/hub/run", "home: editing services.json"},
		{[]string{"rsync", "-a", home + "/", "/backup/parachute/"}, "/usr/bin/rsync", userHome, "home: a backup of the home"},
		{[]string{"journalctl", "--user-unit=parachute-hub.service", "-f"}, "/usr/bin/journalctl", home, "home cwd, unit name as a substring"},
		{[]string{"parachute", "status"}, "/usr/local/bin/parachute", userHome, "the word parachute"},
		{[]string{"/usr/local/bin/parachute", "logs", "vault", "--home=" + home}, "/usr/local/bin/parachute", "/", "the word parachute, a bare short, --home=<home>"},
		{[]string{"python3", "-m", "http.server", "1940"}, "/usr/bin/python3", "/srv/parachute", "generic runtime, cwd above the installDirs"},
		{[]string{"bun", "run", "dev"}, bun, hubPkg, "generic runtime, cwd the hub package"},
		{[]string{"node", "server.js"}, "/usr/bin/node", hubPkg + "/src", "generic runtime, cwd in the hub package"},
		{[]string{"bun", "x.ts"}, bun, "/opt", "generic runtime, cwd /opt (a too-shallow installDir)"},
		{[]string{"/usr/bin/vault", "server", "-config=/etc/vault.hcl"}, "/usr/bin/vault", "/", "bare short: vault"},
		{[]string{"/opt/runner/run.sh", "--once"}, "/usr/bin/bash", "/opt/runner", "bare short: runner"},
		{[]string{"notes", "--today"}, "/usr/bin/notes", "/", "bare short: notes"},
		{[]string{"sleep", "1000"}, "/usr/bin/sleep", "/", "nothing at all"},
	}
}

// genuineCmds are commands that name row i (the hub for -1) by a marker.
func (b *tpBox) genuineCmds(i int) []tpCmd {
	bun := b.userHome + "/.bun/bin/bun"
	nm := b.userHome + "/.bun/install/global/node_modules"
	if i < 0 {
		return []tpCmd{
			{slices.Clone(b.d.HubCommand), bun, b.d.Home, "hub: the hub command"},
			{[]string{"bun", b.hubPkg + "/src/hub-server.ts", "--port", "1939"}, bun, "/", "hub: detached-era hub-server.ts"},
			{[]string{"node", b.userHome + "/.npm-global/lib/node_modules/@openparachute/hub/dist/cli.js", "serve"}, "/usr/bin/node", "/", "hub: its package"},
		}
	}
	r := b.rows[i]
	n, s := r.mod.Name, r.mod.Short
	var out []tpCmd
	if r.nameMarks {
		out = append(out,
			tpCmd{[]string{b.userHome + "/.bun/bin/" + n, "serve"}, bun, "/", n + ": bin/" + n},
			tpCmd{[]string{"bun", nm + "/" + n + "/src/cli.ts", "serve"}, bun, b.d.Home, n + ": node_modules/" + n},
			tpCmd{[]string{n, "--port", fmt.Sprint(r.mod.Port)}, bun, "/", n + ": argv[0] " + n},
		)
	}
	if r.pkg {
		out = append(out, tpCmd{[]string{"bun", nm + "/@openparachute/" + s + "/src/cli.ts", "serve"}, bun, b.d.Home, n + ": @openparachute/" + s})
	}
	if r.vaultAlso {
		out = append(out, tpCmd{[]string{b.userHome + "/.bun/bin/parachute-vault", "serve", "--mount", "work"}, bun, "/", n + ": parachute-vault"})
	}
	if r.dirMarks {
		d := r.mod.InstallDir
		out = append(out,
			tpCmd{[]string{"bun", d + "/src/server.ts"}, bun, "/", n + ": a script in its installDir"},
			tpCmd{[]string{"node", "--require=" + d + "/hook.js", "main.js"}, "/usr/bin/node", "/tmp", n + ": --require=<installDir>/hook.js"},
			tpCmd{[]string{"server"}, d + "/bin/server", "/", n + ": exe in its installDir"},
		)
	}
	return out
}

// tpGen draws a box, its process table, pidfiles and listeners.
func tpGen(t *rapid.T) *tpBox {
	acct := rapid.SampledFrom(tpAccounts).Draw(t, "account")
	home := acct.home
	b := &tpBox{owner: acct.uid, userHome: acct.userHome, procs: map[int]*tpProc{}}
	b.hubPkg = acct.userHome + "/.bun/install/global/node_modules/@openparachute/hub"
	bun := acct.userHome + "/.bun/bin/bun"
	scope, unitPath := spec.ScopeUser, acct.userHome+"/.config/systemd/user/parachute-hub.service"
	b.unitCG = fmt.Sprintf("/user.slice/user-%d.slice/user@%d.service/app.slice/parachute-hub.service", acct.uid, acct.uid)
	if acct.uid == 0 {
		scope, unitPath, b.unitCG = spec.ScopeSystem, "/etc/systemd/system/parachute-hub.service", "/system.slice/parachute-hub.service"
	}
	var others []int
	for _, u := range tpUIDs {
		if u != acct.uid {
			others = append(others, u)
		}
	}
	var mods []spec.Module
	for i, slot := range tpSlots {
		if !rapid.Bool().Draw(t, fmt.Sprintf("row%d", i)) {
			continue
		}
		name := rapid.SampledFrom(slot.names).Draw(t, fmt.Sprintf("row%d-name", i))
		dir := rapid.SampledFrom(tpDirs(name, home, acct.userHome)).Draw(t, fmt.Sprintf("row%d-dir", i))
		m := spec.Module{Name: name, Short: spec.ShortName(name), Port: slot.port, InstallDir: dir.path, LegacyShorts: spec.LegacyShorts(name)}
		b.rows = append(b.rows, tpRow{mod: m, nameMarks: slices.Contains(tpMarkedNames, name),
			pkg: slices.Contains(tpFirstParty, name), vaultAlso: name == "parachute-vault-work", dirMarks: dir.usable})
		mods = append(mods, m)
	}
	b.d = spec.Desired{
		Home: home, HubPort: 1939, HubCommand: []string{bun, b.hubPkg + "/src/cli.ts", "serve"},
		Manager: spec.ManagerSystemd, Scope: scope, Timeouts: spec.DefaultTimeouts,
		Manifest: spec.Manifest{Path: home + "/services.json", Exists: true, Modules: mods},
		User:     spec.User{Name: acct.user, UID: acct.uid, Home: acct.userHome},
		Owner:    spec.Owner{UID: acct.uid, Name: acct.user, Known: true},
	}

	cgroups := []string{"", "", fmt.Sprintf("/user.slice/user-%d.slice/session-3.scope", acct.uid), "/system.slice/cron.service",
		"/system.slice/sshd.service", "/system.slice/postgresql.service", b.unitCG}
	traps := tpTraps(home, acct.userHome, b.hubPkg)
	var all, genuineAll []tpCmd
	for i := -1; i < len(b.rows); i++ {
		if i < 0 || b.rows[i].marked() {
			genuineAll = append(genuineAll, b.genuineCmds(i)...)
		}
	}
	all = append(append(all, traps...), genuineAll...)
	all = append(all,
		tpCmd{[]string{"/usr/sbin/cron", "-f"}, "/usr/sbin/cron", "/", "cron"},
		tpCmd{[]string{"/bin/sh", "-c", "parachute reconcile --desired absent"}, "/usr/bin/dash", home, "cron's shell"},
		tpCmd{[]string{"tmux", "new", "-s", "box"}, "/usr/bin/tmux", home, "tmux"},
	)

	pid := 50
	add := func(pp *tpProc) int {
		if pp.p.Pid == 0 {
			pid += rapid.IntRange(1, 40).Draw(t, "pid-gap")
			pp.p.Pid = pid
		}
		pp.p.Argv = slices.Clone(pp.p.Argv)
		pp.p.StartTicks = uint64(rapid.IntRange(100, 100000).Draw(t, "start"))
		pp.p.State = "S"
		b.procs[pp.p.Pid] = pp
		b.order = append(b.order, pp.p.Pid)
		return pp.p.Pid
	}
	// A protected process runs, half the time, a command that would be
	// evidence in anybody else.
	protCmd := func(label string) tpCmd {
		if rapid.Bool().Draw(t, label+"-genuine") {
			return rapid.SampledFrom(genuineAll).Draw(t, label)
		}
		return rapid.SampledFrom(all).Draw(t, label)
	}
	cmdProc := func(c tpCmd, kind tpKind, uid, ppid int) *tpProc {
		return &tpProc{kind: kind, row: -1, why: c.why, p: state.Process{PPid: ppid, UID: uid, Argv: c.argv, Exe: c.exe, Cwd: c.cwd}}
	}
	// Pid 1: systemd, or in a container the hub itself (as the owner, too).
	initCmd := rapid.SampledFrom([]tpCmd{
		{[]string{"/sbin/init"}, "/usr/lib/systemd/systemd", "/", "init"},
		{[]string{"/sbin/tini", "--", "bun", b.hubPkg + "/src/cli.ts", "serve"}, "/sbin/tini", home, "container init running the hub"},
		{slices.Clone(b.d.HubCommand), bun, home, "the hub as a container's pid 1"},
	}).Draw(t, "init-cmd")
	initProc := cmdProc(initCmd, tpInit, rapid.SampledFrom([]int{0, acct.uid}).Draw(t, "init-uid"), 0)
	initProc.p.Pid, initProc.p.Pgid, initProc.p.Sid, initProc.p.Cgroup = 1, 1, 1, "/init.scope"
	add(initProc)
	add(&tpProc{kind: tpKernel, row: -1, p: state.Process{Pid: 2, UID: 0, Kernel: true}})
	add(&tpProc{kind: tpKernel, row: -1, p: state.Process{Pid: 3, PPid: 2, UID: 0, Kernel: true}})
	add(&tpProc{kind: tpKernel, row: -1, p: state.Process{Pid: 4, PPid: 2, UID: 0, Kernel: true, Argv: []string{"lockd"}}})

	// The reconciler's line: ancestors from the top, its parent, itself.
	var chain []int
	ppid := 1
	for i := rapid.IntRange(0, 3).Draw(t, "ancestors"); i > 0; i-- {
		c := protCmd("ancestor-cmd")
		uid := rapid.SampledFrom(append([]int{acct.uid, acct.uid}, others...)).Draw(t, "ancestor-uid")
		ppid = add(cmdProc(c, tpAncestor, uid, ppid))
		chain = append(chain, ppid)
	}
	parent := add(cmdProc(protCmd("parent-cmd"), tpParent, rapid.SampledFrom([]int{acct.uid, 0}).Draw(t, "parent-uid"), ppid))
	// The reconciler: the parachute CLI, which may well be the hub's own
	// cli.ts (the hub's marker), with this box's PARACHUTE_HOME or not.
	selfCmd := rapid.SampledFrom([]tpCmd{
		{[]string{"/usr/local/bin/parachute", "reconcile"}, "/usr/local/bin/parachute", "", "the reconciler"},
		{[]string{bun, b.hubPkg + "/src/cli.ts", "reconcile", "--desired", "absent"}, bun, "", "the reconciler, run by the hub's cli.ts"},
	}).Draw(t, "self-cmd")
	selfCmd.cwd = rapid.SampledFrom([]string{home, acct.userHome, "/"}).Draw(t, "self-cwd")
	selfProc := cmdProc(selfCmd, tpSelf, acct.uid, parent)
	selfProc.p.EnvHome = rapid.SampledFrom([]string{"", home}).Draw(t, "self-envhome")
	self := add(selfProc)
	ancestors := []int{}
	if rapid.Bool().Draw(t, "ancestors-list-parent") {
		ancestors = append(ancestors, parent)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		ancestors = append(ancestors, chain[i])
	}

	// Everything else.
	safeParents := func() []int { // a trap's or cwd-only's parent: never evidence
		out := []int{1, 9999}
		for _, q := range b.order {
			// A set of kinds, not a dispatch.
			//exhaustive:ignore
			switch b.procs[q].kind {
			case tpSelf, tpParent, tpAncestor, tpStranger, tpTrap:
				out = append(out, q)
			}
		}
		return out
	}
	ofKind := func(k tpKind) []int {
		var out []int
		for _, q := range b.order {
			if b.procs[q].kind == k {
				out = append(out, q)
			}
		}
		return out
	}
	for i := rapid.IntRange(1, 14).Draw(t, "processes"); i > 0; i-- {
		var dirRows, targets []int
		targets = append(targets, -1)
		for r, row := range b.rows {
			if row.dirMarks {
				dirRows = append(dirRows, r)
			}
			if row.marked() {
				targets = append(targets, r)
			}
		}
		uid := acct.uid
		if rapid.IntRange(0, 9).Draw(t, "foreign-uid") == 0 {
			uid = rapid.SampledFrom(others).Draw(t, "uid")
		}
		roll := rapid.IntRange(0, 99).Draw(t, "kind")
		switch {
		case roll < 35:
			r := rapid.SampledFrom(targets).Draw(t, "genuine-row")
			pp := cmdProc(rapid.SampledFrom(b.genuineCmds(r)).Draw(t, "genuine-cmd"), tpGenuine, uid,
				rapid.SampledFrom(append(slices.Clone(b.order), 9999)).Draw(t, "genuine-ppid"))
			pp.row = r
			pp.p.Cgroup = rapid.SampledFrom(cgroups).Draw(t, "cgroup")
			pp.p.EnvHome = rapid.SampledFrom([]string{"", home}).Draw(t, "envhome")
			add(pp)
		case roll < 50 && len(dirRows) > 0:
			r := rapid.SampledFrom(dirRows).Draw(t, "cwd-row")
			d := b.rows[r].mod.InstallDir
			c := tpCmd{[]string{"bun", "run", "start"}, bun, rapid.SampledFrom([]string{d, d + "/dist"}).Draw(t, "cwd"), b.rows[r].mod.Name + ": cwd in its installDir"}
			pp := cmdProc(c, tpCwdOnly, uid, rapid.SampledFrom(safeParents()).Draw(t, "cwd-ppid"))
			pp.row = r
			pp.p.Cgroup = rapid.SampledFrom(cgroups).Draw(t, "cgroup")
			add(pp)
		case roll < 88:
			parents := safeParents()
			if cw := ofKind(tpCwdOnly); len(cw) > 0 && rapid.IntRange(0, 2).Draw(t, "trap-under-cwd-only") > 0 {
				parents = cw // its only link is an ancestor's cwd
			}
			pp := cmdProc(rapid.SampledFrom(traps).Draw(t, "trap-cmd"), tpTrap, uid, rapid.SampledFrom(parents).Draw(t, "trap-ppid"))
			if q, ok := b.procs[pp.p.PPid]; ok && q.kind == tpCwdOnly {
				pp.why += "; parent's cwd is " + q.p.Cwd
			}
			pp.p.Cgroup = rapid.SampledFrom(cgroups).Draw(t, "cgroup")
			pp.p.EnvHome = rapid.SampledFrom([]string{"", home, "/home/other/.parachute"}).Draw(t, "envhome")
			add(pp)
		default:
			pp := cmdProc(protCmd("stranger-cmd"), tpStranger, rapid.SampledFrom(others).Draw(t, "stranger-uid"),
				rapid.SampledFrom(append(slices.Clone(b.order), 9999)).Draw(t, "stranger-ppid"))
			pp.p.Cgroup = rapid.SampledFrom(cgroups).Draw(t, "cgroup")
			add(pp)
		}
	}
	trapPids := ofKind(tpTrap)
	var protectedPids []int
	for _, q := range b.order {
		// A set of kinds, not a dispatch.
		//exhaustive:ignore
		switch b.procs[q].kind {
		case tpInit, tpSelf, tpParent, tpAncestor, tpStranger:
			protectedPids = append(protectedPids, q)
		}
	}

	// Pidfiles: the hub's and each row's, naming the row's own process,
	// another genuine one, a protected one, a gone pid, or (for a row with
	// no marker only) a trap.
	taken := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var pidfiles []state.Pidfile
	for r := -1; r < len(b.rows); r++ {
		if rapid.IntRange(0, 9).Draw(t, "pidfile") < 3 {
			continue
		}
		service, module := "hub", ""
		if r >= 0 {
			service, module = b.rows[r].mod.Short, b.rows[r].mod.Name
		}
		cands := map[string][]int{"gone": {31999}, "protected": append([]int{2, 3, 4}, protectedPids...)}
		for _, q := range ofKind(tpGenuine) {
			cands["genuine"] = append(cands["genuine"], q)
			if b.procs[q].row == r {
				cands["own"] = append(cands["own"], q, q, q)
			}
		}
		if r >= 0 && !b.rows[r].marked() && len(trapPids) > 0 {
			cands["trap"] = trapPids
		}
		var cats []string
		for _, c := range []string{"own", "own", "own", "own", "own", "genuine", "protected", "trap", "trap", "gone"} {
			if len(cands[c]) > 0 {
				cats = append(cats, c)
			}
		}
		cat := rapid.SampledFrom(cats).Draw(t, "pidfile-names")
		pf := state.Pidfile{Service: service, Module: module, Path: spec.PidfilePath(home, service),
			Pid: rapid.SampledFrom(cands[cat]).Draw(t, "pidfile-pid"), ModTime: taken}
		named := pf.Pid
		switch s := rapid.IntRange(0, 19).Draw(t, "pidfile-state"); {
		case s < 13:
			pf.State = state.PidLive
		case s < 15:
			pf.State, pf.Reason = state.PidReused, "started after the file was written"
		case s < 17:
			pf.State = state.PidDead
		case s < 19:
			pf.State, pf.Pid, pf.Reason = state.PidInvalid, 0, "not a pid"
		default:
			pf.State, pf.Reason = state.PidUnknown, "permission denied"
		}
		if rapid.IntRange(0, 9).Draw(t, "pidfile-untrusted") == 0 {
			pf.Untrusted = home + "/" + service + "/run is writable by group (mode 0775)"
		}
		if cat == "trap" {
			tp := b.procs[named]
			tp.weak = append(tp.weak, r)
			if tp.p.EnvHome == home {
				tp.p.EnvHome = ""
			}
		}
		pidfiles = append(pidfiles, pf)
	}
	sort.Slice(pidfiles, func(i, j int) bool { return pidfiles[i].Path < pidfiles[j].Path })

	// Process groups and sessions, parents first. A trap's group is its
	// own, another trap's or a protected process's: never one a genuine
	// process leads. Everyone else may be in any group, the reconciler's
	// and its ancestors' included.
	for _, q := range b.order {
		pp := b.procs[q]
		if pp.kind == tpInit || pp.kind == tpKernel {
			continue
		}
		pg := q
		if pp.kind == tpTrap {
			var weak []int
			for _, w := range trapPids {
				if len(b.procs[w].weak) > 0 && w != q {
					weak = append(weak, w)
				}
			}
			switch rapid.IntRange(0, 3).Draw(t, "trap-group") {
			case 1: // in the group of a trap a marker-less pidfile names
				if len(weak) > 0 {
					pg = rapid.SampledFrom(weak).Draw(t, "trap-pgid")
					pp.why += fmt.Sprintf("; in the group of pid %d, which only a marker-less row's pidfile names", pg)
				}
			case 2, 3:
				pg = rapid.SampledFrom(append(slices.Clone(trapPids), protectedPids...)).Draw(t, "trap-pgid")
			}
		} else {
			switch rapid.IntRange(0, 3).Draw(t, "pgid-how") {
			case 0:
				if par, ok := b.procs[pp.p.PPid]; ok && par.p.Pgid > 0 {
					pg = par.p.Pgid
				}
			case 1:
				pg = rapid.SampledFrom(b.order).Draw(t, "pgid")
			}
		}
		pp.p.Pgid = pg
		pp.p.Sid = rapid.SampledFrom([]int{q, pg}).Draw(t, "sid")
	}

	// hub.port and the ports.
	ports := []state.Port{{Port: 1939, Owner: "hub", Short: "hub"}}
	for _, r := range b.rows {
		ports = append(ports, state.Port{Port: r.mod.Port, Owner: r.mod.Name, Short: r.mod.Short})
	}
	var hubPortFile *state.PortFile
	switch rapid.IntRange(0, 3).Draw(t, "hub.port") {
	case 1:
		hubPortFile = &state.PortFile{Path: spec.HubPortPath(home), Port: 1939}
	case 2:
		hubPortFile = &state.PortFile{Path: spec.HubPortPath(home), Port: 1950}
	case 3:
		hubPortFile = &state.PortFile{Path: spec.HubPortPath(home)}
	}
	if hubPortFile != nil && rapid.IntRange(0, 5).Draw(t, "hub.port-untrusted") == 0 {
		hubPortFile.Untrusted = home + "/hub/run is writable by others (mode 0777)"
	}
	if hubPortFile != nil && hubPortFile.Untrusted == "" && hubPortFile.Port == 1950 {
		ports = append(ports, state.Port{Port: 1950, Owner: "hub", Short: "hub", Recorded: true})
	}
	inode := uint64(20000)
	for i := range ports {
		port := ports[i].Port
		if rapid.IntRange(0, 9).Draw(t, "port-free") < 3 {
			continue
		}
		// Who may hold it: anyone, except a trap a marker-less row's
		// pidfile names (or a member of its group) on that row's port.
		var weakLeaders []int
		for _, q := range trapPids {
			for _, r := range b.procs[q].weak {
				if b.rows[r].mod.Port == port {
					weakLeaders = append(weakLeaders, q)
				}
			}
		}
		// A row whose only would-be markers are no evidence (a bare short,
		// the word "parachute", an installDir at or above the home or too
		// shallow) is where a trap is most tempting: traps hold its port.
		bait := false
		for _, r := range b.rows {
			if r.mod.Port == port && (!r.marked() || (r.mod.InstallDir != "" && !r.dirMarks)) {
				bait = true
			}
		}
		var anyone, likely, prot []int
		for _, q := range b.order {
			pp := b.procs[q]
			if slices.Contains(weakLeaders, q) || slices.Contains(weakLeaders, pp.p.Pgid) {
				continue
			}
			anyone = append(anyone, q)
			switch {
			case pp.kind == tpInit || pp.kind == tpKernel || pp.kind == tpSelf || pp.kind == tpParent || pp.kind == tpAncestor || pp.kind == tpStranger:
				prot = append(prot, q)
			case pp.kind == tpGenuine && (pp.row < 0 && (port == 1939 || port == 1950) || pp.row >= 0 && b.rows[pp.row].mod.Port == port):
				likely = append(likely, q)
			case pp.kind == tpTrap:
				if bait {
					likely = append(likely, q)
				}
				if par, ok := b.procs[pp.p.PPid]; ok && par.kind == tpCwdOnly && b.rows[par.row].mod.Port == port {
					likely = append(likely, q) // its only link: the parent's cwd
				}
				if lead, ok := b.procs[pp.p.Pgid]; ok && lead.p.Pid != q && len(lead.weak) > 0 {
					likely = append(likely, q) // in the group of a pid whose claim fails
				}
			}
		}
		for n := rapid.IntRange(1, 2).Draw(t, "listeners"); n > 0; n-- {
			inode++
			l := state.Listener{Addr: fmt.Sprintf("127.0.0.1:%d", port), Inode: inode}
			if n == 2 {
				l.Addr = fmt.Sprintf("[::]:%d", port)
			}
			if rapid.IntRange(0, 14).Draw(t, "listener-unknown") == 0 {
				l.UID = rapid.SampledFrom(tpUIDs).Draw(t, "listener-uid")
				ports[i].Listeners = append(ports[i].Listeners, l)
				continue
			}
			for k := rapid.IntRange(1, 2).Draw(t, "holders"); k > 0; k-- {
				from := anyone
				switch roll := rapid.IntRange(0, 6).Draw(t, "holder-from"); {
				case roll < 4 && len(likely) > 0:
					from = likely // its own genuine process, or a trap under a cwd-only one
				case roll == 4 && len(prot) > 0:
					from = prot
				}
				h := rapid.SampledFrom(from).Draw(t, "holder")
				if !slices.Contains(l.Pids, h) {
					l.Pids = append(l.Pids, h)
				}
			}
			sort.Ints(l.Pids)
			l.UID = b.procs[l.Pids[0]].p.UID
			ports[i].Listeners = append(ports[i].Listeners, l)
		}
	}

	unit := state.Unit{Manager: "systemd", Available: true, Scope: string(scope), Name: "parachute-hub.service",
		ControlGroup: b.unitCG, File: state.UnitFile{Path: unitPath}}
	switch rapid.SampledFrom([]string{"none", "installed", "active", "failed"}).Draw(t, "unit") {
	case "installed":
		unit.File.Exists, unit.LoadState, unit.ActiveState, unit.UnitFileState = true, "loaded", "inactive", "disabled"
	case "active":
		unit.File.Exists, unit.LoadState, unit.ActiveState, unit.UnitFileState = true, "loaded", "active", "enabled"
		for _, q := range ofKind(tpGenuine) {
			if b.procs[q].row < 0 && procfs.InCgroup(b.procs[q].p.Cgroup, b.unitCG) {
				unit.MainPID = q
			}
		}
	case "failed":
		unit.File.Exists, unit.LoadState, unit.ActiveState, unit.UnitFileState = true, "loaded", "failed", "enabled"
	}
	health := state.Health{URL: "http://127.0.0.1:1939/health"}
	if rapid.Bool().Draw(t, "healthy") {
		health.Status, health.OK = 200, true
		health.AnsweredBy = rapid.SampledFrom(append(slices.Clone(b.order), 0)).Draw(t, "answered-by")
	}

	var procs []state.Process
	for _, q := range b.order {
		procs = append(procs, b.procs[q].p)
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].Pid < procs[j].Pid })
	b.s = state.Snapshot{
		Taken: taken, GOOS: "linux", GOARCH: "amd64", Home: home,
		User: b.d.User, Owner: b.d.Owner,
		Self: self, Parent: parent, Ancestors: ancestors,
		HubPort: 1939, Modules: mods, Pidfiles: pidfiles, HubPortFile: hubPortFile, Ports: ports,
		Processes: procs, Unit: unit, Health: health,
	}
	return b
}

// protected is the test's own reading of rule 5: pid 0/1, a kernel
// thread, the reconciler, its parent and ancestors, another user's process.
func (b *tpBox) protected(pid int) (bool, string) {
	switch {
	case pid <= 1:
		return true, "init"
	case pid == b.s.Self:
		return true, "the reconciler"
	case pid == b.s.Parent:
		return true, "the reconciler's parent"
	case slices.Contains(b.s.Ancestors, pid):
		return true, "an ancestor of the reconciler"
	}
	if pp, ok := b.procs[pid]; ok {
		switch {
		case pp.p.Kernel:
			return true, "a kernel thread"
		case pp.p.UID != b.owner:
			return true, fmt.Sprintf("uid %d, not the owner's %d", pp.p.UID, b.owner)
		}
	}
	return false, ""
}

// signals returns the stop step that signals pid, by its pid or by a group
// it is in.
func (b *tpBox) signals(p reconcile.Plan, pid int) (reconcile.Step, bool) {
	for _, st := range p.Steps {
		if st.Action != reconcile.Stop {
			continue
		}
		if st.Pid == pid {
			return st, true
		}
		if pp, ok := b.procs[pid]; ok && st.Pgid > 0 && pp.p.Pgid == st.Pgid {
			return st, true
		}
	}
	return reconcile.Step{}, false
}

func tpStops(p reconcile.Plan) []reconcile.Step {
	var out []reconcile.Step
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop {
			out = append(out, st)
		}
	}
	return out
}

// dump is the box as a failure message: rows, processes, pidfiles, ports
// and the plan's stops and holders.
func (b *tpBox) dump(p reconcile.Plan) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "home %s owner uid %d; self %d parent %d ancestors %v; unit %s cgroup %s main %d\n",
		b.s.Home, b.owner, b.s.Self, b.s.Parent, b.s.Ancestors, b.s.Unit.ActiveState, b.unitCG, b.s.Unit.MainPID)
	for _, r := range b.rows {
		fmt.Fprintf(&sb, "row %s short %s :%d installDir %q markers %v\n", r.mod.Name, r.mod.Short, r.mod.Port, r.mod.InstallDir, r.mod.Markers())
	}
	for _, q := range b.s.Processes {
		pp := b.procs[q.Pid]
		fmt.Fprintf(&sb, "proc %d ppid %d pgid %d sid %d uid %d kernel %v %s row %d weak %v cgroup %q env %q argv %q exe %q cwd %q  (%s)\n",
			q.Pid, q.PPid, q.Pgid, q.Sid, q.UID, q.Kernel, pp.kind, pp.row, pp.weak, q.Cgroup, q.EnvHome, q.Argv, q.Exe, q.Cwd, pp.why)
	}
	for _, pf := range b.s.Pidfiles {
		fmt.Fprintf(&sb, "pidfile %s service %s module %s pid %d %s untrusted %q\n", pf.Path, pf.Service, pf.Module, pf.Pid, pf.State, pf.Untrusted)
	}
	if hp := b.s.HubPortFile; hp != nil {
		fmt.Fprintf(&sb, "hub.port %d untrusted %q\n", hp.Port, hp.Untrusted)
	}
	for _, port := range b.s.Ports {
		for _, l := range port.Listeners {
			fmt.Fprintf(&sb, "port %d (%s) %s pids %v\n", port.Port, port.Owner, l.Addr, l.Pids)
		}
	}
	fmt.Fprintf(&sb, "plan %s (%s): %d blockers\n", p.Desired, p.Outcome, len(p.Blockers))
	for _, h := range p.Holders {
		fmt.Fprintf(&sb, "holder :%d pid %d %s (%s): %s\n", h.Port, h.Pid, h.Verdict, h.Check, h.Evidence)
	}
	for _, st := range tpStops(p) {
		fmt.Fprintf(&sb, "stop pid %d pgid %d: %s\n", st.Pid, st.Pgid, st.Reason)
	}
	return sb.String()
}

var tpModels = []spec.Model{spec.Supervised, spec.Detached, spec.Absent}

// tpStats counts what the generated cases exercised, so a property that
// passes because nothing was ever stopped is seen.
type tpStats struct {
	cases, plans, stops, trapsSeen, weakSeen, protectedSeen, genuineSeen, genuineStopped int
	perModel, blocked                                                                    map[spec.Model]int
}

func (st *tpStats) String() string {
	out := fmt.Sprintf("%d boxes, %d plans (blocked: supervised %d, detached %d, absent %d), %d stop steps (supervised %d, detached %d, absent %d)",
		st.cases, st.plans, st.blocked[spec.Supervised], st.blocked[spec.Detached], st.blocked[spec.Absent],
		st.stops, st.perModel[spec.Supervised], st.perModel[spec.Detached], st.perModel[spec.Absent])
	if st.protectedSeen > 0 {
		out += fmt.Sprintf("; %d protected processes", st.protectedSeen)
	}
	if st.trapsSeen > 0 {
		out += fmt.Sprintf("; %d traps (%d named by a marker-less pidfile)", st.trapsSeen, st.weakSeen)
	}
	if st.genuineSeen > 0 {
		out += fmt.Sprintf("; %d genuine detached processes under unblocked absent plans, %d stopped", st.genuineSeen, st.genuineStopped)
	}
	return out
}

// tpForEachPlan draws boxes and calls check with the plan of each model.
func tpForEachPlan(t *testing.T, check func(t *rapid.T, b *tpBox, p reconcile.Plan, st *tpStats)) *tpStats {
	st := &tpStats{perModel: map[spec.Model]int{}, blocked: map[spec.Model]int{}}
	rapid.Check(t, func(rt *rapid.T) {
		b := tpGen(rt)
		st.cases++
		for _, m := range tpModels {
			d := b.d
			d.Model = m
			p := reconcile.Compute(d, b.s)
			st.plans++
			if p.Outcome == reconcile.OutcomeBlocked {
				st.blocked[m]++
			}
			n := len(tpStops(p))
			st.stops += n
			st.perModel[m] += n
			check(rt, b, p, st)
		}
	})
	t.Log(st)
	return st
}

// P1: no stop step signals a protected process, by its pid or its group.
func TestTrustNeverStopsProtected(t *testing.T) {
	tpForEachPlan(t, func(t *rapid.T, b *tpBox, p reconcile.Plan, st *tpStats) {
		for _, q := range b.order {
			if bad, _ := b.protected(q); bad {
				st.protectedSeen++
			}
		}
		for _, step := range tpStops(p) {
			if bad, why := b.protected(step.Pid); bad {
				t.Fatalf("P1: step %d stops pid %d, which is protected (%s)\n%s", step.N, step.Pid, why, b.dump(p))
			}
			if step.Pgid == 0 {
				continue
			}
			for _, q := range b.order {
				if b.procs[q].p.Pgid != step.Pgid {
					continue
				}
				if bad, why := b.protected(q); bad {
					t.Fatalf("P1: step %d signals group %d (pid %d), which holds pid %d, protected (%s)\n%s", step.N, step.Pgid, step.Pid, q, why, b.dump(p))
				}
			}
		}
	})
}

// P2: no stop step signals a trap: a process whose only link to the box is
// a substring, the home, the word "parachute", a generic runtime, the hub's
// package directory as cwd, an ancestor's cwd, or a pidfile of a row with
// no marker that its port and environment do not corroborate.
func TestTrustNeverStopsOnNonEvidence(t *testing.T) {
	tpForEachPlan(t, func(t *rapid.T, b *tpBox, p reconcile.Plan, st *tpStats) {
		for _, q := range b.order {
			pp := b.procs[q]
			if pp.kind != tpTrap {
				continue
			}
			st.trapsSeen++
			if len(pp.weak) > 0 {
				st.weakSeen++
			}
			if step, ok := b.signals(p, q); ok {
				how := "its pid"
				if step.Pid != q {
					how = fmt.Sprintf("group %d", step.Pgid)
				}
				weak := ""
				if len(pp.weak) > 0 {
					weak = fmt.Sprintf("; named by the pidfile of marker-less row(s) %v", pp.weak)
				}
				t.Fatalf("P2: step %d (%s) signals trap pid %d by %s: %q — its only link is %s%s\n%s",
					step.N, p.Desired, q, how, pp.p.Argv, pp.why, weak, b.dump(p))
			}
		}
	})
}

// genuineDetached reports whether q is a genuine process of its row (or
// the hub) that rule 4 makes the box's: named by a live, trusted pidfile of
// that row, not protected, outside the hub unit. withPort further requires
// it to hold its row's port.
func (b *tpBox) genuineDetached(q int, withPort bool) bool {
	pp := b.procs[q]
	if pp.kind != tpGenuine || procfs.InCgroup(pp.p.Cgroup, b.unitCG) {
		return false
	}
	if bad, _ := b.protected(q); bad {
		return false
	}
	named := false
	for _, pf := range b.s.Pidfiles {
		if pf.Pid != q || pf.State != state.PidLive || pf.Untrusted != "" {
			continue
		}
		if (pp.row < 0 && pf.Service == "hub") || (pp.row >= 0 && pf.Module == b.rows[pp.row].mod.Name) {
			named = true
		}
	}
	if !named {
		return false
	}
	if !withPort {
		return true
	}
	want := []int{1939}
	if pp.row >= 0 {
		want = []int{b.rows[pp.row].mod.Port}
	}
	for _, port := range b.s.Ports {
		if !slices.Contains(want, port.Port) {
			continue
		}
		for _, l := range port.Listeners {
			if slices.Contains(l.Pids, q) {
				return true
			}
		}
	}
	return false
}

// P3, the positive control: under absent, a plan that is not blocked stops
// every genuine detached process (pidfile live, marker, holding its port,
// the owner's); and over the run some are stopped at all.
func TestTrustStopsGenuine(t *testing.T) {
	st := tpForEachPlan(t, func(t *rapid.T, b *tpBox, p reconcile.Plan, st *tpStats) {
		if p.Desired != spec.Absent || p.Outcome == reconcile.OutcomeBlocked {
			return
		}
		for _, q := range b.order {
			if !b.genuineDetached(q, true) {
				continue
			}
			st.genuineSeen++
			if _, ok := b.signals(p, q); !ok {
				t.Fatalf("P3: pid %d (%q, %s) is a genuine detached process holding its port, and the absent plan does not stop it\n%s",
					q, b.procs[q].p.Argv, b.procs[q].why, b.dump(p))
			}
			st.genuineStopped++
		}
	})
	if st.genuineStopped == 0 {
		t.Fatalf("P3: no generated case stopped a genuine detached process: the properties may hold vacuously (%s)", st)
	}
}

// P3b, rule 4 read whole: the pidfile's claim stands on a marker alone, so
// the process needs to hold no port to be stopped under absent.
func TestTrustStopsGenuineWithoutPort(t *testing.T) {
	tpForEachPlan(t, func(t *rapid.T, b *tpBox, p reconcile.Plan, st *tpStats) {
		if p.Desired != spec.Absent || p.Outcome == reconcile.OutcomeBlocked {
			return
		}
		for _, q := range b.order {
			if !b.genuineDetached(q, false) {
				continue
			}
			st.genuineSeen++
			if _, ok := b.signals(p, q); !ok {
				t.Fatalf("P3b: pid %d (%q, %s) is named by its row's live, trusted pidfile and carries the row's marker, and the absent plan does not stop it\n%s",
					q, b.procs[q].p.Argv, b.procs[q].why, b.dump(p))
			}
			st.genuineStopped++
		}
	})
}

// P4: a stop step's group, when set, is led by the stopped pid and holds
// no protected process.
func TestTrustGroupSignal(t *testing.T) {
	groups := 0
	tpForEachPlan(t, func(t *rapid.T, b *tpBox, p reconcile.Plan, st *tpStats) {
		for _, step := range tpStops(p) {
			if step.Pgid == 0 {
				continue
			}
			groups++
			if step.Pgid != step.Pid {
				t.Fatalf("P4: step %d signals group %d for pid %d: a group is signalled only through its leader\n%s", step.N, step.Pgid, step.Pid, b.dump(p))
			}
			if pp, ok := b.procs[step.Pid]; !ok || pp.p.Pgid != step.Pid {
				t.Fatalf("P4: step %d signals group %d, but pid %d does not lead it\n%s", step.N, step.Pgid, step.Pid, b.dump(p))
			}
			for _, q := range b.order {
				if b.procs[q].p.Pgid != step.Pgid {
					continue
				}
				if bad, why := b.protected(q); bad {
					t.Fatalf("P4: step %d signals group %d, which holds protected pid %d (%s)\n%s", step.N, step.Pgid, q, why, b.dump(p))
				}
			}
		}
	})
	t.Logf("%d group signals checked", groups)
	if groups == 0 {
		t.Fatalf("P4: no generated plan signalled a group: the property held vacuously")
	}
}

// tpFixed is a fixed box for acct: one row, parachute-vault on :1940, and a
// detached vault (pid 4000, argv …/bin/parachute-vault, the owner's,
// leading its group) named by a live vault.pid and holding :1940; the
// reconciler is pid 500 under a shell, pid 499.
func tpFixed(acct tpAccount) (spec.Desired, state.Snapshot) {
	home := acct.home
	owner := spec.Owner{UID: acct.uid, Name: acct.user, Known: true}
	user := spec.User{Name: acct.user, UID: acct.uid, Home: acct.userHome}
	mods := []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}}
	d := spec.Desired{Model: spec.Absent, Home: home, HubPort: 1939,
		HubCommand: []string{acct.userHome + "/.bun/bin/bun", acct.userHome + "/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts", "serve"},
		Manager:    spec.ManagerSystemd, Scope: spec.ScopeUser, Timeouts: spec.DefaultTimeouts,
		Manifest: spec.Manifest{Path: home + "/services.json", Exists: true, Modules: mods}, User: user, Owner: owner}
	s := state.Snapshot{GOOS: "linux", Home: home, User: user, Owner: owner, Self: 500, Parent: 499, Ancestors: []int{499, 1},
		HubPort: 1939, Modules: mods,
		Pidfiles: []state.Pidfile{{Service: "vault", Module: "parachute-vault", Path: spec.PidfilePath(home, "vault"), Pid: 4000, State: state.PidLive}},
		Ports: []state.Port{{Port: 1939, Owner: "hub", Short: "hub"},
			{Port: 1940, Owner: "parachute-vault", Short: "vault", Listeners: []state.Listener{{Addr: "127.0.0.1:1940", Inode: 1, UID: acct.uid, Pids: []int{4000}}}}},
		Processes: []state.Process{
			{Pid: 1, Pgid: 1, Sid: 1, Argv: []string{"/sbin/init"}},
			{Pid: 499, PPid: 1, Pgid: 499, Sid: 499, UID: acct.uid, Argv: []string{"/bin/sh", "-c", "parachute reconcile"}, Cwd: home},
			{Pid: 500, PPid: 499, Pgid: 499, Sid: 499, UID: acct.uid, Argv: []string{"/usr/local/bin/parachute", "reconcile"}, Cwd: home},
			{Pid: 4000, PPid: 1, Pgid: 4000, Sid: 4000, UID: acct.uid, StartTicks: 77, Argv: []string{acct.userHome + "/.bun/bin/parachute-vault", "serve"}, Cwd: "/"},
		},
		Unit: state.Unit{Manager: "systemd", Available: true, Scope: "user", Name: "parachute-hub.service"},
	}
	return d, s
}

// P3 on fixed boxes: the detached parachute-vault of tpFixed is stopped
// under absent, for a user's box and for root's.
func TestTrustStopsGenuineTable(t *testing.T) {
	for _, acct := range tpAccounts {
		t.Run(acct.user, func(t *testing.T) {
			d, s := tpFixed(acct)
			p := reconcile.Compute(d, s)
			stops := tpStops(p)
			if p.Outcome == reconcile.OutcomeBlocked || len(stops) != 1 || stops[0].Pid != 4000 || stops[0].Pgid != 4000 || stops[0].StartTicks != 77 {
				t.Fatalf("want one stop of pid 4000 (group 4000), got %s %+v, blockers %+v", p.Outcome, stops, p.Blockers)
			}
		})
	}
}

// P3b's counterexample, as a fixed box: the vault of tpFixed holds no port
// yet, and an earlier pidfile (by path, my-module.pid sorts before
// vault.pid) names the same pid with a claim that fails (the file is
// untrusted, or the process carries no marker of its row). vault.pid's own
// claim stands on its marker. At 5691c5d the first file naming a pid
// decided its claim: the plan had no stop step for pid 4000, yet its
// remove-pidfile step said "pid 4000 is being stopped; its pidfile goes
// with it" and waited for it (fixed in f8b8e6a: any standing claim wins).
func TestTrustShadowedClaimTable(t *testing.T) {
	for _, tc := range []struct{ name, untrusted string }{
		{"untrusted-earlier-pidfile", "owned by uid 1001, not the owner or root"},
		{"trusted-earlier-pidfile-of-another-row", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s := tpFixed(tpAccounts[0])
			mods := append(slices.Clone(s.Modules), spec.Module{Name: "my-module", Short: "my-module", Port: 1942})
			d.Manifest.Modules, s.Modules = mods, mods
			s.Ports = append(s.Ports, state.Port{Port: 1942, Owner: "my-module", Short: "my-module"})
			s.Ports[1].Listeners = nil // the vault holds no port
			s.Pidfiles = append([]state.Pidfile{{Service: "my-module", Module: "my-module", Path: spec.PidfilePath(d.Home, "my-module"),
				Pid: 4000, State: state.PidLive, Untrusted: tc.untrusted}}, s.Pidfiles...)
			p := reconcile.Compute(d, s)
			stopped := false
			for _, st := range tpStops(p) {
				stopped = stopped || st.Pid == 4000
			}
			for _, st := range p.Steps {
				if st.Action == reconcile.RemovePidfile && st.Pid > 0 && !stopped {
					t.Errorf("step %d (%s) waits for pid %d (%s), which no step stops", st.N, st.Target, st.Pid, st.Reason)
				}
			}
			if !stopped {
				t.Errorf("the absent plan does not stop pid 4000, which %s claims on its marker (outcome %s, %d steps)", s.Pidfiles[1].Path, p.Outcome, len(p.Steps))
			}
		})
	}
}
