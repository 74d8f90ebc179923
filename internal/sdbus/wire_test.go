package sdbus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// godbusMessage encodes a message with godbus, the reference encoder.
func godbusMessage(t testing.TB, typ godbus.Type, headers map[godbus.HeaderField]godbus.Variant, order binary.ByteOrder, body ...any) []byte {
	t.Helper()
	if len(body) > 0 {
		headers[godbus.FieldSignature] = godbus.MakeVariant(godbus.SignatureOf(body...))
	}
	m := &godbus.Message{Type: typ, Headers: headers, Body: body}
	var b bytes.Buffer
	if err := m.EncodeTo(&b, order); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func methodReturn(t testing.TB, order binary.ByteOrder, replySerial uint32, body ...any) []byte {
	return godbusMessage(t, godbus.TypeMethodReply, map[godbus.HeaderField]godbus.Variant{
		godbus.FieldReplySerial: godbus.MakeVariant(replySerial)}, order, body...)
}

// execStartValue is ExecStart as systemd sends it, a(sasbttttuii).
type execStartValue struct {
	Path                         string
	Argv                         []string
	Ignore                       bool
	Start, StartMono, Exit, Mono uint64
	PID                          uint32
	Code, Status                 int32
}

// Every value the reads take apart decodes from godbus's encoding, in
// both byte orders, to the Go values the readers expect.
func TestReadMessageDecodesWhatGodbusEncodes(t *testing.T) {
	units := []struct {
		Name, Description, LoadState, ActiveState, SubState, Followed string
		Path                                                          godbus.ObjectPath
		JobID                                                         uint32
		JobType                                                       string
		JobPath                                                       godbus.ObjectPath
	}{{"parachute-hub.service", "Parachute hub", "loaded", "active", "running", "", "/org/freedesktop/systemd1/unit/x", 0, "", "/"},
		{"parachute-vault.service", "", "not-found", "inactive", "dead", "", "/o", 7, "start", "/org/freedesktop/systemd1/job/7"}}
	for _, tc := range []struct {
		name string
		body []any
		want []any
	}{
		{"string", []any{godbus.MakeVariant("active")}, []any{"active"}},
		{"bool", []any{godbus.MakeVariant(true)}, []any{true}},
		{"uint32", []any{godbus.MakeVariant(uint32(4242))}, []any{uint32(4242)}},
		{"int32 and int64", []any{int32(-3), int64(-1 << 40), uint64(1 << 63), uint16(7), int16(-7), byte(9), 2.5},
			[]any{int32(-3), int64(-1 << 40), uint64(1 << 63), uint16(7), int16(-7), byte(9), 2.5}},
		{"object path and signature", []any{godbus.ObjectPath("/a/b"), godbus.SignatureOf("")}, []any{"/a/b", "s"}},
		{"strings", []any{godbus.MakeVariant([]string{"/etc/a.conf", "/run/b.conf"})}, []any{[]string{"/etc/a.conf", "/run/b.conf"}}},
		{"no strings", []any{godbus.MakeVariant([]string{})}, []any{[]string(nil)}},
		{"exec start", []any{godbus.MakeVariant([]execStartValue{{Path: "/bin/bun", Argv: []string{"bun", "serve"}, PID: 12, Code: 1, Status: -2}})},
			[]any{[][]any{{"/bin/bun", []string{"bun", "serve"}, false, uint64(0), uint64(0), uint64(0), uint64(0), uint32(12), int32(1), int32(-2)}}}},
		{"listed units", []any{units}, []any{[][]any{
			{"parachute-hub.service", "Parachute hub", "loaded", "active", "running", "", "/org/freedesktop/systemd1/unit/x", uint32(0), "", "/"},
			{"parachute-vault.service", "", "not-found", "inactive", "dead", "", "/o", uint32(7), "start", "/org/freedesktop/systemd1/job/7"}}}},
		{"dict", []any{map[string]uint32{"a": 1}}, []any{[][]any{{"a", uint32(1)}}}},
		{"bytes and nested arrays", []any{[]byte("hi"), [][]uint32{{1, 2}, {}}}, []any{[]byte("hi"), []any{[]any{uint32(1), uint32(2)}, []any(nil)}}},
		{"variant in variant", []any{godbus.MakeVariant(godbus.MakeVariant(uint64(5)))}, []any{uint64(5)}},
		{"variants of strings", []any{[]godbus.Variant{godbus.MakeVariant("ab"), godbus.MakeVariant("cd")}}, []any{[]any{"ab", "cd"}}},
		{"empty body", nil, nil},
	} {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(tc.name+"/"+order.String(), func(t *testing.T) {
				raw := methodReturn(t, order, 77, tc.body...)
				m, err := readMessage(bufio.NewReader(bytes.NewReader(raw)))
				if err != nil {
					t.Fatal(err)
				}
				if m.typ != msgMethodReturn || m.replySerial != 77 {
					t.Errorf("type %d reply serial %d", m.typ, m.replySerial)
				}
				got, err := m.values()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("values = %#v\nwant %#v", got, tc.want)
				}
			})
		}
	}
}

