package unitfile

import (
	"bytes"
	"fmt"
	"io"

	"github.com/coreos/go-systemd/v22/unit"
)

// Names of the reconciler's own units: a oneshot service and the timer that
// starts it at boot and every minute. The name matches the launch places
// the trust model accepts ("parachute-reconcile*.service").
const (
	TimerServiceName = "parachute-reconcile.service"
	TimerName        = "parachute-reconcile.timer"
)

// Timer describes the reconciler's timer and its service.
type Timer struct {
	// Argv is the command the service runs: the reconciler's absolute
	// path, "reconcile", and its flags (--home, --spec, --textfile, --quiet).
	Argv []string
	// Home is the box's PARACHUTE_HOME (for the description). Empty when
	// EnvironmentFile names it instead.
	Home string
	// EnvironmentFile, when set, is read by the service for its environment
	// (PARACHUTE_HOME) and may be missing (EnvironmentFile=-): the packaged
	// units name the box this way, so an administrator edits that file,
	// not the unit.
	EnvironmentFile string
	// SystemUnit is true for the system manager's flavour (root's box),
	// false for a user manager's.
	SystemUnit bool
	// RandomizedDelay spreads a fleet's runs over this many seconds of
	// every minute (RandomizedDelaySec=); 0 leaves it out.
	RandomizedDelay int
}

// RenderTimer renders the oneshot service and its timer.
//
// The service: Type=oneshot, so `systemctl status` shows the last run, and
// a failed or blocked run (exit 1, 3) is "failed" until the next run
// succeeds — honest, and never for ever; exit 75 (another run holds the
// lock: that run is doing the work) counts as success. Output goes to the
// journal. The timer: 15 s after boot (or after the user manager starts),
// then every minute (OnCalendar=minutely, Persistent= so a minute missed
// while the machine slept is made up), with RandomizedDelaySec= for fleets
// and AccuracySec=1s so that "every minute" means it.
func RenderTimer(t Timer) (service, timer []byte, err error) {
	if len(t.Argv) == 0 {
		return nil, nil, fmt.Errorf("render timer: no command")
	}
	exec, err := QuoteExecStart(t.Argv)
	if err != nil {
		return nil, nil, fmt.Errorf("render timer: %w", err)
	}
	if err := checkText("home", t.Home); err != nil {
		return nil, nil, fmt.Errorf("render timer: %w", err)
	}
	if err := checkText("environment file", t.EnvironmentFile); err != nil {
		return nil, nil, fmt.Errorf("render timer: %w", err)
	}
	desc := "Keep the Parachute box at " + EscapeSpecifiers(t.Home) + " converged"
	switch {
	case t.Home == "" && t.EnvironmentFile == "":
		return nil, nil, fmt.Errorf("render timer: neither a home nor an environment file names the box")
	case t.Home == "":
		desc = "Keep the Parachute box of " + EscapeSpecifiers(t.EnvironmentFile) + " converged"
	}
	svc := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", desc),
		unit.NewUnitOption("Unit", "Documentation", "man:parachute-reconcile(8)"),
		unit.NewUnitOption("Service", "Type", "oneshot"),
	}
	if t.EnvironmentFile != "" {
		svc = append(svc, unit.NewUnitOption("Service", "EnvironmentFile", "-"+EscapeSpecifiers(t.EnvironmentFile)))
	}
	svc = append(svc,
		unit.NewUnitOption("Service", "ExecStart", exec),
		unit.NewUnitOption("Service", "SuccessExitStatus", "75"),
		unit.NewUnitOption("Service", "TimeoutStartSec", "15min"),
		unit.NewUnitOption("Service", "StandardOutput", "journal"),
		unit.NewUnitOption("Service", "StandardError", "journal"),
	)
	boot := "OnStartupSec"
	wanted := "timers.target"
	if t.SystemUnit {
		boot = "OnBootSec"
	}
	tim := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", desc+" (boot and every minute)"),
		unit.NewUnitOption("Timer", boot, "15s"),
		unit.NewUnitOption("Timer", "OnCalendar", "minutely"),
		unit.NewUnitOption("Timer", "Persistent", "true"),
		unit.NewUnitOption("Timer", "AccuracySec", "1s"),
	}
	if t.RandomizedDelay > 0 {
		tim = append(tim, unit.NewUnitOption("Timer", "RandomizedDelaySec", fmt.Sprintf("%d", t.RandomizedDelay)))
	}
	tim = append(tim, unit.NewUnitOption("Install", "WantedBy", wanted))
	if service, err = serialize(svc); err != nil {
		return nil, nil, err
	}
	if timer, err = serialize(tim); err != nil {
		return nil, nil, err
	}
	return service, timer, nil
}

func serialize(opts []*unit.UnitOption) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# " + Header + "\n")
	if _, err := io.Copy(&buf, unit.Serialize(opts)); err != nil {
		return nil, fmt.Errorf("render timer: %w", err)
	}
	for _, o := range opts {
		if n := len(o.Name) + 1 + len(o.Value); n > maxLine {
			return nil, fmt.Errorf("render timer: %s= line is %d bytes, longer than the %d a unit line may have: %w", o.Name, n, maxLine, ErrUnrepresentable)
		}
	}
	return buf.Bytes(), nil
}
