package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/state"
)

// The generated encoders print what json.NewEncoder(w).Encode prints, for
// values filled at random through reflection: every exported field of
// every struct under the root, so a field added to any of them and not
// regenerated (zz_json.go) makes this fail.
func TestJSONEncodersMatchEncodingJSON(t *testing.T) {
	t.Run("Document", func(t *testing.T) { checkEncoder(t, appendDocument) })
	t.Run("ObserveDocument", func(t *testing.T) { checkEncoder(t, appendObserveDocument) })
	t.Run("Event", func(t *testing.T) {
		checkEncoder(t, func(b []byte, v *actuate.Event) ([]byte, error) { return appendEvent(b, v), nil })
	})
}

// checkEncoder compares enc with encoding/json on random values of T,
// appended after random bytes (enc must keep them and not count on an
// empty buffer).
func checkEncoder[T any](t *testing.T, enc func([]byte, *T) ([]byte, error)) {
	rapid.Check(t, func(rt *rapid.T) {
		var v T
		fill(rt, reflect.ValueOf(&v).Elem(), "v", 0)
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 3).Draw(rt, "prefix")
		got, err := enc(bytes.Clone(prefix), &v)
		var want bytes.Buffer
		wantErr := json.NewEncoder(&want).Encode(v)
		if err != nil || wantErr != nil {
			if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
				rt.Fatalf("error %v, encoding/json's %v", err, wantErr)
			}
			return
		}
		if !bytes.HasPrefix(got, prefix) {
			rt.Fatalf("the bytes before the value changed: %q, want %q", got[:min(len(got), len(prefix))], prefix)
		}
		if got := append(got[len(prefix):], '\n'); !bytes.Equal(got, want.Bytes()) {
			i := 0
			for i < len(got) && i < want.Len() && got[i] == want.Bytes()[i] {
				i++
			}
			rt.Fatalf("differs from encoding/json at byte %d:\n got %s\nwant %s", i, excerpt(got, i), excerpt(want.Bytes(), i))
		}
	})
}

func excerpt(b []byte, i int) string {
	return string(b[max(0, i-80):min(len(b), i+80)])
}

var timeType = reflect.TypeFor[time.Time]()

// fill sets v, and every exported field, element and pointee under it, to
// a random value; path names it in rapid's draws. It fails the test on a
// kind it does not know, as jsongen refuses one: teach both.
func fill(t *rapid.T, v reflect.Value, path string, depth int) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(drawTime(t, path)))
		return
	}
	// The kinds jsongen implements; default fails the test on the others.
	//exhaustive:ignore
	switch v.Kind() {
	case reflect.Struct:
		// Now and then a zero struct, so that objects with every field
		// left out by omitempty, {} (a branch of its own in the
		// encoders), are checked: random fields are rarely all empty.
		if rapid.IntRange(0, 7).Draw(t, path+" zero") == 0 {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				fill(t, v.Field(i), path+"."+f.Name, depth)
			}
		}
	case reflect.String:
		v.SetString(jsonText().Draw(t, path))
	case reflect.Bool:
		v.SetBool(rapid.Bool().Draw(t, path))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		shift := 64 - v.Type().Bits()
		v.SetInt(rapid.Int64Range(math.MinInt64>>shift, math.MaxInt64>>shift).Draw(t, path))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(rapid.Uint64Range(0, math.MaxUint64>>(64-v.Type().Bits())).Draw(t, path))
	case reflect.Slice:
		// nil, empty or a few elements (fewer deep down: types recurse).
		n := rapid.IntRange(-1, max(0, 3-depth)).Draw(t, path+" len")
		if n < 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(t, v.Index(i), path+"[]", depth+1)
		}
	case reflect.Pointer:
		if depth > 3 || !rapid.Bool().Draw(t, path+" != nil") {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), "*"+path, depth+1)
	default:
		t.Fatalf("fill: %s is a %s (%s): teach this test, and jsongen, that kind", path, v.Type(), v.Kind())
	}
}

