package sdbus

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// The D-Bus wire format, as far as the reads need it: method calls with
// string and string-array arguments out, any message in. Every observation
// asks the manager the same dozen questions; godbus answers each through
// its reader goroutine, a reflective decoder and a channel hand-off, which
// cost a converged run more CPU than the rest of its D-Bus exchange
// (bench/README.md, round 4). The format is small and fixed: the
// specification's "Message Protocol" section is the whole of it.
//
// Everything read is the peer's: a message's declared size is bounded
// (maxHeader, maxMessage) before its buffer is allocated, and only a reply
// is allocated at all; lengths inside it are checked against what was
// read, nesting is bounded, and a message that breaks the format ends the
// connection with an error naming what was wrong.

// Message types and header fields (the specification's numbering).
const (
	msgMethodCall   = 1
	msgMethodReturn = 2
	msgError        = 3

	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSignature   = 8
)

// maxMessage bounds one message read: the largest answer a run asks for
// (the load states of every stale unit of a 500-module box) is some
// 100 KB; the specification's own limit is 128 MiB.
const maxMessage = 8 << 20

// maxHeader bounds a message's header fields, which are decoded for every
// message read (a handful of short strings in practice).
const maxHeader = 64 << 10

// maxDepth bounds the nesting of containers in a signature (the
// specification allows 32 arrays and 32 structs deep).
const maxDepth = 64

// errFormat wraps every violation of the wire format.
var errFormat = errors.New("malformed D-Bus message")

// A message is one message read: its type, the header fields a
// caller uses, and its body, still encoded: only the answers to our own
// calls are decoded (a signal anyone on a bus may send us is skipped
// unread).
type message struct {
	typ         byte
	replySerial uint32
	errorName   string
	signature   string
	body        []byte
	order       binary.ByteOrder
}

// values decodes the body by its signature. Values decode to: byte (y),
// bool (b), int16/uint16 (n/q), int32/uint32 (i/u/h), int64/uint64 (x/t),
// float64 (d), string (s/o/g), the variant's own value (v), []string for
// an array of strings, object paths or signatures, []byte for an array of
// bytes, [][]any for an array of structs or dict entries, []any for any
// other array, and []any for a struct.
func (m *message) values() ([]any, error) {
	d := &decoder{b: m.body, order: m.order}
	var out []any
	for sig := m.signature; sig != ""; {
		one, rest, err := nextType(sig, 0)
		if err != nil {
			return nil, err
		}
		v, err := d.value(one, 0)
		if err != nil {
			return nil, err
		}
		out, sig = append(out, v), rest
	}
	if d.pos != len(d.b) {
		return nil, fmt.Errorf("%w: %d bytes after the body's values", errFormat, len(d.b)-d.pos)
	}
	return out, nil
}

// readMessage reads one message from r and its header fields; the body is
// kept as it came (message.values decodes it).
func readMessage(r *bufio.Reader) (*message, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, err
	}
	var order binary.ByteOrder
	switch fixed[0] {
	case 'l':
		order = binary.LittleEndian
	case 'B':
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: endianness byte %q", errFormat, fixed[0])
	}
	if fixed[3] != 1 {
		return nil, fmt.Errorf("%w: protocol version %d", errFormat, fixed[3])
	}
	bodyLen := uint64(order.Uint32(fixed[4:8]))
	fieldsLen := uint64(order.Uint32(fixed[12:16]))
	if fieldsLen > maxHeader {
		return nil, fmt.Errorf("%w: header fields of %d bytes (the limit is %d)", errFormat, fieldsLen, maxHeader)
	}
	headerLen := 16 + fieldsLen
	headerLen += pad(int(headerLen%8), 8)
	if headerLen+bodyLen > maxMessage {
		return nil, fmt.Errorf("%w: a message of %d bytes (the limit is %d)", errFormat, headerLen+bodyLen, maxMessage)
	}
	if fixed[1] != msgMethodReturn && fixed[1] != msgError {
		// A signal (the manager sends every connection its own), or a call:
		// nobody here reads it, so it is skipped, not allocated and decoded.
		if _, err := r.Discard(int(headerLen - 16 + bodyLen)); err != nil {
			return nil, fmt.Errorf("%w: cut short: %v", errFormat, err)
		}
		return &message{typ: fixed[1], order: order}, nil
	}
	buf := make([]byte, headerLen+bodyLen)
	copy(buf, fixed[:])
	if _, err := io.ReadFull(r, buf[16:]); err != nil {
		return nil, fmt.Errorf("%w: cut short: %v", errFormat, err)
	}
	m := &message{typ: fixed[1], body: buf[headerLen:], order: order}
	d := &decoder{b: buf[:16+fieldsLen], pos: 12, order: order}
	fields, err := d.value("a(yv)", 0)
	if err != nil {
		return nil, err
	}
	for _, f := range fields.([][]any) {
		code, _ := f[0].(byte)
		switch v := f[1]; code {
		case fieldReplySerial:
			m.replySerial, _ = v.(uint32)
		case fieldErrorName:
			m.errorName, _ = v.(string)
		case fieldSignature:
			m.signature, _ = v.(string)
		}
	}
	return m, nil
}

