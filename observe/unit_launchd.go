package observe

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/parachute/reconcile/internal/launchctl"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// Launchctl runs launchctl: Run returns its standard output, standard error
// and exit code; err only when it could not be run at all (not installed,
// ctx ended). The observer only ever runs read-only verbs (print,
// print-disabled).
type Launchctl interface {
	Run(ctx context.Context, args ...string) (stdout, stderr string, code int, err error)
}

// LaunchdUnits observes the hub's LaunchAgent: the plist, the job as
// `launchctl print gui/<uid>/<label>` shows it, whether launchd has it
// disabled, and stale per-module agents. It only reads.
type LaunchdUnits struct {
	// Launchctl runs launchctl (the real one on macOS, a fake in tests).
	Launchctl Launchctl
}

var _ UnitObserver = LaunchdUnits{}

// printResult classifies one `launchctl print` run.
type printResult struct {
	loaded bool
	job    launchctl.Job
	// problem is set when launchd could not be asked (no such domain, an
	// unexpected failure), reach which kind it is; loaded is then unknown.
	problem string
	reach   Reach
}

func (l LaunchdUnits) print(ctx context.Context, target string) printResult {
	out, errOut, code, err := l.Launchctl.Run(ctx, "print", target)
	if err != nil {
		return printResult{problem: fmt.Sprintf("launchctl print %s: %v", target, err), reach: Unanswered}
	}
	if code == 0 {
		return printResult{loaded: true, job: launchctl.ParsePrint(out)}
	}
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errOut+"\n"+out), "Bad request."))
	msg = strings.Join(strings.Fields(msg), " ")
	switch {
	case strings.Contains(msg, "Could not find service"):
		// Exit 113: the domain exists, the job is not loaded in it.
		return printResult{}
	case strings.Contains(msg, "Could not find domain"), strings.Contains(msg, "Domain does not support"):
		domain := target
		if i := strings.LastIndex(target, "/"); i > 0 {
			domain = target[:i]
		}
		return printResult{problem: fmt.Sprintf("launchd domain %s unavailable (no GUI login session for this user?): %s", domain, msg), reach: NoDomain}
	}
	return printResult{problem: fmt.Sprintf("launchctl print %s: exit %d: %s", target, code, msg), reach: Unanswered}
}

// ObserveUnit implements UnitObserver. A domain that cannot be asked (no GUI
// session: "Could not find domain") is not an error: Unit.Available is false
// and Unit.Problem says why. ActiveState maps launchd's state as the hub
// does: running → active, otherwise failed after a non-zero last exit code,
// else inactive; SubState keeps launchd's own word. UnitFileState is
// "disabled" when launchd has the label disabled (print-disabled), else
// "enabled" when the plist exists.
func (l LaunchdUnits) ObserveUnit(ctx context.Context, q UnitQuery) (UnitReport, error) {
	var rep UnitReport
	u := &rep.Unit
	u.Manager, u.Scope, u.Name = spec.ManagerLaunchd, q.Scope, q.Name
	var problem string
	u.File, problem = readUnitFile(q.Path, func(b []byte) error { _, err := unitfile.ParseLaunchd(b); return err })
	rep.Problems = appendNonEmpty(rep.Problems, problem)
	if l.Launchctl == nil {
		u.Problem, u.Reach = "no launchctl configured", NoManager
		return rep, nil
	}

	disabled := map[string]bool{}
	out, errOut, code, err := l.Launchctl.Run(ctx, "print-disabled", q.Scope)
	switch {
	case err != nil:
		rep.Problems = append(rep.Problems, fmt.Sprintf("launchctl print-disabled %s: %v", q.Scope, err))
	case code != 0:
		rep.Problems = append(rep.Problems, fmt.Sprintf("launchctl print-disabled %s: exit %d: %s", q.Scope, code, strings.TrimSpace(errOut)))
	default:
		disabled = launchctl.ParseDisabled(out)
	}
	fileState := func(label string, plistExists bool) string {
		switch {
		case disabled[label]:
			return "disabled"
		case plistExists:
			return "enabled"
		}
		return ""
	}

	r := l.print(ctx, q.Scope+"/"+q.Name)
	if r.problem != "" {
		u.Problem, u.Reach = r.problem, r.reach
	} else {
		u.Available = true
		u.UnitFileState = fileState(q.Name, u.File.Exists)
		if r.loaded {
			u.LoadState = "loaded"
			u.ActiveState, u.SubState = launchdActive(r.job), r.job.State
			u.MainPID = r.job.PID
			if r.job.LastExitKnown {
				u.LastExitCode = r.job.LastExitCode
			}
		} else {
			u.LoadState, u.ActiveState = "not-found", "inactive"
		}
	}

	for _, short := range q.StaleShorts {
		if st, ok := l.staleAgent(ctx, q, short, fileState, u.Available, &rep); ok {
			rep.Stale = append(rep.Stale, st)
		}
	}
	return rep, nil
}

// staleAgent is the per-module agent of short in q's domain, and whether
// it exists (launchd has it loaded, or its plist is beside the hub's).
// launchd is asked only when it answered about the hub (asked).
func (l LaunchdUnits) staleAgent(ctx context.Context, q UnitQuery, short string, fileState func(string, bool) string, asked bool, rep *UnitReport) (StaleUnit, bool) {
	label, ok := unitfile.StaleUnitName(spec.ManagerLaunchd, short)
	if !ok {
		return StaleUnit{}, false
	}
	var onDisk bool
	var execStart [][]string
	if q.Path != "" {
		f, problem := readUnitFile(filepath.Join(filepath.Dir(q.Path), label+".plist"), nil)
		rep.Problems = appendNonEmpty(rep.Problems, problem)
		onDisk = f.Exists
		if argv := unitfile.ProgramArguments([]byte(f.Content)); len(argv) > 0 {
			execStart = [][]string{argv}
		}
	}
	st := StaleUnit{Name: label, Short: short, Scope: q.Scope, Manageable: true, UnitFileState: fileState(label, onDisk), ExecStart: execStart}
	loaded := false
	if asked {
		sr := l.print(ctx, q.Scope+"/"+label)
		switch {
		case sr.problem != "":
			rep.Problems = append(rep.Problems, "stale agent "+label+": "+sr.problem)
		case sr.loaded:
			loaded = true
			st.LoadState, st.ActiveState, st.MainPID = "loaded", launchdActive(sr.job), sr.job.PID
			if len(sr.job.Arguments) > 0 {
				st.ExecStart = [][]string{sr.job.Arguments} // what launchd loaded
			}
		}
	}
	return st, loaded || onDisk
}

// launchdActive maps a loaded job to a systemd-like ActiveState, as the
// hub's queryHubUnitState does.
func launchdActive(j launchctl.Job) string {
	switch {
	case j.State == "running" || j.PID > 0:
		return "active"
	case j.LastExitKnown && j.LastExitCode != 0:
		return "failed"
	}
	return "inactive"
}
