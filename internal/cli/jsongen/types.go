package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"time"
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// compactMarshalers are the json.Marshaler types jsongen calls: an
// allowlist of types whose MarshalJSON output is known to be compact and
// free of <, > and &. encoding/json compacts (and HTML-escapes) what
// MarshalJSON returns; the generated code appends it as it is, which is the
// same only for such output. time.Time's is a quoted RFC 3339 timestamp
// (digits, -, :, ., T, Z, +).
var compactMarshalers = map[reflect.Type]bool{
	reflect.TypeFor[time.Time](): true,
}

// marshaler reports whether t is encoded by its MarshalJSON, a type in
// compactMarshalers. Any other type with a MarshalJSON or MarshalText,
// with either receiver, is refused, pointers to compactMarshalers among
// them (encoding/json's error would name the pointer type).
func marshaler(t reflect.Type) (bool, error) {
	if compactMarshalers[t] {
		return true, nil
	}
	for _, m := range []reflect.Type{marshalerType, textMarshalerType} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return false, fmt.Errorf("%s implements %s: only the types in jsongen's compactMarshalers, not pointers to them, are supported", t, m)
		}
	}
	return false, nil
}

// goType is t, a named struct type, as the generated file names it; it
// records the import it needs.
func (g *gen) goType(t reflect.Type) (string, error) {
	switch {
	case t.Name() == "":
		return "", fmt.Errorf("unnamed type %s: unnamed struct types are not supported", t)
	case !token.IsExported(t.Name()):
		return "", fmt.Errorf("unexported type %s: the generated code could not name it", t)
	case strings.Contains(t.Name(), "["):
		return "", fmt.Errorf("generic type %s: generic types are not supported", t)
	}
	name := t.String()[:len(t.String())-len(t.Name())-1]
	if p, ok := g.importNames[name]; ok && p != t.PkgPath() {
		return "", fmt.Errorf("type %s: packages %s and %s are both named %s: renaming imports is not supported", t, p, t.PkgPath(), name)
	}
	g.importNames[name] = t.PkgPath()
	g.imports[t.PkgPath()] = true
	return t.String(), nil
}

// canFail reports whether encoding a t can fail: whether a Marshaler is
// under it.
func canFail(t reflect.Type) bool {
	return slices.ContainsFunc(typesUnder(t), func(t reflect.Type) bool { return compactMarshalers[t] })
}

// typesUnder lists roots and the types under them, each once: the
// elements of slices, what pointers point to and the fields of structs.
func typesUnder(roots ...reflect.Type) []reflect.Type {
	var under []reflect.Type
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		under = append(under, t)
		// The kinds that hold values of other types.
		//exhaustive:ignore
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(t.Elem())
		case reflect.Struct:
			// Fields jsongen refuses fail generate (object returns the
			// error): what is under them then does not matter.
			fields, _ := fields(t)
			for _, f := range fields {
				walk(f.typ)
			}
		}
	}
	for _, t := range roots {
		walk(t)
	}
	return under
}
