package observe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/parachute/reconcile/internal/boxfs"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// maxUnitFile bounds how much of a unit file or plist is read: the hub's are
// about 1 KiB; anything past 1 MiB is not one of ours.
const maxUnitFile = 1 << 20

// Managers observes the hub unit through the observer of q.Manager:
// Systemd for "systemd", Launchd for "launchd". A manager without an
// observer, or none at all, is reported as unavailable with the reason,
// never as an error: the planner turns it into a blocker.
type Managers struct {
	// Systemd observes systemd units (SystemdUnits); nil: cannot be asked here.
	Systemd UnitObserver
	// Launchd observes launchd agents (LaunchdUnits); nil: cannot be asked here.
	Launchd UnitObserver
	// GOOS names the platform in the "no service manager" problem.
	GOOS string
}

var _ UnitObserver = Managers{}

// ObserveUnit implements UnitObserver.
func (m Managers) ObserveUnit(ctx context.Context, q UnitQuery) (UnitReport, error) {
	var o UnitObserver
	switch q.Manager {
	case spec.ManagerSystemd:
		o = m.Systemd
	case spec.ManagerLaunchd:
		o = m.Launchd
	case spec.ManagerAuto:
		// LocateUnit resolves auto: a query still saying so has no manager.
	}
	if o == nil {
		rep := UnitReport{Unit: Unit{Manager: q.Manager, Scope: q.Scope, Name: q.Name, File: UnitFile{Path: q.Path}}}
		if q.Manager == "" {
			rep.Unit.Problem, rep.Unit.Reach = fmt.Sprintf("no service manager (systemd/launchd) on %s", m.GOOS), NoManager
		} else {
			rep.Unit.Problem, rep.Unit.Reach = fmt.Sprintf("service manager %s cannot be asked from %s", q.Manager, m.GOOS), OtherPlatform
		}
		if q.Path != "" {
			f, problem := readUnitFile(q.Path, nil)
			rep.Unit.File = f
			rep.Problems = appendNonEmpty(rep.Problems, problem)
		}
		return rep, nil
	}
	return o.ObserveUnit(ctx, q)
}

// LocateUnit adapts unitfile.Locate to Observer.Locate for goos: the hub
// unit's manager, scope, name and paths, and the module shorts whose stale
// units to look for. When Locate fails (for example --manager launchd on
// Linux) the query names no manager and the unit is reported unavailable;
// the planner reports Locate's error itself.
func LocateUnit(goos string) func(spec.Desired) UnitQuery {
	return func(d spec.Desired) UnitQuery {
		loc, err := unitfile.Locate(goos, d)
		if err != nil {
			return UnitQuery{User: d.User}
		}
		q := UnitQuery{Manager: loc.Manager, Scope: loc.Scope, Name: loc.Name, Path: loc.Path, OtherPath: loc.OtherPath, User: d.User}
		q.StaleShorts = []string{}
		for _, s := range loc.Stale {
			q.StaleShorts = append(q.StaleShorts, s.Short)
		}
		return q
	}
}

// readUnitFile reads a unit file or plist without following it for the
// record: Symlink is the link target when path is a symlink (a masked unit
// links to /dev/null), Content its text, ParseError what parse (if any)
// says. A missing file is Exists=false and no problem; anything unreadable
// is returned as a problem sentence.
func readUnitFile(path string, parse func([]byte) error) (UnitFile, string) {
	f := UnitFile{Path: path}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, ""
	}
	if err != nil {
		return f, fmt.Sprintf("unit file %s: %v", path, err)
	}
	f.Exists = true
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(path)
		if err != nil {
			return f, fmt.Sprintf("unit file %s: %v", path, err)
		}
		f.Symlink = target
	}
	if f.Symlink == os.DevNull {
		return f, "" // masked: empty, as systemd reads it
	}
	// Through boxfs as every other file the run reads: a link is followed
	// only when root or this user made it (systemctl link, a package), the
	// opened descriptor decides (never a FIFO, a device or a tty), and the
	// read is bounded.
	data, _, err := boxfs.ReadFile(path, maxUnitFile, []int{0, os.Geteuid()})
	if err != nil {
		// The path is the record's own: say only what is wrong with it.
		f.ParseError = strings.TrimPrefix(err.Error(), "read "+path+": ")
		if errors.Is(err, boxfs.ErrTooLarge) {
			f.ParseError = "larger than 1 MiB"
		}
		return f, fmt.Sprintf("unit file %s: %s", path, f.ParseError)
	}
	f.Content = string(data)
	if parse != nil {
		if err := parse(data); err != nil {
			f.ParseError = err.Error()
		}
	}
	return f, ""
}

func appendNonEmpty(list []string, s string) []string {
	if s == "" {
		return list
	}
	return append(list, s)
}
