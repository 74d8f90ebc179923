package observe

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func statLine(pid, comm, rest string) []byte {
	return []byte(pid + " (" + comm + ") " + rest + "\n")
}

// fields 3..22 with ppid 7, pgrp 8, session 9 and starttime 12345.
const statRest = "S 7 8 9 0 -1 4194560 100 0 0 0 12 3 0 0 20 0 1 0 12345 10000000 500 0 0 0"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Stat
		wantErr bool
	}{
		{"plain", statLine("42", "bun", statRest), Stat{Pid: 42, Comm: "bun", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"comm with ) ( inside", statLine("42", "a) (b", statRest), Stat{Pid: 42, Comm: "a) (b", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"comm ending in )", statLine("42", "x) Z 1 1 1", statRest), Stat{Pid: 42, Comm: "x) Z 1 1 1", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"comm with spaces", statLine("5", "Web Content", strings.Replace(statRest, "S", "Z", 1)), Stat{Pid: 5, Comm: "Web Content", State: "Z", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"empty comm", statLine("5", "", statRest), Stat{Pid: 5, Comm: "", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"no parens", []byte("42 bun S 1 1 1"), Stat{}, true},
		{"truncated", statLine("42", "bun", "S 7 8 9 0"), Stat{}, true},
		{"bad pid", statLine("x", "bun", statRest), Stat{}, true},
		{"bad starttime", statLine("42", "bun", strings.Replace(statRest, "12345", "-1", 1)), Stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStat(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseHexAddrPort(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Real /proc/net/tcp{,6} rows from x86-64 hosts.
		{"0100007F:0793", "127.0.0.1:1939"},
		{"00000000:0016", "0.0.0.0:22"},
		{"0101A8C0:01BB", "192.168.1.1:443"},
		{"00000000000000000000000000000000:0794", "[::]:1940"},
		{"00000000000000000000000001000000:0016", "[::1]:22"},
		{"0000000000000000FFFF00000100007F:0793", "[::ffff:127.0.0.1]:1939"},
		{"B80D0120000000000000000001000000:0050", "[2001:db8::1]:80"},
	}
	for _, tt := range tests {
		got, err := parseHexAddrPort([]byte(tt.in))
		if err != nil {
			t.Errorf("parseHexAddrPort(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("parseHexAddrPort(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"0100007F", "0100007:0793", "0100007F:XYZ", "zz00007F:0793", "0100007F:10000"} {
		if got, err := parseHexAddrPort([]byte(bad)); err == nil {
			t.Errorf("parseHexAddrPort(%q) = %s, want error", bad, got)
		}
	}
}

func TestParseTCPTable(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0793 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1001 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0793 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 1002 1 0000000000000000 100 0 0 10 0
`
	all, err := parseTCPTable([]byte(table), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("got %d rows, want 3", len(all))
	}
	want := tcpSocket{
		Local:  netip.MustParseAddrPort("127.0.0.1:1939"),
		Remote: netip.MustParseAddrPort("127.0.0.1:54321"),
		State:  tcpEstablished, UID: 1000, Inode: 1002,
	}
	if all[2] != want {
		t.Errorf("row 2 = %+v, want %+v", all[2], want)
	}
	var seen []uint16
	listen, err := parseTCPTable([]byte(table), func(st uint8, port uint16) bool {
		seen = append(seen, port)
		return st == tcpListen && port == 1939
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(listen) != 1 || listen[0].Inode != 1001 || listen[0].UID != 1000 {
		t.Errorf("filtered rows = %+v, want the one listener inode 1001", listen)
	}
	if !slices.Equal(seen, []uint16{1939, 22, 1939}) {
		t.Errorf("keep saw ports %v, want [1939 22 1939]", seen)
	}
	if _, err := parseTCPTable([]byte("header\n 0: 0100007F:0793 00000000:0000 0A\n"), nil); err == nil {
		t.Error("short row: want error")
	}
	if rows, err := parseTCPTable([]byte(""), nil); err != nil || len(rows) != 0 {
		t.Errorf("empty table = %v, %v; want no rows, no error", rows, err)
	}
}

func TestParsePid(t *testing.T) {
	tests := []struct {
		in   string
		pid  int
		want pidParse
	}{
		{"123\n", 123, pidOK},
		{"123abc", 123, pidOK}, // parseInt stops at the first non-digit
		{"  42  \r\n", 42, pidOK},
		{"\ufeff\u00a07\u2028", 7, pidOK}, // JS trim removes BOM, NBSP, LS
		{"+7", 7, pidOK},
		{"007", 7, pidOK},
		{"1e3", 1, pidOK},
		{"4.9", 4, pidOK},
		{"2147483647", 2147483647, pidOK},
		{"2147483648", 0, pidTooLarge},
		{"99999999999999999999999", 0, pidTooLarge},
		{"0", 0, pidNone},
		{"000", 0, pidNone},
		{"-5", 0, pidNone},
		{"- 5", 0, pidNone},
		{"0x10", 0, pidNone},
		{"abc123", 0, pidNone},
		{"", 0, pidNone},
		{"\n", 0, pidNone},
		{"+", 0, pidNone},
	}
	for _, tt := range tests {
		pid, got := parsePid([]byte(tt.in))
		if pid != tt.pid || got != tt.want {
			t.Errorf("parsePid(%q) = %d, %v; want %d, %v", tt.in, pid, got, tt.pid, tt.want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]int{"1939\n": 1939, "65535": 65535, "65536": 0, "0": 0, "80abc": 80, "x": 0, "-1": 0} {
		if got := parsePort([]byte(in)); got != want {
			t.Errorf("parsePort(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseCgroup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-hub.service\n", "/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-hub.service"},
		{"12:pids:/user.slice\n1:name=systemd:/system.slice/parachute-hub.service\n0::/system.slice/parachute-hub.service\n", "/system.slice/parachute-hub.service"},
		{"12:pids:/user.slice\n3:cpu,cpuacct:/x\n1:name=systemd:/user.slice/session-3.scope\n", "/user.slice/session-3.scope"},
		{"0::/odd:path:with:colons\n", "/odd:path:with:colons"},
		{"garbage\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ParseCgroup([]byte(tt.in)); got != tt.want {
			t.Errorf("ParseCgroup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseStatusUID(t *testing.T) {
	uid, err := parseStatusUID([]byte("Name:\tbun\nUid:\t1000\t1001\t1000\t1000\nGid:\t5\t5\t5\t5\n"))
	if err != nil || uid != 1001 {
		t.Errorf("uid = %d, %v; want the effective uid 1001", uid, err)
	}
	for _, bad := range []string{"Name:\tbun\n", "Uid:\t1000\n", "Uid:\tx\ty\tz\tw\n"} {
		if _, err := parseStatusUID([]byte(bad)); err == nil {
			t.Errorf("parseStatusUID(%q): want error", bad)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	if got := parseCmdline([]byte("bun\x00/a b/cli.ts\x00serve\x00")); !slices.Equal(got, []string{"bun", "/a b/cli.ts", "serve"}) {
		t.Errorf("argv = %q", got)
	}
	if got := parseCmdline([]byte("nginx: worker process")); !slices.Equal(got, []string{"nginx: worker process"}) {
		t.Errorf("setproctitle argv = %q", got)
	}
	if got := parseCmdline(nil); got == nil || len(got) != 0 {
		t.Errorf("empty cmdline = %#v, want empty non-nil", got)
	}
}

func TestBootTimeAndStartedAt(t *testing.T) {
	bt, err := parseBootTime([]byte("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"))
	if err != nil || !bt.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("btime = %v, %v", bt, err)
	}
	if _, err := parseBootTime([]byte("cpu 1 2 3\n")); err == nil {
		t.Error("no btime line: want error")
	}
	got := startedAt(bt, 12345, 100)
	if want := time.Unix(1700000123, 450_000_000); !got.Equal(want) {
		t.Errorf("startedAt = %v, want %v", got, want)
	}
	if !startedAt(time.Time{}, 12345, 100).IsZero() {
		t.Error("unknown boot time must give an unknown start")
	}
}

func TestSocketInode(t *testing.T) {
	for in, want := range map[string]uint64{"socket:[12345]": 12345, "socket:[0]": 0} {
		if got, ok := socketInode([]byte(in)); !ok || got != want {
			t.Errorf("socketInode(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"pipe:[12]", "/dev/null", "socket:[]", "socket:[12", "socket:[x]", "anon_inode:[eventfd]"} {
		if _, ok := socketInode([]byte(in)); ok {
			t.Errorf("socketInode(%q) ok, want not a socket", in)
		}
	}
}

func TestRelevant(t *testing.T) {
	tree := processTree{
		1:   {Pid: 1, PPid: 0, Pgid: 1},
		2:   {Pid: 2, PPid: 0, Pgid: 0}, // kthreadd
		3:   {Pid: 3, PPid: 2, Pgid: 0}, // a kernel thread
		50:  {Pid: 50, PPid: 1, Pgid: 50},
		60:  {Pid: 60, PPid: 50, Pgid: 60}, // login shell
		100: {Pid: 100, PPid: 1, Pgid: 100},
		101: {Pid: 101, PPid: 100, Pgid: 100},
		102: {Pid: 102, PPid: 101, Pgid: 102}, // setsid grandchild
		103: {Pid: 103, PPid: 102, Pgid: 102}, // its child
		110: {Pid: 110, PPid: 60, Pgid: 100},  // joined group 100 from elsewhere
		200: {Pid: 200, PPid: 60, Pgid: 200},
		201: {Pid: 201, PPid: 200, Pgid: 200},
		300: {Pid: 300, PPid: 1, Pgid: 300}, // unrelated
	}
	tests := []struct {
		name                   string
		holders, seeds, extras []int
		want                   []int
	}{
		{"holder and ancestors", []int{201}, nil, nil, []int{1, 50, 60, 200, 201}},
		{"seed with group and descendants", nil, []int{100}, nil, []int{100, 101, 102, 103, 110}},
		{"seed not a leader takes its group", nil, []int{101}, nil, []int{100, 101, 102, 103, 110}},
		{"kernel group 0 is never taken", nil, []int{3}, nil, []int{3}},
		{"extra with ancestors", nil, nil, []int{102}, []int{1, 100, 101, 102}},
		{"gone pid kept", []int{999}, []int{998}, nil, []int{998, 999}},
		{"nothing", nil, nil, nil, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tree.relevant(tt.holders, tt.seeds, tt.extras)
			if !slices.Equal(got, tt.want) {
				t.Errorf("relevant = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAnsweredBy(t *testing.T) {
	ports := []Port{
		{Port: 1939, Listeners: []Listener{{Addr: "127.0.0.1:1939", Pids: []int{10, 11}}}},
		{Port: 1940, Listeners: []Listener{{Addr: "127.0.0.1:1940", Pids: []int{20}}}},
	}
	if got := answeredByOf(ports, 1939, []int{11, 11}, nil); got != 11 {
		t.Errorf("server side held by 11 = %d, want 11", got)
	}
	if got := answeredByOf(ports, 1939, nil, nil); got != 0 {
		t.Errorf("two listener owners, no server side = %d, want 0 (unknown)", got)
	}
	if got := answeredByOf(ports, 1940, nil, nil); got != 20 {
		t.Errorf("fallback to the single listener owner = %d, want 20", got)
	}
	if got := answeredByOf(ports, 1939, []int{10, 11}, nil); got != 0 {
		t.Errorf("server side shared = %d, want fallback 0", got)
	}
	// 11 is 10's forked child (between fork and exec it holds copies of
	// every descriptor): the parent answered.
	parent := func(pid int) int { return map[int]int{11: 10, 10: 1, 12: 1}[pid] }
	if got := answeredByOf(ports, 1939, []int{10, 11}, parent); got != 10 {
		t.Errorf("server side shared by a parent and its child = %d, want the parent 10", got)
	}
	if got := answeredByOf(ports, 1939, []int{11, 12}, parent); got != 10 {
		t.Errorf("server side shared by unrelated processes = %d, want the listener's root owner 10", got)
	}
	unrelated := []Port{{Port: 1939, Listeners: []Listener{{Pids: []int{11, 12}}}}}
	if got := answeredByOf(unrelated, 1939, []int{11, 12}, parent); got != 0 {
		t.Errorf("unrelated holders everywhere = %d, want 0 (unknown)", got)
	}
}

func TestSameClient(t *testing.T) {
	c := netip.MustParseAddrPort("127.0.0.1:54321")
	if !sameClient(netip.MustParseAddrPort("127.0.0.1:54321"), c) {
		t.Error("identical v4 must match")
	}
	if !sameClient(netip.MustParseAddrPort("[::ffff:127.0.0.1]:54321"), c) {
		t.Error("v4-mapped (a [::] listener's peer) must match")
	}
	if sameClient(netip.MustParseAddrPort("127.0.0.1:54322"), c) {
		t.Error("other port must not match")
	}
	if sameClient(netip.MustParseAddrPort("127.0.0.1:54321"), netip.AddrPort{}) {
		t.Error("no client: nothing matches")
	}
}

func TestDiagRequest(t *testing.T) {
	ne := binary.NativeEndian
	b := diagRequest(afInet, 1<<tcpListen, true, 7, netip.AddrPort{}, netip.AddrPort{})
	if len(b) != 72 || ne.Uint32(b) != 72 || ne.Uint16(b[4:]) != sockDiagByFamily || ne.Uint16(b[6:]) != nlmFRequest|nlmFDump || ne.Uint32(b[8:]) != 7 {
		t.Errorf("dump header = % x", b[:16])
	}
	if b[16] != afInet || b[17] != ipprotoTCP || ne.Uint32(b[20:]) != 1<<10 {
		t.Errorf("dump request = % x", b[16:24])
	}
	local := netip.MustParseAddrPort("127.0.0.1:1939")
	remote := netip.MustParseAddrPort("127.0.0.1:54321")
	b = diagRequest(afInet, ^uint32(0), false, 8, local, remote)
	id := b[24:]
	if ne.Uint16(b[6:]) != nlmFRequest {
		t.Errorf("exact flags = %#x", ne.Uint16(b[6:]))
	}
	if binary.BigEndian.Uint16(id[0:]) != 1939 || binary.BigEndian.Uint16(id[2:]) != 54321 ||
		!bytes.Equal(id[4:8], []byte{127, 0, 0, 1}) || !bytes.Equal(id[20:24], []byte{127, 0, 0, 1}) ||
		ne.Uint32(id[40:]) != inetDiagNoCookie || ne.Uint32(id[44:]) != inetDiagNoCookie {
		t.Errorf("exact id = % x", id[:48])
	}
	b = diagRequest(afInet6, ^uint32(0), false, 9, netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), 1939), remote)
	if want := netip.MustParseAddr("::ffff:127.0.0.1").As16(); !bytes.Equal(b[24+4:24+20], want[:]) {
		t.Errorf("v6 mapped src = % x", b[28:44])
	}
}

// diagMsg encodes one struct inet_diag_msg reply as the kernel does.
func diagMsg(family, state uint8, local, remote netip.AddrPort, uid, inode uint32) []byte {
	ne := binary.NativeEndian
	b := make([]byte, nlmsgHdrLen+inetDiagMsgLen)
	ne.PutUint32(b, uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	m := b[nlmsgHdrLen:]
	m[0], m[1] = family, state
	binary.BigEndian.PutUint16(m[4:], local.Port())
	binary.BigEndian.PutUint16(m[6:], remote.Port())
	putDiagAddr(m[8:24], family, local.Addr())
	putDiagAddr(m[24:40], family, remote.Addr())
	ne.PutUint32(m[64:], uid)
	ne.PutUint32(m[68:], inode)
	return b
}

func TestParseDiagMessages(t *testing.T) {
	ne := binary.NativeEndian
	done := make([]byte, 20)
	ne.PutUint32(done, 20)
	ne.PutUint16(done[4:], nlmsgDone)
	buf := slices.Concat(
		diagMsg(afInet, tcpListen, netip.MustParseAddrPort("127.0.0.1:1939"), netip.AddrPort{}, 1000, 42),
		diagMsg(afInet6, tcpListen, netip.MustParseAddrPort("[::]:1940"), netip.AddrPort{}, 0, 43),
		done)
	socks, err := parseDiagMessages(buf)
	if err != errDiagDone {
		t.Fatalf("err = %v, want end of dump", err)
	}
	if len(socks) != 2 || socks[0].Local.String() != "127.0.0.1:1939" || socks[0].UID != 1000 || socks[0].Inode != 42 || socks[0].State != tcpListen ||
		socks[1].Local.String() != "[::]:1940" || socks[1].Inode != 43 {
		t.Errorf("socks = %+v", socks)
	}

	errMsg := make([]byte, 36)
	ne.PutUint32(errMsg, 36)
	ne.PutUint16(errMsg[4:], nlmsgError)
	ne.PutUint32(errMsg[16:], uint32(0xFFFFFFFE)) // -ENOENT
	if _, err := parseDiagMessages(errMsg); err != diagErrno(2) {
		t.Errorf("error message: err = %v, want errno 2", err)
	}
	if _, err := parseDiagMessages(buf[:30]); err == nil {
		t.Error("truncated message: want error")
	}
	if socks, err := parseDiagMessages(buf[:nlmsgHdrLen+inetDiagMsgLen]); err != nil || len(socks) != 1 {
		t.Errorf("one message, more to come: %v, %v", socks, err)
	}
}

// The walk cuts stat's fields itself; it must cut them as bytes.Fields does.
func TestStatFieldsSplitAsBytesFields(t *testing.T) {
	for _, in := range []string{
		"", " ", "S 1 2 3\n", "  R\t1\v2\f3\r4  ", "a", "a  b", "x\n\ny ",
	} {
		var got [][]byte
		for f := range statFields([]byte(in)) {
			got = append(got, f)
		}
		want := bytes.Fields([]byte(in))
		if len(got) != len(want) {
			t.Fatalf("statFields(%q) = %q, want %q", in, got, want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("statFields(%q) = %q, want %q", in, got, want)
			}
		}
	}
	for _, st := range []string{"R", "S", "D", "T", "t", "X", "Z", "P", "I", "W", "K", "RS"} {
		if got := stateString([]byte(st)); got != st {
			t.Errorf("stateString(%q) = %q", st, got)
		}
	}
}
