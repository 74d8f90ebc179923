package observe

import (
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
)

// HeldPorts answers for every port in one look, with real loopback
// sockets: held ports by their holder (this process, v4 and v6), free
// ports absent, and a port freed between two looks absent from the second.
func TestHeldPortsRealSockets(t *testing.T) {
	var ports []int
	var open []net.Listener
	for range 5 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	// The same port held twice, v4 and v6, counts both sockets' holders.
	if l6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(ports[0]))); err == nil {
		open = append(open, l6)
	}
	free := closedPort(t)
	o := New(Env{})
	held, err := o.HeldPorts(append(slices.Clone(ports), free))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if h, ok := held[p]; !ok || !slices.Equal(h.Pids, []int{os.Getpid()}) || h.Unknown != 0 {
			t.Errorf(":%d = %+v (present %t), want held by us (%d)", p, h, ok, os.Getpid())
		}
	}
	if h, ok := held[free]; ok {
		t.Errorf("free :%d reported held: %+v", free, h)
	}

	// One port lets go: it alone drops out, the others stay held.
	open[2].Close()
	held, err = o.HeldPorts(ports)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := held[ports[2]]; ok {
		t.Errorf(":%d reported held after its listener closed", ports[2])
	}
	if len(held) != len(ports)-1 || !slices.Equal(held[ports[0]].Pids, []int{os.Getpid()}) {
		t.Errorf("%d ports held, want %d: %+v", len(held), len(ports)-1, held)
	}

	// All free: an empty answer (and no walk over /proc is needed).
	for _, l := range open {
		l.Close()
	}
	if held, err := o.HeldPorts(ports); err != nil || len(held) != 0 {
		t.Errorf("all closed: %+v, %v; want none held", held, err)
	}
}
