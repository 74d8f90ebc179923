package observe

import (
	"context"
	"errors"
)

// ProbeHealthIn is ProbeHealth for a wait on a hub that runs in the control
// group cgroup (systemd's ControlGroup of the hub unit, as /proc/PID/cgroup
// spells it): the server side of the connection is looked for among that
// group's processes (and its subgroups') only, which are a handful, instead
// of among every process of the machine, which are thousands while the hub
// forks its modules. When exactly one of them (or one and its forked
// copies) holds it, that pid is the answer; an answer held by no process of
// the group, a cgroup file system that cannot be read, or another platform
// falls back to a walk over every process (answeredByWalk).
//
// A process outside the group that holds the same socket too is not seen:
// the actuator's wait stops at an answer from inside the unit, and the
// observation that verifies the run afterwards walks every process.
func (o *Observer) ProbeHealthIn(ctx context.Context, port int, cgroup string) (ok bool, answeredBy int, err error) {
	env := o.Env.withDefaults()
	h, hc := checkHealth(ctx, env, port)
	defer hc.close()
	if h.Status == 0 {
		return false, 0, errors.New(h.Error)
	}
	if !h.OK {
		// Nobody waits on who answered a non-2xx; the walk is what costs.
		return false, 0, nil
	}
	if pid := answeredInCgroup(env, port, hc, cgroup); pid > 0 {
		return true, pid, nil
	}
	return true, answeredByWalk(env, port, hc), nil
}
