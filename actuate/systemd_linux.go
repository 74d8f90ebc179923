package actuate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/state"
)

// SystemdManager is what SystemdUnits asks of one systemd manager: the
// run's D-Bus connection (internal/sdbus), or a fake in tests. Every job
// method waits for the job and returns its result ("done", "failed", …).
type SystemdManager interface {
	UnitProps(ctx context.Context, name string) (state.UnitProps, error)
	Reload(ctx context.Context) error
	Start(ctx context.Context, name string) (result string, err error)
	Restart(ctx context.Context, name string) (result string, err error)
	Stop(ctx context.Context, name string) error
	ResetFailed(ctx context.Context, name string) error
	EnableFiles(ctx context.Context, files []string) (linked bool, err error)
	Disable(ctx context.Context, names []string) error
}

var _ SystemdManager = (*sdbus.Conn)(nil)

// SystemdUnits is Units over one systemd manager's D-Bus API (the system
// manager for a system unit, the user's manager for a user unit).
type SystemdUnits struct {
	// Manager is the manager's connection.
	Manager SystemdManager
	// UID is the user whose linger EnableLinger turns on.
	UID int
	// Getenv reads the environment (bus addresses).
	Getenv func(string) string
	// LogHint names where the hub's output goes, for failure messages.
	LogHint string
}

var _ Units = (*SystemdUnits)(nil)

// Reload implements Units (daemon-reload). D-Bus errors are retried.
func (u *SystemdUnits) Reload(ctx context.Context) error { return u.Manager.Reload(ctx) }

// EnableLinger implements Units through logind.
func (u *SystemdUnits) EnableLinger(ctx context.Context, user string) error {
	err := sdbus.EnableLinger(ctx, u.UID, u.Getenv)
	if errors.Is(err, sdbus.ErrNotPermitted) {
		return &NeedsPerson{Err: err, Fix: fmt.Sprintf("as root: loginctl enable-linger %s; then run again", user)}
	}
	return err
}

// Start implements Units: reset a failed state (and the start-limit
// counter), enable, start, and wait for the job. A job that ends in anything
// but "done" is permanent: retrying at once would only hit the start limit.
//
// The install links are made without a daemon-reload (one costs ~110 ms,
// most of a cutover's overhead): a unit the manager had not loaded reads
// file and links when StartUnit loads it (systemd ≥ 247 retries a
// not-found unit whose directories changed). Only when the manager still
// reports the unit not enabled afterwards — it had it loaded — is the
// reload paid, so that the next observation sees the truth.
func (u *SystemdUnits) Start(ctx context.Context, name, path string) error {
	start := u.Manager.Start
	if p, err := u.Manager.UnitProps(ctx, name); err == nil {
		switch {
		case p.ActiveState == "failed":
			if err := u.Manager.ResetFailed(ctx, name); err != nil {
				return err
			}
		case p.SubState == "auto-restart":
			// A crash loop: the rewritten unit applies now, not when the
			// restart timer fires.
			start = u.Manager.Restart
		}
	}
	// Start first, enable second: the links are not needed to start, and
	// making them overlaps the hub's own boot instead of delaying it. A run
	// killed in between leaves an active, disabled unit, which the next
	// plan enables.
	if result, err := start(ctx, name); err != nil {
		if result != "" {
			return Permanent(fmt.Errorf("%w; the unit file stays in place (its cause follows below, from the manager, the journal and %s)", err, u.logHint()))
		}
		return err
	}
	if _, err := u.Manager.EnableFiles(ctx, []string{filepath.Base(path)}); err != nil {
		return err
	}
	p, err := u.Manager.UnitProps(ctx, name)
	if err != nil {
		return err
	}
	switch p.UnitFileState {
	case "enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "static", "indirect", "generated":
		return nil
	}
	return u.Manager.Reload(ctx)
}

// Stop implements Units: stop (the manager ends the whole control group),
// disable, and clear a failed state so nothing of the unit lingers.
//
// systemd refuses to stop an inactive unit it could not load (its file
// gone, or with an error or a bad setting: a second ExecStart= from a
// drop-in) with NoSuchUnit, "Unit NAME not loaded.": such a unit is not
// running, and is disabled and cleared like any other. Failing there made
// a rollback or a removal of a broken hub unit fail on every run.
//
// A unit whose file and links were deleted by hand, with no reload since,
// is still reported enabled (the manager's UnitFileState is as of its
// last load), and systemd refuses to disable it with NoSuchUnit: there is
// nothing left to disable. The reload that a disable would have made is
// made instead, so the manager forgets the unit; without it every later
// run would plan the same stop and meet the same refusal.
func (u *SystemdUnits) Stop(ctx context.Context, name string) error {
	if err := u.Manager.Stop(ctx, name); err != nil && !sdbus.IsNoSuchUnit(err) {
		return err
	}
	p, err := u.Manager.UnitProps(ctx, name)
	if err != nil {
		return err
	}
	switch p.UnitFileState {
	case "enabled", "enabled-runtime", "linked", "linked-runtime", "alias":
		err := u.Manager.Disable(ctx, []string{name})
		if sdbus.IsNoSuchUnit(err) {
			err = u.Manager.Reload(ctx)
		}
		if err != nil {
			return err
		}
	}
	if p.ActiveState == "failed" {
		return u.Manager.ResetFailed(ctx, name)
	}
	return nil
}

// Unload implements Units: systemd forgets a unit at the daemon-reload that
// follows the file's removal.
func (u *SystemdUnits) Unload(context.Context, string) error { return nil }

// Owner implements Units from the unit's ControlGroup and MainPID.
func (u *SystemdUnits) Owner(ctx context.Context, name string) (Ownership, error) {
	p, err := u.Manager.UnitProps(ctx, name)
	if err != nil {
		return Ownership{}, err
	}
	state := p.ActiveState
	if p.SubState != "" {
		state += "/" + p.SubState
	}
	if p.Result != "" && p.Result != "success" {
		state += " (" + p.Result
		if p.ExecMainCode == 1 {
			state += fmt.Sprintf(", exit status %d", p.ExecMainStatus)
		}
		state += ")"
	}
	// auto-restart is failure too: the hub exited, and waiting for
	// /health through the restart loop would only hide why.
	failed := p.ActiveState == "failed" || p.SubState == "auto-restart"
	return Ownership{ControlGroup: p.ControlGroup, MainPID: p.MainPID, Failed: failed, State: state}, nil
}

func (u *SystemdUnits) logHint() string {
	if u.LogHint != "" {
		return u.LogHint
	}
	return "the hub's log"
}
