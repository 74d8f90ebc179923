package observe

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lsofListing is `lsof -nP -w -iTCP -sTCP:LISTEN -F pcuftdDn` as macOS 14
// prints it: the hub on 127.0.0.1 and [::1], a prefork server whose two
// processes share one socket (same kernel address), a listener on a port
// nobody declared, and a file lsof printed without a device.
const lsofListing = `p812
cbun
u501
f23
tIPv4
d0x3c0a3e4c8a6cf9b1
n127.0.0.1:1939
f24
tIPv6
d0x3c0a3e4c8a6cf0a0
n[::1]:1939
p900
cparachute-vault
u501
f7
tIPv6
d0x3c0a3e4c8a6c1111
n*:1940
p901
cparachute-vault
u501
f7
tIPv6
d0x3c0a3e4c8a6c1111
n*:1940
p950
cpython3
u0
f3
tIPv4
d0x3c0a3e4c8a6c2222
n*:5000
p960
cnode
u501
f12
tIPv4
n127.0.0.1:1943
f13
tIPv4
n127.0.0.1:1943
`

func TestParseLsof(t *testing.T) {
	socks, err := parseLsof([]byte(lsofListing))
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 7 {
		t.Fatalf("%d sockets, want 7: %+v", len(socks), socks)
	}
	want := lsofSocket{Pid: 812, UID: 501, FD: "23", Local: netip.MustParseAddrPort("127.0.0.1:1939"), ID: 0x3c0a3e4c8a6cf9b1}
	if socks[0] != want {
		t.Errorf("first socket %+v, want %+v", socks[0], want)
	}
	if socks[1].Local != netip.MustParseAddrPort("[::1]:1939") {
		t.Errorf("v6 socket %v", socks[1].Local)
	}
	if socks[2].Local.Addr() != netip.IPv6Unspecified() || socks[4].Local.Addr() != netip.IPv4Unspecified() {
		t.Errorf("wildcards: %v, %v", socks[2].Local, socks[4].Local)
	}
	if socks[5].ID == socks[6].ID || socks[5].ID == 0 {
		t.Errorf("two fds without a device share ID %d", socks[5].ID)
	}

	ls, owners := lsofListeners(socks, map[uint16]bool{1939: true, 1940: true, 1943: true})
	var addrs []string
	for _, s := range ls {
		if s.State != tcpListen {
			t.Errorf("%v: state %d", s.Local, s.State)
		}
		addrs = append(addrs, s.Local.String())
	}
	if got := strings.Join(addrs, " "); got != "127.0.0.1:1939 [::1]:1939 [::]:1940 127.0.0.1:1943 127.0.0.1:1943" {
		t.Errorf("listeners %s", got)
	}
	if got := owners[0x3c0a3e4c8a6c1111]; !reflect.DeepEqual(got, []int{900, 901}) {
		t.Errorf("shared socket held by %v, want [900 901]", got)
	}
	if _, ok := owners[0x3c0a3e4c8a6c2222]; ok {
		t.Error(":5000 is not declared but was kept")
	}
}

func TestParseLsofRejectsGarbage(t *testing.T) {
	for _, in := range []string{"pabc\n", "p-3\n", "f3\nn127.0.0.1:1939\n", "p1\nuroot\n"} {
		if _, err := parseLsof([]byte(in)); err == nil {
			t.Errorf("%q parsed without error", in)
		}
	}
	// Empty output (lsof exits 1 when nothing listens) is no sockets.
	if socks, err := parseLsof(nil); err != nil || len(socks) != 0 {
		t.Errorf("empty: %v, %v", socks, err)
	}
}

