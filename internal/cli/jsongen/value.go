package main

import (
	"fmt"
	"reflect"
	"strconv"
)

// value writes the statements that append x, of type t, as encoding/json's
// encoder for t does. nonNil says x is known not to be nil (an omitempty
// slice or pointer, inside its test); depth numbers the loop variables of
// nested slices.
func (g *gen) value(t reflect.Type, x string, nonNil bool, depth int) error {
	m, err := marshaler(t)
	switch {
	case err != nil:
		return err
	case m:
		return g.call(t, objectFunc, x)
	}
	// The kinds jsongen implements; default refuses the others.
	//exhaustive:ignore
	switch t.Kind() {
	case reflect.Struct:
		return g.call(t, objectFunc, "&"+x)
	case reflect.Bool:
		g.scalar("strconv.AppendBool(b, %s)", conv(t, reflect.TypeFor[bool](), x))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		g.scalar("strconv.AppendInt(b, %s, 10)", conv(t, reflect.TypeFor[int64](), x))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		g.scalar("strconv.AppendUint(b, %s, 10)", conv(t, reflect.TypeFor[uint64](), x))
	case reflect.String:
		if t == numberType {
			return fmt.Errorf("%s is not supported (encoding/json writes it as a number)", t)
		}
		g.printf("b = appendJSONString(b, %s)\n", conv(t, reflect.TypeFor[string](), x))
	case reflect.Slice:
		return g.slice(t, x, nonNil, depth)
	case reflect.Pointer:
		return g.pointer(t, x, nonNil, depth)
	default:
		return fmt.Errorf("%s: kind %s is not supported", t, t.Kind())
	}
	return nil
}

// scalar writes b = expr, formatted with arg.
func (g *gen) scalar(expr, arg string) {
	g.imports["strconv"] = true
	g.printf("b = "+expr+"\n", arg)
}

// slice writes a slice: null when nil, else its elements in brackets.
func (g *gen) slice(t reflect.Type, x string, nonNil bool, depth int) error {
	if t.Elem().Kind() == reflect.Uint8 {
		return fmt.Errorf("%s: slices of bytes are not supported (encoding/json writes them as base64)", t)
	}
	return g.orNull(x, nonNil, func() error {
		i := "i"
		if depth > 0 {
			i += strconv.Itoa(depth)
		}
		g.appendByte('[')
		g.printf("for %s := range %s {\nif %s > 0 {\n", i, x, i)
		g.appendByte(',')
		g.printf("}\n")
		if err := g.value(t.Elem(), x+"["+i+"]", false, depth+1); err != nil {
			return err
		}
		g.printf("}\n")
		g.appendByte(']')
		return nil
	})
}

// pointer writes a pointer, to a struct or a scalar: null when nil, else
// what it points to.
func (g *gen) pointer(t reflect.Type, x string, nonNil bool, depth int) error {
	elem := t.Elem()
	// Kinds value would take that no root points to.
	//exhaustive:ignore
	switch elem.Kind() {
	case reflect.Pointer:
		return fmt.Errorf("%s: pointers to pointers are not supported", t)
	case reflect.Slice:
		return fmt.Errorf("%s: pointers to slices are not supported", t)
	}
	return g.orNull(x, nonNil, func() error {
		if elem.Kind() == reflect.Struct {
			return g.call(elem, objectFunc, x)
		}
		return g.value(elem, "*"+x, false, depth)
	})
}

// orNull writes body, in the else of an x == nil test that writes null
// unless x is known not to be nil.
func (g *gen) orNull(x string, nonNil bool, body func() error) error {
	if nonNil {
		return body()
	}
	g.printf("if %s == nil {\n", x)
	g.appendLit("null")
	g.printf("} else {\n")
	if err := body(); err != nil {
		return err
	}
	g.printf("}\n")
	return nil
}

// call writes a call of t's function with suffix on arg, returning its
// error, if it can fail, as encoding/json returns it: at once, with
// nothing written.
func (g *gen) call(t reflect.Type, suffix, arg string) error {
	name, err := g.unit(t, suffix)
	if err != nil {
		return err
	}
	if !canFail(t) {
		g.printf("b = %s(b, %s)\n", name, arg)
		return nil
	}
	g.usesErr = true
	g.printf("if b, err = %s(b, %s); err != nil {\nreturn nil, err\n}\n", name, arg)
	return nil
}

// marshalJSON writes the body of the function of typ, a type in
// compactMarshalers. The error is the *json.MarshalerError encoding/json
// returns.
func (g *gen) marshalJSON(typ string) {
	g.imports["encoding/json"], g.imports["reflect"] = true, true
	g.printf("j, err := v.MarshalJSON()\nif err != nil {\n")
	g.printf("return nil, &json.MarshalerError{Type: reflect.TypeFor[%s](), Err: err}\n}\n", typ)
	g.printf("b = append(b, j...)\n")
}

// emptyTest is the Go condition for x, of type t, not being empty as
// omitempty means it (encoding/json's isEmptyValue).
func emptyTest(t reflect.Type, x string) (string, error) {
	// The kinds value implements that omitempty can omit; default refuses
	// the others (a struct, which encoding/json never omits, among them).
	//exhaustive:ignore
	switch t.Kind() {
	case reflect.String, reflect.Slice:
		return "len(" + x + ") != 0", nil
	case reflect.Bool:
		return x, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return x + " != 0", nil
	case reflect.Pointer:
		return x + " != nil", nil
	}
	return "", fmt.Errorf("omitempty on %s (kind %s) is not supported", t, t.Kind())
}

// conv is x converted to type to, when t is not that type already.
func conv(t, to reflect.Type, x string) string {
	if t == to {
		return x
	}
	return to.String() + "(" + x + ")"
}

func (g *gen) printf(format string, args ...any) { fmt.Fprintf(g.w, format, args...) }

// appendLit writes b = append(b, s...). s is JSON punctuation, null or
// a key plainName accepts: a raw string literal holds it as it is.
func (g *gen) appendLit(s string) { g.printf("b = append(b, `%s`...)\n", s) }

// appendByte writes b = append(b, c).
func (g *gen) appendByte(c byte) { g.printf("b = append(b, %s)\n", strconv.QuoteRune(rune(c))) }
