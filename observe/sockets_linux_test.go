package observe

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
)

// TestSocketsNetlinkMatchesFiles asks the real kernel twice, through
// sock_diag and through /proc/net/tcp{,6}, for listeners this test opens and
// for the server side of a connection to each of them, and wants the same
// answers. The dual-stack [::] listener's accepted socket is IPv6 with
// v4-mapped addresses, which the exact lookup must still find.
func TestSocketsNetlinkMatchesFiles(t *testing.T) {
	type srv struct {
		l      net.Listener
		client net.Conn
		server net.Conn
	}
	var srvs []srv
	// dial: connect from 127.0.0.1 as the health check does ([::1] cannot
	// take that connection).
	open := func(network, addr string, dial bool) {
		l, err := net.Listen(network, addr)
		if err != nil {
			t.Logf("%s %s: %v (skipped)", network, addr, err)
			return
		}
		t.Cleanup(func() { l.Close() })
		if !dial {
			srvs = append(srvs, srv{l: l})
			return
		}
		port := l.Addr().(*net.TCPAddr).Port
		c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srvs = append(srvs, srv{l, c, s})
	}
	open("tcp4", "127.0.0.1:0", true)
	open("tcp", "[::]:0", true) // dual stack when IPv6 is on
	open("tcp6", "[::1]:0", false)
	if len(srvs) == 0 {
		t.Fatal("no listener")
	}

	p := newProcFS("/proc")
	for _, s := range srvs {
		port := uint16(s.l.Addr().(*net.TCPAddr).Port)
		ports := map[uint16]bool{port: true}
		var client netip.AddrPort
		if s.client != nil {
			client = netip.MustParseAddrPort(s.client.LocalAddr().String())
		}
		nl, nlServer, err := diagSockets(ports, client, port)
		if err != nil {
			t.Fatalf("sock_diag: %v", err)
		}
		files, fileServer, problems := p.fileSockets(ports, client, port)
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		key := func(ss []tcpSocket) []string {
			var out []string
			for _, s := range ss {
				out = append(out, s.Local.String()+" uid "+strconv.Itoa(s.UID)+" inode "+strconv.Itoa(int(s.Inode)))
			}
			slices.Sort(out)
			return out
		}
		if len(nl) != 1 || !slices.Equal(key(nl), key(files)) {
			t.Errorf("%s: sock_diag %v, files %v", s.l.Addr(), key(nl), key(files))
		}
		if s.client == nil {
			continue
		}
		if nlServer == nil || fileServer == nil || nlServer.Inode != fileServer.Inode || nlServer.Inode == 0 {
			t.Errorf("%s: server side sock_diag %+v, files %+v", s.l.Addr(), nlServer, fileServer)
		}
	}
}
