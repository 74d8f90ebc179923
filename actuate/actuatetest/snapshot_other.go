//go:build !linux

package actuatetest

import "github.com/parachute/reconcile/state"

// Snapshot observes the world with the real observer through a fake /proc,
// which only observe's Linux reader reads (on darwin it reads the machine
// through sysctl and libproc): simulation tests run on Linux.
func (w *World) Snapshot() state.Snapshot {
	panic("actuatetest: World.Snapshot runs observe's Linux reader on a fake /proc: run simulation tests on Linux")
}
