// Command jsongen writes package cli's JSON encoders (zz_json.go): for
// each root type, and each struct type under it, an append function whose
// bytes are what json.NewEncoder(w).Encode(v) prints for the same value
// (HTML escaping on), without the trailing newline — and without building
// encoding/json's per-type encoders by reflection, which every process
// paid on its first document (1.1-1.5 ms of CPU in a ~21 ms cron tick,
// issue 11).
//
// It walks the roots' types with reflect at generate time and implements
// what they use, as encoding/json encodes it (encode.go: typeFields,
// newTypeEncoder, isEmptyValue), and nothing more: anything else fails
// `go generate`, naming the type, the field and the reason, instead of
// encoding differently. Package cli's tests check the output against
// encoding/json on random values of the roots and check that the
// committed file is what jsongen prints now.
//
// Implemented: exported fields (unexported ones and those tagged "-" are
// left out), keyed by their json tag name or Go name, either made of ASCII
// letters, digits and _; omitempty on bools, ints, uints, strings, slices
// and pointers; named exported structs embedded without a tag, their
// fields flattened in field order (written by one function,
// append<T>Fields, that T's own function and its embedders' call); bools,
// ints, uints and strings, named or not; named exported structs; slices
// (not of bytes) and pointers to structs and to scalars, nil as null;
// time.Time by its MarshalJSON (see compactMarshalers).
//
// Refused: maps, interfaces, floats, arrays, channels and functions;
// slices of bytes (base64); pointers to pointers, to slices and to
// Marshalers; json.Number; any other json.Marshaler or
// encoding.TextMarshaler; tag options but omitempty (",string", omitzero,
// …) and omitempty on a struct; any other name (encoding/json escapes
// some and ignores some tags); two fields of one object with the same name,
// at any depth of embedding (encoding/json's dominance rules would
// decide); embedded pointers, non-structs, Marshalers and unexported or
// tagged embedded fields; unnamed, unexported and generic struct types;
// two struct types whose functions would have one name (two types T, or
// an embedded T and a TFields), or from packages with the same name.
//
// From internal/cli (see the go:generate line in jsonstring.go):
//
//	go run ./jsongen -o zz_json.go
package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/reconcile"
)

// roots are the documents and events `--output json` prints.
var roots = []reflect.Type{
	reflect.TypeFor[reconcile.Document](),
	reflect.TypeFor[reconcile.ObserveDocument](),
	reflect.TypeFor[actuate.Event](),
}

func main() {
	out := flag.String("o", "", "the file to write (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: jsongen -o file.go")
		os.Exit(2)
	}
	src, err := generate(roots)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsongen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "jsongen:", err)
		os.Exit(1)
	}
}
