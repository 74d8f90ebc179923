package actuatetest

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parachute/reconcile/internal/fakeproc"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// Snapshot observes the world with the real observer (observe.Observer):
// the world is written out as a fake /proc and a box on disk under a
// temporary directory, the hub answers /health in memory, the world's
// service manager answers about units, and the snapshot's paths are mapped
// back to the world's. The directory is removed before Snapshot returns.
// It panics when the directory cannot be written (the test machine, not the
// world, is broken).
func (w *World) Snapshot() state.Snapshot {
	var mac launchdView
	if w.Manager == spec.ManagerLaunchd {
		// Before the lock: the fake launchctl looks at the world's processes.
		mac = w.observeLaunchd()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	tmp, err := os.MkdirTemp(scratchDir(), "actuatetest-")
	if err != nil {
		panic(fmt.Sprintf("actuatetest: snapshot: %v", err))
	}
	defer os.RemoveAll(tmp)
	procRoot, fsRoot := filepath.Join(tmp, "proc"), filepath.Join(tmp, "fs")
	if err := fakeproc.Write(procRoot, w.procTree()); err != nil {
		panic(fmt.Sprintf("actuatetest: snapshot: write the fake /proc: %v", err))
	}
	if err := w.writeBox(fsRoot); err != nil {
		panic(fmt.Sprintf("actuatetest: snapshot: write the box: %v", err))
	}
	var served sync.WaitGroup
	o := &observe.Observer{Env: w.observeEnv(procRoot, &served), Units: worldUnits{w: w, mac: mac}, Locate: w.locate}
	snap, err := o.Observe(context.Background(), w.observed(fsRoot))
	served.Wait()
	if err != nil {
		panic(fmt.Sprintf("actuatetest: snapshot: %v", err))
	}
	w.unroot(&snap, fsRoot)
	return snap
}

// observeEnv is the world as the observer's inputs: its /proc, its clock,
// the reconciler (Self) with its parent and uid, its users, and its hub's
// /health.
func (w *World) observeEnv(procRoot string, served *sync.WaitGroup) observe.Env {
	env := observe.Env{ProcRoot: procRoot, GOOS: "linux", GOARCH: "amd64", Self: w.Self, Parent: 99,
		Now: func() time.Time { return w.now }, Dial: w.dialHealth(served), LookupUser: w.lookupUser,
		ClockTicks: 100, HealthTimeout: time.Second}
	if w.Manager == spec.ManagerLaunchd {
		env.GOOS, env.GOARCH = "darwin", "arm64"
	}
	if p, ok := w.procs[w.Self]; ok {
		// The reconciler runs as its process does in the world, whoever
		// runs the tests: another user's socket has no visible holder.
		env.Parent = cmp.Or(p.PPid, env.Parent)
		env.Geteuid = func() int { return p.UID }
	}
	return env
}

// lookupUser knows the world's user and root.
func (w *World) lookupUser(uid int) (string, error) {
	switch uid {
	case w.User.UID:
		return w.User.Name, nil
	case 0:
		return "root", nil
	}
	return "", fmt.Errorf("unknown uid %d", uid)
}

// observed is the desired state the world is observed with: the box's home
// and the user's home where writeBox put them, owned by whoever runs the
// tests (the files are theirs, so boxfs's trust checks pass as root and as
// a normal user alike).
func (w *World) observed(fsRoot string) spec.Desired {
	user := w.User
	user.Home = fsRoot + w.User.Home
	return spec.Desired{Model: spec.Supervised, Home: fsRoot + w.Home, HubPort: w.HubPort, HubCommand: w.HubArgv,
		Manifest: spec.Manifest{Exists: true, Modules: w.Modules}, User: user,
		Owner: spec.Owner{UID: os.Geteuid(), Known: true}}
}

// writeBox writes the world's files under its home (pidfiles, hub.port, the
// hub's log, links) below fsRoot with their modification times, and each
// module's program where the hub finds it (~/.bun/bin): the world's hub
// starts every module, so every module's program is installed.
func (w *World) writeBox(fsRoot string) error {
	home := fsRoot + w.Home
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	for path, f := range w.files {
		if !strings.HasPrefix(path, w.Home+"/") {
			continue // unit files and plists: the service manager's
		}
		if err := writeFile(fsRoot+path, f); err != nil {
			return err
		}
	}
	bin := filepath.Join(fsRoot+w.User.Home, ".bun", "bin")
	for _, m := range w.Modules {
		argv, _ := observe.StartCommand(m)
		// The observer looks for the program of a module nothing listens for.
		if len(argv) == 0 || strings.Contains(argv[0], "/") || w.holder(m.Port) != nil {
			continue
		}
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(bin, argv[0]), []byte("#!/bin/sh\n"), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, f file) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if f.symlink != "" {
		return os.Symlink(f.symlink, path)
	}
	if err := os.WriteFile(path, f.data, 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, f.mtime, f.mtime)
}

// unroot maps the snapshot's paths below fsRoot back to the world's, and
// the user and owner back to the world's.
func (w *World) unroot(s *state.Snapshot, fsRoot string) {
	un := func(v string) string { return strings.ReplaceAll(v, fsRoot, "") }
	s.Home, s.User, s.Owner = w.Home, w.User, spec.Owner{}
	for i := range s.Pidfiles {
		s.Pidfiles[i].Path, s.Pidfiles[i].Untrusted = un(s.Pidfiles[i].Path), un(s.Pidfiles[i].Untrusted)
	}
	if pf := s.HubPortFile; pf != nil {
		pf.Path, pf.Untrusted = un(pf.Path), un(pf.Untrusted)
	}
	for i := range s.Links {
		s.Links[i].Path = un(s.Links[i].Path)
	}
	for i := range s.Idle {
		s.Idle[i].Unstartable, s.Idle[i].Missing = un(s.Idle[i].Unstartable), un(s.Idle[i].Missing)
	}
	for i := range s.Problems {
		s.Problems[i] = un(s.Problems[i])
	}
}

// scratchDir is where Snapshot writes: $TMPDIR when set, else /dev/shm when
// it is a directory (tmpfs: a snapshot is a few hundred small files written
// and removed, several times slower on a disk), else the system's.
func scratchDir() string {
	if os.Getenv("TMPDIR") != "" {
		return os.TempDir()
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && unix.Access("/dev/shm", unix.W_OK) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}
