package sdbus

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/spec"
)

// Dial opens one connection to the bus (the reads'; go-systemd gets its
// own only on a change, TestConnOverARealBus): the bus sees one more
// client after Dial, and none after Close.
func TestDialOpensOneConnection(t *testing.T) {
	sock := startBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := "unix:path=" + godbus.EscapeBusAddressValue(sock)
	watcher, err := dialEndpoint(ctx, Endpoint{Address: addr, Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	clients := func() int {
		var names []string
		if err := watcher.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, name := range names {
			if strings.HasPrefix(name, ":") {
				n++
			}
		}
		return n
	}
	before := clients()
	c, err := Dial(ctx, string(spec.ScopeUser), os.Getuid(), env("DBUS_SESSION_BUS_ADDRESS", addr, "XDG_RUNTIME_DIR", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if got := clients() - before; got != 1 {
		t.Errorf("Dial opened %d bus connections, want 1", got)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for clients() != before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := clients() - before; got != 0 {
		t.Errorf("%d connections left after Close", got)
	}
}