// pad is how many bytes take off to the next multiple of n.
func pad(off, n int) uint64 { return uint64((n - off%n) % n) }

// nextType splits the first complete type off sig.
func nextType(sig string, depth int) (one, rest string, err error) {
	if depth > maxDepth {
		return "", "", fmt.Errorf("%w: signature nested deeper than %d", errFormat, maxDepth)
	}
	if sig == "" {
		return "", "", fmt.Errorf("%w: signature ends inside a type", errFormat)
	}
	switch c := sig[0]; c {
	case 'y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'h', 's', 'o', 'g', 'v':
		return sig[:1], sig[1:], nil
	case 'a':
		elem, rest, err := nextType(sig[1:], depth+1)
		return sig[:1+len(elem)], rest, err // a slice of sig: no string built
	case '(', '{':
		end := byte(')')
		if c == '{' {
			end = '}'
		}
		i, n := 1, 0
		for i < len(sig) && sig[i] != end {
			var one string
			if one, _, err = nextType(sig[i:], depth+1); err != nil {
				return "", "", err
			}
			i += len(one)
			n++
		}
		if i >= len(sig) || n == 0 || (c == '{' && n != 2) {
			return "", "", fmt.Errorf("%w: bad container in signature %q", errFormat, sig)
		}
		return sig[:i+1], sig[i+1:], nil
	}
	return "", "", fmt.Errorf("%w: signature %q: unknown type code %q", errFormat, sig, sig[0])
}

// alignment is the alignment of a value of type code c.
func alignment(c byte) int {
	switch c {
	case 'n', 'q':
		return 2
	case 'b', 'i', 'u', 'h', 's', 'o', 'a':
		return 4
	case 'x', 't', 'd', '(', '{':
		return 8
	}
	return 1 // y, g, v
}

// A decoder reads values from b, which is aligned as the message is (b[0]
// is at a multiple of 8 from the message's start).
type decoder struct {
	b     []byte
	pos   int
	order binary.ByteOrder
}

func (d *decoder) align(n int) error {
	p := d.pos + int(pad(d.pos, n))
	if p > len(d.b) {
		return fmt.Errorf("%w: padding past the end", errFormat)
	}
	d.pos = p
	return nil
}

// take returns the next n bytes.
func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.pos {
		return nil, fmt.Errorf("%w: a value runs past the end", errFormat)
	}
	p := d.b[d.pos : d.pos+n]
	d.pos += n
	return p, nil
}

// fixed reads an aligned n-byte number.
func (d *decoder) fixed(n int) (uint64, error) {
	if err := d.align(n); err != nil {
		return 0, err
	}
	p, err := d.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(d.order.Uint16(p)), nil
	case 4:
		return uint64(d.order.Uint32(p)), nil
	}
	return d.order.Uint64(p), nil
}

// str reads a string whose length is an n-byte number, and its NUL.
func (d *decoder) str(n int) (string, error) {
	l, err := d.fixed(n)
	if err != nil {
		return "", err
	}
	if l > uint64(len(d.b)) {
		return "", fmt.Errorf("%w: a string runs past the end", errFormat)
	}
	p, err := d.take(int(l) + 1)
	if err != nil {
		return "", err
	}
	if p[l] != 0 {
		return "", fmt.Errorf("%w: a string without its NUL", errFormat)
	}
	if !utf8.Valid(p[:l]) {
		return "", fmt.Errorf("%w: a string that is not UTF-8", errFormat)
	}
	return string(p[:l]), nil
}

// value decodes one value of the complete type sig.
func (d *decoder) value(sig string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: values nested deeper than %d", errFormat, maxDepth)
	}
	switch sig[0] {
	case 'y':
		n, err := d.fixed(1)
		return byte(n), err
	case 'b':
		n, err := d.fixed(4)
		if err == nil && n > 1 {
			err = fmt.Errorf("%w: boolean %d", errFormat, n)
		}
		return n == 1, err
	case 'n':
		n, err := d.fixed(2)
		return int16(n), err
	case 'q':
		n, err := d.fixed(2)
		return uint16(n), err
	case 'i':
		n, err := d.fixed(4)
		return int32(n), err
	case 'u', 'h':
		n, err := d.fixed(4)
		return uint32(n), err
	case 'x':
		n, err := d.fixed(8)
		return int64(n), err
	case 't':
		n, err := d.fixed(8)
		return n, err
	case 'd':
		n, err := d.fixed(8)
		return math.Float64frombits(n), err
	case 's', 'o':
		return d.str(4)
	case 'g':
		return d.str(1)
	case 'v':
		return d.variant(depth)
	case 'a':
		return d.array(sig[1:], depth)
	case '(', '{':
		return d.fields(sig[1:len(sig)-1], depth)
	}
	return nil, fmt.Errorf("%w: unknown type code %q", errFormat, sig[0])
}

