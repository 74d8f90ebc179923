// Command jsongen writes package cli's JSON encoders (zz_json.go): for
// each root type, and each struct type under it, an append function whose
// bytes are what json.NewEncoder(w).Encode(v) prints for the same value
// (HTML escaping on), without the trailing newline — and without building
// encoding/json's per-type encoders by reflection, which every process
// paid on its first document (1.1-1.5 ms of CPU in a ~21 ms cron tick,
// issue 11).
//
// It walks the real types with reflect at generate time and follows
// encoding/json's rules (encode.go: typeFields, dominantField,
// newTypeEncoder, isEmptyValue). What it does not implement it refuses,
// naming the type and field, so that a new kind of field fails `go
// generate` instead of encoding differently. Package cli's tests check
// the output against encoding/json on random values and check that the
// committed files are what jsongen prints now.
//
// Implemented: exported fields; json tag names, "-", and the omitempty and
// string options; embedded structs flattened with encoding/json's
// dominance rules; bools, ints, uints and strings, named or not; pointers
// and slices (nil is null); []byte as base64; encoding.TextMarshaler (value
// receiver); json.Marshaler for the types listed in compactMarshalers
// (time.Time). Refused: maps, interfaces, floats, arrays, channels and
// functions; the omitzero option and any option encoding/json ignores;
// embedded pointers and unexported embedded structs; Marshalers with a
// pointer receiver; json.Number; slices of a named byte type; unnamed
// structs and generic types.
//
// From internal/cli (see the go:generate lines in jsonstring.go):
//
//	go run ./jsongen -o zz_json.go
//	go run ./jsongen -fixture -o zz_jsonfixture_test.go
package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/internal/cli/jsongen/fixture"
	"github.com/parachute/reconcile/reconcile"
)

// roots are the documents and events `--output json` prints.
var roots = []reflect.Type{
	reflect.TypeFor[reconcile.Document](),
	reflect.TypeFor[reconcile.ObserveDocument](),
	reflect.TypeFor[actuate.Event](),
}

// fixtureRoots exercise what jsongen supports and the roots do not use
// (yet): package cli's tests encode them too.
var fixtureRoots = []reflect.Type{
	reflect.TypeFor[fixture.Root](),
}

func main() {
	out := flag.String("o", "", "the file to write (required)")
	fix := flag.Bool("fixture", false, "generate for the fixture types, not the roots")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: jsongen [-fixture] -o file.go")
		os.Exit(2)
	}
	rs, prefix := roots, "append"
	if *fix {
		rs, prefix = fixtureRoots, "appendFixture"
	}
	src, err := generate("cli", prefix, rs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsongen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "jsongen:", err)
		os.Exit(1)
	}
}
