package spec

import (
	"math"
	"strings"
	"testing"
)

// The expected values below were checked against node's JSON.parse.
func TestParseJSNumbers(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		integer bool
	}{
		{"1940", 1940, true},
		{"1940.0", 1940, true},
		{"1.94e3", 1940, true},
		{"19.40e2", 1940, true},
		{"0.194e4", 1940, true},
		{"194E+1", 1940, true},
		{"1940.0000000000001", 1940, true}, // rounds to the double 1940
		{"1939.9999999999999", 1940, true},
		{"1940.000000000001", 1940.000000000001, false},
		{"65535.0000000000001", 65535, true},
		{"1e400", math.Inf(1), false},
		{"-1e400", math.Inf(-1), false},
		{"1e-400", 0, true},
		{"123456789012345678901234567890", 1.2345678901234568e29, true},
	}
	for _, tt := range tests {
		v, err := parseJS([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if v.kind != jsNumber || v.n != tt.want {
			t.Errorf("%s = %v (kind %d), want %v", tt.in, v.n, v.kind, tt.want)
		}
		if got := !math.IsInf(v.n, 0) && v.n == math.Trunc(v.n); got != tt.integer {
			t.Errorf("%s: Number.isInteger = %v, want %v", tt.in, got, tt.integer)
		}
	}
	v, err := parseJS([]byte("-0"))
	if err != nil || v.n != 0 || !math.Signbit(v.n) {
		t.Errorf("-0 = %v (signbit %v), %v; want negative zero", v.n, math.Signbit(v.n), err)
	}
}

func TestParseJSRejects(t *testing.T) {
	// Each of these makes JSON.parse throw.
	for _, in := range []string{
		"", "   ", "01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity",
		"[1,]", `{"a":1,}`, `{'a':1}`, `{a:1}`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"a\nb\"",
		"\uFEFF{}", "{}\u00a0", "\f{}", "\v{}", "{} x", "{}{}", "tru", "nul", `{"a" 1}`, `[1 2]`, `"abc`,
		"// c\n{}", "/* c */{}",
	} {
		if _, err := parseJS([]byte(in)); err == nil {
			t.Errorf("parseJS(%q) succeeded, want a syntax error", in)
		}
	}
}

func TestParseJSObjects(t *testing.T) {
	v, err := parseJS([]byte(`{"b":1,"2":1,"a":1,"1":1,"b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.entries(), ","); got != "1,2,b,a" {
		t.Errorf("entries = %s, want 1,2,b,a (JS property order)", got)
	}
	if b := v.get("b"); b == nil || b.n != 2 {
		t.Errorf("duplicate key b = %+v, want the last value 2", b)
	}
	if v.get("B") != nil {
		t.Error("get is case-insensitive; JSON.parse keys are exact")
	}
	if v.get("__proto__") != nil || v.get("constructor") != nil {
		t.Error("inherited properties must read as undefined")
	}
	arr, _ := parseJS([]byte(`[1]`))
	if arr.get("0") != nil || arr.get("length") != nil {
		t.Error("get on an array must be undefined for the row fields")
	}
}

func TestParseJSStrings(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte(`"a\/b\\c\"d\b\f\n\r\t"`), "a/b\\c\"d\b\f\n\r\t"},
		{[]byte(`"\u00e9\uD83D\uDE00"`), "é😀"},
		{[]byte(`"\u0000"`), "\x00"},
		// A lone surrogate stays distinct (WTF-8), so it is not valid UTF-8.
		{[]byte(`"\uD800"`), "\xED\xA0\x80"},
		{[]byte(`"\uDC00x"`), "\xED\xB0\x80x"},
		// Invalid UTF-8 in the file: WHATWG replacement, one U+FFFD per
		// maximal subpart (node: Buffer.from([...]).toString("utf8")).
		{[]byte("\"\xE2\x82\""), "\uFFFD"},
		{[]byte("\"\xFF\xFE\""), "\uFFFD\uFFFD"},
		{[]byte("\"\xED\xA0\x80\""), "\uFFFD\uFFFD\uFFFD"},
		{[]byte("\"\xF0\x9F\x98\""), "\uFFFD"},
	}
	for _, tt := range tests {
		v, err := parseJS(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if v.s != tt.want {
			t.Errorf("%q = %q, want %q", tt.in, v.s, tt.want)
		}
	}
}

func TestParseJSLinesAndDepth(t *testing.T) {
	v, err := parseJS([]byte("{\n  \"services\": [\n    {\"name\": \"a\"},\n\n    {\"name\": \"b\"}\n  ]\n}"))
	if err != nil {
		t.Fatal(err)
	}
	rows := v.get("services").arr
	if rows[0].line != 3 || rows[1].line != 5 {
		t.Errorf("row lines = %d, %d; want 3, 5", rows[0].line, rows[1].line)
	}
	_, err = parseJS([]byte("{\n\"a\": 1,\n\"b\": x\n}"))
	se, ok := err.(*jsonSyntaxError)
	if !ok || se.line != 3 {
		t.Errorf("syntax error = %v, want one on line 3", err)
	}
	deep := strings.Repeat("[", maxJSONDepth+2) + strings.Repeat("]", maxJSONDepth+2)
	if _, err := parseJS([]byte(deep)); err == nil {
		t.Error("nesting deeper than the limit parsed")
	}
	ok2 := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := parseJS([]byte(ok2)); err != nil {
		t.Errorf("100 levels: %v", err)
	}
}
