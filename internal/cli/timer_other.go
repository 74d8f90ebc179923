//go:build !linux

package cli

import "context"

// installTimer: the timer is a systemd timer. On macOS the equivalent is a
// LaunchAgent with StartInterval 60 running the same command (see the
// README); it is not installed by this command yet.
func installTimer(_ context.Context, inv *invocation, _ timerPlace, _ int, _, _ []byte) (bool, int) {
	pf(inv.stderr, "%s: systemd timers exist only on Linux; on macOS use a LaunchAgent with StartInterval (see the README)\n", inv.cmd.title())
	return false, ExitBlocked
}

func removeTimer(_ context.Context, inv *invocation, _ timerPlace, _ int) (bool, int) {
	pf(inv.stderr, "%s: systemd timers exist only on Linux\n", inv.cmd.title())
	return false, ExitBlocked
}
