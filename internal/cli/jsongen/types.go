package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"go/token"
	"reflect"
	"strings"
	"time"
)

// A unitKind is how a type that gets a function of its own is encoded.
type unitKind int

const (
	notUnit    unitKind = iota
	structUnit          // a struct: its fields, as an object
	jsonUnit            // a json.Marshaler: its MarshalJSON
	textUnit            // an encoding.TextMarshaler: its MarshalText, as a string
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
	byteType          = reflect.TypeFor[byte]()
)

// compactMarshalers are the json.Marshaler types jsongen calls. encoding/json
// compacts (and HTML-escapes) what MarshalJSON returns; the generated code
// appends it as it is, which is the same only for output that is compact and
// has no <, > or & in it. time.Time's is a quoted RFC 3339 timestamp
// (digits, -, :, ., T, Z, +).
var compactMarshalers = map[reflect.Type]bool{
	reflect.TypeFor[time.Time](): true,
}

// kindOf says whether t gets a function of its own and which, following
// encoding/json's newTypeEncoder: a json.Marshaler before an
// encoding.TextMarshaler before the kind. A method with a pointer
// receiver on a non-pointer type is refused: encoding/json calls it only
// when the value is addressable, which depends on how it is reached.
func kindOf(t reflect.Type) (unitKind, error) {
	if t.Kind() == reflect.Interface {
		return notUnit, fmt.Errorf("interface type %s: jsongen does not implement it", t)
	}
	for _, m := range []reflect.Type{marshalerType, textMarshalerType} {
		if t.Kind() != reflect.Pointer && !t.Implements(m) && reflect.PointerTo(t).Implements(m) {
			return notUnit, fmt.Errorf("%s implements %s with a pointer receiver: encoding/json calls it only on addressable values; jsongen does not implement that", t, m)
		}
	}
	switch {
	case t.Implements(marshalerType):
		base := t
		if t.Kind() == reflect.Pointer {
			base = t.Elem()
		}
		if !compactMarshalers[base] {
			return notUnit, fmt.Errorf("%s implements json.Marshaler: encoding/json compacts its output and jsongen appends it as it is, which it does only for types known to be compact (see compactMarshalers)", t)
		}
		return jsonUnit, nil
	case t.Implements(textMarshalerType):
		return textUnit, nil
	case t.Kind() == reflect.Struct:
		return structUnit, nil
	}
	return notUnit, nil
}

// goType is t as the generated file names it, recording the import it needs.
func (g *gen) goType(t reflect.Type) (string, error) {
	if t.Name() == "" {
		// The unnamed types jsongen implements; it refuses the others.
		//exhaustive:ignore
		switch t.Kind() {
		case reflect.Pointer:
			e, err := g.goType(t.Elem())
			return "*" + e, err
		case reflect.Slice:
			e, err := g.goType(t.Elem())
			return "[]" + e, err
		}
		return "", fmt.Errorf("unnamed type %s: jsongen does not implement it", t)
	}
	if t.PkgPath() == "" {
		return t.Name(), nil // predeclared
	}
	if !token.IsExported(t.Name()) {
		return "", fmt.Errorf("unexported type %s: the generated code could not name it", t)
	}
	if strings.Contains(t.Name(), "[") {
		return "", fmt.Errorf("generic type %s: jsongen does not implement it", t)
	}
	name := t.String()[:len(t.String())-len(t.Name())-1]
	if p, ok := g.importNames[name]; ok && p != t.PkgPath() {
		return "", fmt.Errorf("packages %s and %s are both named %s: jsongen does not rename imports", p, t.PkgPath(), name)
	}
	g.importNames[name] = t.PkgPath()
	g.imports[t.PkgPath()] = true
	return t.String(), nil
}

// canFail reports whether encoding a t can fail: whether a Marshaler is
// reachable from it.
func (g *gen) canFail(t reflect.Type) bool {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type) bool
	walk = func(t reflect.Type) bool {
		if seen[t] {
			return false
		}
		seen[t] = true
		if k, _ := kindOf(t); k == jsonUnit || k == textUnit {
			return true
		}
		// The kinds that hold values of other types.
		//exhaustive:ignore
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice:
			return walk(t.Elem())
		case reflect.Struct:
			fields, _ := g.fields(t)
			for _, f := range fields {
				if walk(f.typ) {
					return true
				}
			}
		}
		return false
	}
	return walk(t)
}

// fields is typeFields(t), computed once per type.
func (g *gen) fields(t reflect.Type) ([]field, error) {
	if fs, ok := g.fieldCache[t]; ok {
		return fs, nil
	}
	fs, err := typeFields(t)
	if err == nil {
		g.fieldCache[t] = fs
	}
	return fs, err
}
