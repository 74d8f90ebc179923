package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a small JSON reader with the semantics of JavaScript's
// JSON.parse, because services.json is written and read by the hub with
// JSON.parse and its rules are what "valid" means. encoding/json differs in
// ways that change which rows survive:
//
//   - it matches struct fields case-insensitively ("Port" fills Port);
//   - it cannot tell a duplicate key from a single one (JSON.parse keeps the
//     last occurrence, and so do we);
//   - its numbers are not JavaScript numbers (1940.0 and 1.94e3 are the
//     integer 1940 in JS; 1e400 is Infinity, not an error).
//
// Only what the readers need is modelled: values carry the 1-based line they
// start on, objects keep JavaScript property order.

// jsKind is the JavaScript type of a parsed JSON value.
type jsKind uint8

const (
	jsNull jsKind = iota
	jsBool
	jsNumber
	jsString
	jsArray
	jsObject
)

// jsValue is one parsed JSON value.
type jsValue struct {
	kind  jsKind
	line  int
	b     bool
	n     float64
	s     string
	arr   []*jsValue
	keys  []string // property names in first-insertion order
	props map[string]*jsValue
}

// get returns the own property key of an object, or nil (JavaScript's
// undefined) when v is not an object or has no such property.
func (v *jsValue) get(key string) *jsValue {
	if v == nil || v.kind != jsObject {
		return nil
	}
	return v.props[key]
}

// str returns v's string value and whether v is a string.
func (v *jsValue) str() (string, bool) {
	if v == nil || v.kind != jsString {
		return "", false
	}
	return v.s, true
}

// entries returns an object's keys in the order Object.entries yields them:
// array-index keys ascending, then the others in insertion order.
func (v *jsValue) entries() []string {
	if v == nil || v.kind != jsObject {
		return nil
	}
	var idx []string
	var rest []string
	for _, k := range v.keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	// Insertion sort by numeric value: index keys are rare and few.
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && arrayIndex(idx[j]) < arrayIndex(idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return append(idx, rest...)
}

// isArrayIndex reports whether k is a canonical array index (0..2^32-2), the
// property names JavaScript orders first.
func isArrayIndex(k string) bool {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	n, err := strconv.ParseUint(k, 10, 64)
	return err == nil && n < 1<<32-1
}

func arrayIndex(k string) uint64 {
	n, _ := strconv.ParseUint(k, 10, 64)
	return n
}

// describe renders v for a message: the value itself when short, and what
// kind of thing it is when the kind is the problem.
func describe(v *jsValue) string {
	if v == nil {
		return "missing"
	}
	switch v.kind {
	case jsNull:
		return "null"
	case jsBool:
		return strconv.FormatBool(v.b)
	case jsNumber:
		return formatJSNumber(v.n)
	case jsString:
		s := v.s
		if utf8.RuneCountInString(s) > 60 {
			s = string([]rune(s)[:57]) + "..."
		}
		return strconv.Quote(s) + " (a string)"
	case jsArray:
		return fmt.Sprintf("an array of %d", len(v.arr))
	case jsObject:
		return "an object"
	default:
		panic(fmt.Sprintf("spec: unknown JSON kind %d", v.kind))
	}
}

// formatJSNumber formats n roughly as JavaScript's String(n) does.
func formatJSNumber(n float64) string {
	switch {
	case n != n:
		return "NaN"
	case n > 1.7976931348623157e308:
		return "Infinity"
	case n < -1.7976931348623157e308:
		return "-Infinity"
	case n == 0:
		return "0"
	}
	return strconv.FormatFloat(n, 'g', -1, 64)
}

// jsonSyntaxError is a JSON.parse failure with the line it happened on.
type jsonSyntaxError struct {
	line int
	msg  string
}

func (e *jsonSyntaxError) Error() string { return e.msg }

// maxJSONDepth bounds nesting. JavaScript engines fail somewhere in the
// thousands (a RangeError the hub reads as "unparseable"); so do we, before
// Go's stack is at risk.
const maxJSONDepth = 10000

// parseJS parses data as JSON.parse(readFileSync(path, "utf8")) would:
// bytes that are not UTF-8 become U+FFFD first (the WHATWG decoder, which
// Node and Bun use), then strict JSON with only space, tab, CR and LF as
// whitespace, no byte-order mark, and the last of duplicate keys winning.
// A \u escape of a lone surrogate is kept distinct by encoding it as
// WTF-8, so such strings are not valid UTF-8 (callers check).
func parseJS(data []byte) (*jsValue, error) {
	p := &jsParser{src: decodeUTF8Lossy(data), line: 1}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errorf("the file is empty (no JSON value)")
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errorf("unexpected %s after the end of the JSON value", p.here())
	}
	return v, nil
}

type jsParser struct {
	src  string
	pos  int
	line int
}

func (p *jsParser) errorf(format string, args ...any) error {
	return &jsonSyntaxError{line: p.line, msg: fmt.Sprintf(format, args...)}
}

// here names the character at the current position for a message.
func (p *jsParser) here() string {
	if p.pos >= len(p.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	if r == '\uFEFF' {
		return "byte-order mark (U+FEFF)"
	}
	return fmt.Sprintf("character %q", r)
}

func (p *jsParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '\n':
			p.line++
		case ' ', '\t', '\r':
		default:
			return
		}
		p.pos++
	}
}