// jsonText draws strings that stress JSON string escaping: quotes,
// backslashes, control characters, <, > and &, U+2028 and U+2029, invalid
// UTF-8 (truncated sequences, surrogates, beyond U+10FFFF), U+FFFD itself,
// other non-ASCII, and anything rapid makes of runes and bytes.
func jsonText() *rapid.Generator[string] {
	piece := rapid.OneOf(
		rapid.SampledFrom([]string{
			`"`, `\`, "<", ">", "&", "\u2028", "\u2029", "\x00", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", "\x1b[31m",
			"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\ufffd", "é", "日本", "😀", "a", " ",
		}),
		rapid.String(),
		rapid.Map(rapid.SliceOfN(rapid.Byte(), 0, 6), func(b []byte) string { return string(b) }),
	)
	return rapid.Map(rapid.SliceOfN(piece, 0, 5), func(ps []string) string { return strings.Join(ps, "") })
}

// drawTime draws a time.Time that MarshalJSON accepts (years 0 to 9999,
// in its own zone): the zero time, or any instant to the nanosecond in UTC,
// Local or a fixed zone east or west of UTC, named or not.
func drawTime(t *rapid.T, path string) time.Time {
	if rapid.IntRange(0, 9).Draw(t, path+" zero") == 0 {
		return time.Time{}
	}
	const day = 24 * 60 * 60
	first := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + day
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() - day
	sec := rapid.Int64Range(first, last).Draw(t, path+" sec")
	nsec := rapid.OneOf(rapid.Just(int64(0)), rapid.SampledFrom([]int64{1, 500, 120_000_000, 999_999_999}),
		rapid.Int64Range(0, 999_999_999)).Draw(t, path+" nsec")
	offset := rapid.IntRange(-day+1, day-1).Draw(t, path+" offset")
	loc := rapid.SampledFrom([]*time.Location{time.UTC, time.Local, time.FixedZone("", offset),
		time.FixedZone("XST", offset), time.FixedZone("", offset/3600*3600)}).Draw(t, path+" zone")
	return time.Unix(sec, nsec).In(loc)
}

// A time.Time whose MarshalJSON fails (a year past 9999) fails the
// encoding as it does encoding/json's: the same *json.MarshalerError. The
// cases: a field flattened into ObserveDocument from its embedded
// snapshot, and fields of slice elements under each document. No root
// holds a pointer to a time.Time (jsongen refuses *time.Time).
func TestJSONEncoderErrors(t *testing.T) {
	late := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	obs := reconcile.ObserveDocument{Snapshot: state.Snapshot{Processes: []state.Process{{Pid: 1, Started: late}}}}
	_, err := appendObserveDocument(nil, &obs)
	sameError(t, err, obs)
	obs = reconcile.ObserveDocument{Snapshot: state.Snapshot{Taken: late}}
	_, err = appendObserveDocument(nil, &obs)
	sameError(t, err, obs)
	doc := reconcile.Document{Snapshot: state.Snapshot{Pidfiles: []state.Pidfile{{ModTime: late}}}}
	_, err = appendDocument(nil, &doc)
	sameError(t, err, doc)
}

func sameError(t *testing.T, err error, v any) {
	t.Helper()
	want := json.NewEncoder(io.Discard).Encode(v)
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("error %v, encoding/json's %v", err, want)
	}
	var got, wantM *json.MarshalerError
	if !errors.As(want, &wantM) || !errors.As(err, &got) || got.Type != wantM.Type {
		t.Errorf("error %#v, encoding/json's %#v", err, want)
	}
}

// zz_json.go is what jsongen prints now: a changed type, or a changed
// jsongen, not regenerated fails here.
func TestJSONEncodersGenerated(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out := filepath.Join(t.TempDir(), "zz_json.go")
	if msg, err := exec.Command(gobin, "run", "./jsongen", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("go run ./jsongen: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("zz_json.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("zz_json.go is not what jsongen prints now: run go generate ./internal/cli")
	}
}

// BenchmarkDocumentJSON encodes the golden cutover plan's document with
// the generated encoder and with encoding/json (its encoders built: the
// first encode in a process costs far more, see jsongen's doc).
func BenchmarkDocumentJSON(b *testing.B) {
	w := detachedWorld()
	snap := w.Snapshot()
	doc := reconcile.NewDocument(reconcile.Compute(goldenDesired(w), snap), snap)
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte // reused, as encoding/json reuses its buffers
		for b.Loop() {
			var err error
			if buf, err = appendDocument(buf[:0], &doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := json.NewEncoder(io.Discard).Encode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
