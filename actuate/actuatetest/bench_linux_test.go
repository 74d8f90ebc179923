package actuatetest

import (
	"fmt"
	"testing"

	"github.com/parachute/reconcile/spec"
)

func BenchmarkSnapshot(b *testing.B) {
	mods := []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}, {Name: "parachute-scribe", Short: "scribe", Port: 1943}}
	w := New("/home/op/.parachute", 1939, mods)
	for _, m := range mods {
		pid := w.Spawn(Proc{Argv: []string{"/home/op/.bun/bin/" + m.Name, "serve"}, Ports: []int{m.Port}})
		w.WriteFileNow(fmt.Sprintf("/home/op/.parachute/%s/run/%s.pid", m.Short, m.Short), fmt.Sprintln(pid))
	}
	for b.Loop() {
		w.Snapshot()
	}
}
