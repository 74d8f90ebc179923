package observe

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/parachute/reconcile/spec"
)

// closedPort returns a loopback port nothing listens on (it was free a moment
// ago).
func closedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// listeners opens n real listeners on 127.0.0.1 and declares each as a
// module port; the hub's port is closed, so /health is refused at once and
// the figure is the port-owner scan's.
func listeners(b *testing.B, n int) spec.Desired {
	b.Helper()
	d := spec.Desired{Home: b.TempDir(), HubPort: closedPort(b)}
	for i := range n {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		d.Manifest.Modules = append(d.Manifest.Modules, spec.Module{
			Name: fmt.Sprintf("parachute-m%d", i), Short: fmt.Sprintf("m%d", i), Port: l.Addr().(*net.TCPAddr).Port})
	}
	return d
}

// BenchmarkObservePorts is a whole Observe (pidfiles, /health, socket tables,
// the /proc walk, process details) of n declared ports, each held by a real
// listener of this process. bench/observe.sh sets it against lsof and ss.
func BenchmarkObservePorts(b *testing.B) {
	for _, n := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			d := listeners(b, n)
			o := New(Env{})
			snap, err := o.Observe(context.Background(), d)
			if err != nil {
				b.Fatal(err)
			}
			held := 0
			for _, p := range snap.Ports {
				if len(p.Listeners) > 0 && len(p.Listeners[0].Pids) > 0 {
					held++
				}
			}
			if held != n {
				b.Fatalf("found %d of %d listeners with owners; problems %q", held, n, snap.Problems)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := o.Observe(context.Background(), d); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/port")
		})
	}
}