// What appendCall writes, godbus reads back as the same call.
func TestAppendCallIsWhatGodbusReads(t *testing.T) {
	c := call{dest: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1", iface: "org.freedesktop.systemd1.Manager",
		member: "ListUnitsByNames", args: []any{"x", []string{"a.service", "bé.service", ""}, []string{}, "y"}}
	b, err := appendCall(nil, 9, c)
	if err != nil {
		t.Fatal(err)
	}
	b, err = appendCall(b, 10, call{path: "/org/freedesktop/DBus", member: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(b)
	m, err := godbus.DecodeMessage(r)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != godbus.TypeMethodCall || m.Serial() != 9 {
		t.Errorf("type %v serial %d", m.Type, m.Serial())
	}
	for f, want := range map[godbus.HeaderField]any{
		godbus.FieldDestination: c.dest, godbus.FieldPath: godbus.ObjectPath(c.path), godbus.FieldInterface: c.iface,
		godbus.FieldMember: c.member, godbus.FieldSignature: godbus.SignatureOf("", []string{}, []string{}, ""),
	} {
		if got := m.Headers[f].Value(); !reflect.DeepEqual(got, want) {
			t.Errorf("header %d = %#v, want %#v", f, got, want)
		}
	}
	if want := []any{"x", []string{"a.service", "bé.service", ""}, []string{}, "y"}; !reflect.DeepEqual(m.Body, want) {
		t.Errorf("body = %#v, want %#v", m.Body, want)
	}
	m, err = godbus.DecodeMessage(r)
	if err != nil || m.Serial() != 10 || len(m.Body) != 0 || m.Headers[godbus.FieldMember].Value() != "Hello" {
		t.Errorf("second call: %v, %v", m, err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left over", r.Len())
	}
}

// A message that breaks the format is an error, never a panic, never a
// huge allocation: lengths are checked against what is there.
func TestReadMessageRefusesBrokenMessages(t *testing.T) {
	good := methodReturn(t, binary.LittleEndian, 1, godbus.MakeVariant([]string{"a", "b"}))
	set := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for name, raw := range map[string][]byte{
		"endianness":            append([]byte{'x'}, good[1:]...),
		"version":               append(append([]byte{}, good[:3]...), append([]byte{2}, good[4:]...)...),
		"body of 4 GiB":         set(4, 0xffffffff),
		"header fields of 4GiB": set(12, 0xfffffff0),
		"cut short":             good[:len(good)-3],
		"body longer than said": set(4, binary.LittleEndian.Uint32(good[4:])-4),
		"nothing":               {},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := readMessage(bufio.NewReader(bytes.NewReader(raw)))
			if err == nil {
				_, err = m.values()
			}
			if err == nil {
				t.Fatal("read without an error")
			}
		})
	}
	for name, sig := range map[string]string{
		"unknown code": "z", "open struct": "(s", "empty struct": "()", "dict of three": "{sss}",
		"too deep": strings.Repeat("a", maxDepth+2) + "s",
	} {
		if _, _, err := nextType(sig, 0); err == nil {
			t.Errorf("%s: signature %q accepted", name, sig)
		}
	}
}

// FuzzReadMessage: any bytes read either decode or fail; nothing panics.
func FuzzReadMessage(f *testing.F) {
	f.Add(methodReturn(f, binary.LittleEndian, 1, godbus.MakeVariant([]string{"a"})))
	f.Add(methodReturn(f, binary.BigEndian, 2, []execStartValue{{Path: "/x", Argv: []string{"x"}}}))
	f.Add(methodReturn(f, binary.LittleEndian, 3, map[string]godbus.Variant{"k": godbus.MakeVariant(int64(1))}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := readMessage(bufio.NewReader(bytes.NewReader(raw)))
		if err == nil {
			m.values()
		}
	})
}

// fakePeer is a manager on a socket: it accepts the one-write handshake,
// then hands each flight of calls to answer, which writes what it likes.
func fakePeer(t *testing.T, answer func(w io.Writer, calls []*godbus.Message)) Endpoint {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "private")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for _, want := range []string{"\x00AUTH EXTERNAL", "BEGIN"} {
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, want) {
				return
			}
		}
		io.WriteString(c, "OK 0123456789abcdef0123456789abcdef\r\n")
		for {
			var calls []*godbus.Message
			for len(calls) == 0 || r.Buffered() > 0 {
				m, err := godbus.DecodeMessage(r)
				if err != nil {
					return
				}
				calls = append(calls, m)
			}
			answer(c, calls)
		}
	}()
	return Endpoint{Address: "unix:path=" + sock, Socket: sock, Private: true}
}