func TestParseLsofName(t *testing.T) {
	cases := []struct {
		name, typ, want string
		ok              bool
	}{
		{"127.0.0.1:1939", "IPv4", "127.0.0.1:1939", true},
		{"*:1939", "IPv4", "0.0.0.0:1939", true},
		{"*:1939", "IPv6", "[::]:1939", true},
		{"[::1]:1940", "IPv6", "[::1]:1940", true},
		{"[fe80::1%lo0]:1940", "IPv6", "[fe80::1]:1940", true},
		{"127.0.0.1:1939->127.0.0.1:50000", "IPv4", "", false},
		{"localhost:http", "IPv4", "", false},
		{"nonsense", "IPv4", "", false},
	}
	for _, c := range cases {
		got, err := parseLsofName(c.name, c.typ)
		if (err == nil) != c.ok || (c.ok && got.String() != c.want) {
			t.Errorf("%q: %v, %v; want %s ok=%v", c.name, got, err, c.want, c.ok)
		}
	}
}

func procArgs2(argc int32, exe string, pad int, args ...string) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(argc))
	b = append(b, exe...)
	b = append(b, make([]byte, 1+pad)...)
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	return append(b, "PATH=/usr/bin\x00HOME=/Users/op\x00"...)
}

func TestParseProcArgs2(t *testing.T) {
	exe, argv, err := parseProcArgs2(procArgs2(3, "/Users/op/.bun/bin/bun", 5, "bun", "/Users/op/hub/src/cli.ts", "serve"))
	if err != nil || exe != "/Users/op/.bun/bin/bun" || !reflect.DeepEqual(argv, []string{"bun", "/Users/op/hub/src/cli.ts", "serve"}) {
		t.Errorf("got %q %q %v", exe, argv, err)
	}
	// An empty argument is kept (argv is not split on runs of NULs).
	_, argv, err = parseProcArgs2(procArgs2(3, "/bin/sh", 0, "sh", "", "x"))
	if err != nil || !reflect.DeepEqual(argv, []string{"sh", "", "x"}) {
		t.Errorf("empty argument: %q %v", argv, err)
	}
	// Truncated: fewer arguments than argc.
	b := procArgs2(4, "/bin/sh", 0, "sh", "-c")
	b = b[:len(b)-len("PATH=/usr/bin\x00HOME=/Users/op\x00")]
	if _, argv, err := parseProcArgs2(b); err == nil || len(argv) != 2 {
		t.Errorf("truncated: %q %v", argv, err)
	}
	for _, bad := range [][]byte{nil, {1, 0}, binary.NativeEndian.AppendUint32(nil, 1)} {
		if _, _, err := parseProcArgs2(bad); err == nil {
			t.Errorf("%v parsed", bad)
		}
	}
}

// The environment block after the arguments is what envHome reads
// PARACHUTE_HOME from.
func TestProcArgs2Env(t *testing.T) {
	env, err := procArgs2Env(procArgs2(3, "/Users/op/.bun/bin/bun", 5, "bun", "/Users/op/hub/src/cli.ts", "serve"))
	if err != nil || string(env) != "PATH=/usr/bin\x00HOME=/Users/op\x00" || envValue(env, "HOME") != "/Users/op" {
		t.Errorf("got %q %v", env, err)
	}
	// Truncated: the arguments run out before argc, so there is no
	// environment to believe.
	b := procArgs2(4, "/bin/sh", 0, "sh", "-c")
	b = b[:len(b)-len("PATH=/usr/bin\x00HOME=/Users/op\x00")]
	if env, err := procArgs2Env(b); err == nil || env != nil {
		t.Errorf("truncated: %q %v", env, err)
	}
}

func TestDarwinStat(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 123456000, time.UTC)
	st := darwinStat(darwinProc{Pid: 812, PPid: 1, Pgid: 812, UID: 501, Start: start, Stat: 3, Comm: "bun"}, 812)
	// The same number actuate's darwin Identity computes: sec*1e6 + usec.
	if want := uint64(start.Unix())*1_000_000 + 123456; st.StartTicks != want {
		t.Errorf("StartTicks %d, want %d", st.StartTicks, want)
	}
	if st.State != "S" || st.PPid != 1 || st.Pgid != 812 || st.Sid != 812 || st.Comm != "bun" {
		t.Errorf("stat %+v", st)
	}
	if z := darwinStat(darwinProc{Pid: 2, Stat: 5}, 0); !fromStat(z).Zombie() {
		t.Errorf("SZOMB is not a zombie: %+v", z)
	}
}