func (p *jsParser) value(depth int) (*jsValue, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nested more than %d levels deep", maxJSONDepth)
	}
	if p.pos >= len(p.src) {
		return nil, p.errorf("unexpected end of file, expected a value")
	}
	line := p.line
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jsValue{kind: jsString, line: line, s: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case strings.HasPrefix(p.src[p.pos:], "true"):
		p.pos += 4
		return &jsValue{kind: jsBool, line: line, b: true}, nil
	case strings.HasPrefix(p.src[p.pos:], "false"):
		p.pos += 5
		return &jsValue{kind: jsBool, line: line}, nil
	case strings.HasPrefix(p.src[p.pos:], "null"):
		p.pos += 4
		return &jsValue{kind: jsNull, line: line}, nil
	default:
		return nil, p.errorf("unexpected %s, expected a value", p.here())
	}
}

func (p *jsParser) object(depth int) (*jsValue, error) {
	v := &jsValue{kind: jsObject, line: p.line, props: map[string]*jsValue{}}
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return nil, p.errorf("unexpected %s, expected a property name in double quotes", p.here())
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("unexpected %s, expected ':' after property name %q", p.here(), key)
		}
		p.pos++
		p.skipSpace()
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		// JSON.parse defines each property in turn, so a repeated key keeps
		// its first position and its last value.
		if _, dup := v.props[key]; !dup {
			v.keys = append(v.keys, key)
		}
		v.props[key] = val
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errorf("unexpected end of file, expected ',' or '}'")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return nil, p.errorf("unexpected %s, expected ',' or '}'", p.here())
		}
	}
}

func (p *jsParser) array(depth int) (*jsValue, error) {
	v := &jsValue{kind: jsArray, line: p.line}
	p.pos++ // [
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		el, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, el)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errorf("unexpected end of file, expected ',' or ']'")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return nil, p.errorf("unexpected %s, expected ',' or ']'", p.here())
		}
	}
}

// number scans the JSON number grammar exactly, then converts with
// ParseFloat, which rounds correctly as JavaScript does. Out-of-range values
// become ±Infinity or zero, as in JavaScript; neither is an error here.
func (p *jsParser) number() (*jsValue, error) {
	start, line := p.pos, p.line
	s := p.src
	i := p.pos
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, p.errorf("unexpected %s in a number, expected a digit", p.here())
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			p.pos = i
			return nil, p.errorf("unexpected %s in a number, expected a digit after '.'", p.here())
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			p.pos = i
			return nil, p.errorf("unexpected %s in a number, expected a digit in the exponent", p.here())
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	p.pos = i
	n, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return nil, p.errorf("invalid number %q", s[start:i])
		}
		// ErrRange: n is already ±Inf (overflow) or 0 (underflow).
	}
	return &jsValue{kind: jsNumber, line: line, n: n}, nil
}

// string scans a JSON string starting at the opening quote.
func (p *jsParser) string() (string, error) {
	p.pos++ // opening quote
	// Fast path: no escapes, so the value is a slice of the source.
	for i := p.pos; i < len(p.src); i++ {
		c := p.src[i]
		if c == '"' {
			s := p.src[p.pos:i]
			p.pos = i + 1
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			return "", p.errorf("unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("unescaped control character %q in a string", rune(c))
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(p.src) {
			return "", p.errorf("unterminated string")
		}
		e := p.src[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			u, err := p.hex4()
			if err != nil {
				return "", err
			}
			if u >= 0xD800 && u <= 0xDBFF && strings.HasPrefix(p.src[p.pos:], `\u`) {
				save := p.pos
				p.pos += 2
				lo, err := p.hex4()
				if err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
					b.WriteRune(rune((u-0xD800)<<10 + (lo - 0xDC00) + 0x10000))
					continue
				}
				p.pos = save
			}
			writeWTF8(&b, u)
		default:
			p.pos--
			return "", p.errorf("invalid escape %s in a string", p.here())
		}
	}
}

func (p *jsParser) hex4() (uint32, error) {
	if p.pos+4 > len(p.src) {
		return 0, p.errorf("incomplete \\u escape in a string")
	}
	var n uint32
	for _, c := range []byte(p.src[p.pos : p.pos+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, p.errorf("invalid \\u escape %q in a string", p.src[p.pos:p.pos+4])
		}
		n = n<<4 | uint32(d)
	}
	p.pos += 4
	return n, nil
}

// writeWTF8 writes a UTF-16 code unit that is not part of a pair. Surrogates
// get their generalized UTF-8 bytes, which Go's encoder would otherwise
// collapse to U+FFFD, so that two different lone surrogates stay different.
func writeWTF8(b *strings.Builder, u uint32) {
	if u < 0xD800 || u > 0xDFFF {
		b.WriteRune(rune(u))
		return
	}
	b.WriteByte(byte(0xE0 | u>>12))
	b.WriteByte(byte(0x80 | (u>>6)&0x3F))
	b.WriteByte(byte(0x80 | u&0x3F))
}

// decodeUTF8Lossy decodes data as the WHATWG UTF-8 decoder does (Node's and
// Bun's readFileSync(path, "utf8")): each maximal invalid subpart becomes one
// U+FFFD. A byte-order mark is kept (JSON.parse then rejects it).
func decodeUTF8Lossy(data []byte) string {
	if utf8.Valid(data) {
		return string(data)
	}
	var b strings.Builder
	b.Grow(len(data) + 16)
	for i := 0; i < len(data); {
		c := data[i]
		if c < 0x80 {
			b.WriteByte(c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lo = 0xA0
			} else if c == 0xED {
				hi = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
		default:
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j, ok := i+1, true
		for k := 0; k < need; k++ {
			if j >= len(data) {
				ok = false
				break
			}
			cc := data[j]
			if (k == 0 && (cc < lo || cc > hi)) || (k > 0 && (cc < 0x80 || cc > 0xBF)) {
				ok = false
				break
			}
			j++
		}
		if ok {
			b.Write(data[i:j])
		} else {
			b.WriteRune(utf8.RuneError)
		}
		i = j
	}
	return b.String()
}