// Answers arrive in any order, with signals between them (the manager
// sends every private connection its signals), and two callers waiting at
// once each get their own.
func TestWireConnMatchesAnswersToCalls(t *testing.T) {
	ep := fakePeer(t, func(w io.Writer, calls []*godbus.Message) {
		var out []byte
		signal := godbusMessage(t, godbus.TypeSignal, map[godbus.HeaderField]godbus.Variant{
			godbus.FieldPath: godbus.MakeVariant(godbus.ObjectPath("/org/freedesktop/systemd1")), godbus.FieldInterface: godbus.MakeVariant("org.freedesktop.systemd1.Manager"),
			godbus.FieldMember: godbus.MakeVariant("JobRemoved")}, binary.LittleEndian, uint32(1), godbus.ObjectPath("/j"), "x.service", "done")
		for i := len(calls) - 1; i >= 0; i-- { // last first
			c := calls[i]
			out = append(out, signal...)
			if c.Body[1] == "Broken" {
				out = append(out, godbusMessage(t, godbus.TypeError, map[godbus.HeaderField]godbus.Variant{
					godbus.FieldReplySerial: godbus.MakeVariant(c.Serial()), godbus.FieldErrorName: godbus.MakeVariant("org.freedesktop.DBus.Error.UnknownProperty")},
					binary.LittleEndian, "no such property")...)
				continue
			}
			out = append(out, methodReturn(t, binary.BigEndian, c.Serial(), godbus.MakeVariant(c.Body[1].(string)+"!"))...)
		}
		w.Write(out)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := dialWire(ctx, ep, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	get := func(prop string) call {
		return call{path: "/u", iface: "org.freedesktop.DBus.Properties", member: "Get", args: []any{"i", prop}}
	}
	errs := make(chan error, 2)
	for _, props := range [][]string{{"A", "B", "Broken", "C"}, {"D", "E"}} {
		go func() {
			var calls []call
			for _, p := range props {
				calls = append(calls, get(p))
			}
			answers, err := w.roundTrip(ctx, calls)
			if err != nil {
				errs <- err
				return
			}
			for i, m := range answers {
				v, err := answerValue(m, "v")
				switch {
				case props[i] == "Broken":
					if err == nil || err.Error() != "org.freedesktop.DBus.Error.UnknownProperty: no such property" {
						errs <- errors.New("the error answer: " + errString(err))
						return
					}
				case err != nil || v != props[i]+"!":
					errs <- errors.New("answer to " + props[i] + ": " + errString(err))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if !w.connected() {
		t.Error("connection closed after the answers")
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// A manager that never answers holds a read only until the caller's
// context ends, and the connection is then closed for good.
func TestWireConnGivesUpWithItsContext(t *testing.T) {
	ep := fakePeer(t, func(io.Writer, []*godbus.Message) {})
	w, err := dialWire(context.Background(), ep, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = w.roundTrip(ctx, []call{{path: "/", member: "Ping"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the context's", err)
	}
	if w.connected() {
		t.Error("still connected after a read was cut")
	}
	if _, err := w.roundTrip(context.Background(), []call{{path: "/", member: "Ping"}}); err == nil || !strings.Contains(err.Error(), "connection closed") {
		t.Errorf("a later call: %v, want the closed connection's error", err)
	}
}

// On a bus the connection says Hello, and a bus that answers it with an
// error is a failed dial, not a connection.
func TestDialWireRefusedHello(t *testing.T) {
	ep := fakePeer(t, func(w io.Writer, calls []*godbus.Message) {
		w.Write(godbusMessage(t, godbus.TypeError, map[godbus.HeaderField]godbus.Variant{
			godbus.FieldReplySerial: godbus.MakeVariant(calls[0].Serial()), godbus.FieldErrorName: godbus.MakeVariant("org.freedesktop.DBus.Error.AccessDenied")},
			binary.LittleEndian, "not you"))
	})
	ep.Private = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := dialWire(ctx, ep, 1000)
	if err == nil {
		w.close()
		t.Fatal("a refused Hello dialled")
	}
	if !strings.Contains(err.Error(), "hello: org.freedesktop.DBus.Error.AccessDenied: not you") {
		t.Errorf("err = %v", err)
	}
}

// A signal is skipped whole, its body never decoded, and the reply after
// it reads as if it had not been there.
func TestReadMessageSkipsASignal(t *testing.T) {
	signal := godbusMessage(t, godbus.TypeSignal, map[godbus.HeaderField]godbus.Variant{
		godbus.FieldPath:      godbus.MakeVariant(godbus.ObjectPath("/org/freedesktop/systemd1")),
		godbus.FieldInterface: godbus.MakeVariant("org.freedesktop.systemd1.Manager"),
		godbus.FieldMember:    godbus.MakeVariant("UnitNew"),
	}, binary.LittleEndian, "parachute-hub.service", godbus.ObjectPath("/org/freedesktop/systemd1/unit/x"))
	r := bufio.NewReader(bytes.NewReader(append(signal, methodReturn(t, binary.LittleEndian, 9, "ok")...)))
	m, err := readMessage(r)
	if err != nil || m.typ != byte(godbus.TypeSignal) || m.body != nil {
		t.Fatalf("the signal: %+v, %v; want its type only", m, err)
	}
	m, err = readMessage(r)
	if err != nil || m.typ != msgMethodReturn || m.replySerial != 9 {
		t.Fatalf("the reply after it: %+v, %v", m, err)
	}
	if got, err := m.values(); err != nil || !reflect.DeepEqual(got, []any{"ok"}) {
		t.Errorf("its values: %v, %v", got, err)
	}
}
