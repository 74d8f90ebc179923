// Command cutoverbench times `parachute reconcile --desired supervised` on a
// detached-era box of ten modules under a real systemd (the e2e sandbox),
// beside the physical limit of that cutover measured in the same run on the
// same kind of box:
//
//   - stop: SIGTERM to every process of the detached box at once (module
//     groups and the hub pid, as the reconciler sends them) until the last
//     declared port is free — the slowest process's exit;
//   - start: with nothing running, the hub unit started (over D-Bus, and
//     again with `systemctl start`) until GET /health answers 2xx from a
//     process inside the unit's control group.
//
// limit = stop + start; overhead = cutover − limit. It also times the no-op
// rerun on the converged box and, from the reconciler's own step events,
// where the cutover's time goes.
//
// It runs in two roles. On the host (the default) it boots one fresh
// sandbox per run, runs itself inside it as `cutoverbench agent`, collects
// each run's JSON and prints a Markdown report. Inside (`agent`) it lays the
// box out with examples/layout, measures and prints one run's figures.
//
//	cutoverbench -bin DIR -work DIR [-runs 5] [-max-runs 9] [-budget 90s] [-reruns 5] [-json FILE]
//
// -bin holds parachute, standin-hub, standin-module, layout; it and -work
// must be visible inside the sandbox (not under /tmp, /run or /home; the
// module's .e2e-work is the place), and so must this executable. Needs
// Linux and root.
//
// cutoverbench never touches the host's service manager or host processes:
// every unit operation and every signal happens inside a sandbox it booted,
// and inside it signals only the pids the layout tool it ran reports,
// after checking their command lines.
package main