func (d *decoder) variant(depth int) (any, error) {
	sig, err := d.str(1)
	if err != nil {
		return nil, err
	}
	one, rest, err := nextType(sig, depth)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("%w: a variant of more than one type (%q)", errFormat, sig)
	}
	return d.value(one, depth+1)
}

func (d *decoder) fields(sig string, depth int) ([]any, error) {
	if err := d.align(8); err != nil {
		return nil, err
	}
	var out []any
	for sig != "" {
		one, rest, err := nextType(sig, depth)
		if err != nil {
			return nil, err
		}
		v, err := d.value(one, depth+1)
		if err != nil {
			return nil, err
		}
		out, sig = append(out, v), rest
	}
	return out, nil
}

func (d *decoder) array(elem string, depth int) (any, error) {
	n, err := d.fixed(4)
	if err != nil {
		return nil, err
	}
	if err := d.align(alignment(elem[0])); err != nil {
		return nil, err
	}
	if n > uint64(len(d.b)-d.pos) {
		return nil, fmt.Errorf("%w: an array runs past the end", errFormat)
	}
	end := d.pos + int(n)
	// The Go type of the array follows from its element's signature alone:
	// []string, []byte, [][]any for structs and dict entries, else []any
	// (a variant's values whatever they hold).
	switch elem[0] {
	case 's', 'o', 'g':
		return collect[string](d, elem, depth, end)
	case 'y':
		return collect[byte](d, elem, depth, end)
	case '(', '{':
		return collect[[]any](d, elem, depth, end)
	}
	return collect[any](d, elem, depth, end)
}

// collect decodes elements of type elem up to end, each a T (what value
// returns for elem).
func collect[T any](d *decoder, elem string, depth, end int) ([]T, error) {
	var out []T
	for d.pos < end {
		v, err := d.value(elem, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v.(T))
	}
	if d.pos != end {
		return nil, fmt.Errorf("%w: an array's last element runs past its length", errFormat)
	}
	return out, nil
}

// An encoder writes a little-endian message into b.
type encoder struct{ b []byte }

func (e *encoder) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) u32(v uint32) {
	e.align(4)
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}

func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(append(e.b, s...), 0)
}

func (e *encoder) sig(s string) {
	e.b = append(append(append(e.b, byte(len(s))), s...), 0)
}

// strings writes an array of strings (as).
func (e *encoder) strings(ss []string) {
	e.u32(0)
	at := len(e.b) - 4
	start := len(e.b) // a string's alignment, 4, is the length's own
	for _, s := range ss {
		e.str(s)
	}
	binary.LittleEndian.PutUint32(e.b[at:], uint32(len(e.b)-start))
}

// A call is one method call to send: its arguments are strings (one "s"
// each) or string arrays ("as").
type call struct {
	dest, path, iface, member string
	args                      []any // string or []string
}

// appendCall encodes c with the given serial onto b. The caller expects
// a reply (no flags).
func appendCall(b []byte, serial uint32, c call) ([]byte, error) {
	var sig []byte
	for _, a := range c.args {
		switch a.(type) {
		case string:
			sig = append(sig, 's')
		case []string:
			sig = append(sig, 'a', 's')
		default:
			return b, fmt.Errorf("sdbus: argument of type %T", a)
		}
	}
	e := &encoder{b: make([]byte, 0, 256)}
	e.b = append(e.b, 'l', msgMethodCall, 0, 1, 0, 0, 0, 0)
	e.b = binary.LittleEndian.AppendUint32(e.b, serial)
	e.u32(0) // the fields' length, set below
	field := func(code byte, typ string, v string) {
		e.align(8)
		e.b = append(e.b, code)
		e.sig(typ)
		if typ == "g" {
			e.sig(v)
		} else {
			e.str(v)
		}
	}
	field(fieldPath, "o", c.path)
	if c.iface != "" {
		field(fieldInterface, "s", c.iface)
	}
	field(fieldMember, "s", c.member)
	if c.dest != "" {
		field(fieldDestination, "s", c.dest)
	}
	if len(sig) > 0 {
		field(fieldSignature, "g", string(sig))
	}
	binary.LittleEndian.PutUint32(e.b[12:], uint32(len(e.b)-16))
	e.align(8)
	bodyStart := len(e.b)
	for _, a := range c.args {
		switch a := a.(type) {
		case string:
			e.str(a)
		case []string:
			e.strings(a)
		}
	}
	binary.LittleEndian.PutUint32(e.b[4:], uint32(len(e.b)-bodyStart))
	return append(b, e.b...), nil
}
