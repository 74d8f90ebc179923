package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// value writes the statements that append x, of type t, as encoding/json's
// encoder for t does. quoted is the field's ",string" option; nonNil says
// x is known not to be nil (an omitempty slice or pointer, inside its
// test); depth numbers the loop variables of nested slices.
func (g *gen) value(t reflect.Type, x string, quoted, nonNil bool, depth int) error {
	k, err := kindOf(t)
	if err != nil {
		return err
	}
	switch k {
	case structUnit:
		g.call(t, "&"+x)
		return nil
	case jsonUnit, textUnit:
		// encoding/json ignores ",string" for a Marshaler.
		g.call(t, x)
		return nil
	case notUnit:
	}
	// The kinds jsongen implements; default refuses the others.
	//exhaustive:ignore
	switch t.Kind() {
	case reflect.Bool:
		g.scalar(quoted, "strconv.AppendBool(b, %s)", conv(t, reflect.TypeFor[bool](), x))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		g.scalar(quoted, "strconv.AppendInt(b, %s, 10)", conv(t, reflect.TypeFor[int64](), x))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		g.scalar(quoted, "strconv.AppendUint(b, %s, 10)", conv(t, reflect.TypeFor[uint64](), x))
	case reflect.String:
		if t == numberType {
			return fmt.Errorf("%s: encoding/json writes it as a number; jsongen does not implement that", t)
		}
		s := conv(t, reflect.TypeFor[string](), x)
		if quoted {
			// The string's JSON, as a JSON string: escaping it again is
			// the same with HTML escaping on or off, since it holds no
			// <, > or & any more.
			s = "appendJSONString(nil, " + s + ")"
		}
		g.printf("b = appendJSONString(b, %s)\n", s)
	case reflect.Slice:
		return g.slice(t, x, quoted, nonNil, depth)
	case reflect.Pointer:
		return g.pointer(t, x, quoted, nonNil, depth)
	default:
		return fmt.Errorf("%s of kind %s: jsongen does not implement it", t, t.Kind())
	}
	return nil
}

// scalar writes b = expr (formatted with arg), in quotes for ",string".
func (g *gen) scalar(quoted bool, expr, arg string) {
	g.imports["strconv"] = true
	if quoted {
		g.appendByte('"')
	}
	g.printf("b = "+expr+"\n", arg)
	if quoted {
		g.appendByte('"')
	}
}

// slice writes a slice: null when nil, else its elements in brackets;
// a []byte is base64 in a string, as encoding/json writes it.
func (g *gen) slice(t reflect.Type, x string, quoted, nonNil bool, depth int) error {
	elem := t.Elem()
	pe := reflect.PointerTo(elem)
	if elem.Kind() == reflect.Uint8 && !pe.Implements(marshalerType) && !pe.Implements(textMarshalerType) {
		if elem != byteType {
			return fmt.Errorf("%s: encoding/json writes a slice of a byte kind as base64; jsongen does that for []byte only", t)
		}
		g.imports["encoding/base64"] = true
		return g.orNull(x, nonNil, func() error {
			g.appendByte('"')
			g.printf("b = base64.StdEncoding.AppendEncode(b, %s)\n", conv(t, reflect.TypeFor[[]byte](), x))
			g.appendByte('"')
			return nil
		})
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
		if err := g.value(elem, x+"["+i+"]", quoted, false, depth+1); err != nil {
			return err
		}
		g.printf("}\n")
		g.appendByte(']')
		return nil
	})
}

// pointer writes a pointer: null when nil, else what it points to.
func (g *gen) pointer(t reflect.Type, x string, quoted, nonNil bool, depth int) error {
	elem := t.Elem()
	return g.orNull(x, nonNil, func() error {
		if k, err := kindOf(elem); err == nil && k == structUnit {
			g.call(elem, x)
			return nil
		}
		deref := "*" + x
		if elem.Kind() == reflect.Slice {
			deref = "(" + deref + ")" // indexed
		}
		return g.value(elem, deref, quoted, false, depth)
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

// call writes a call of t's function on arg, returning its error, if it
// can fail, as encoding/json returns it: at once, with nothing written.
func (g *gen) call(t reflect.Type, arg string) {
	name := g.unit(t)
	if !g.canFail(t) {
		g.printf("b = %s(b, %s)\n", name, arg)
		return
	}
	g.usesErr = true
	g.printf("if b, err = %s(b, %s); err != nil {\nreturn nil, err\n}\n", name, arg)
}

// marshalJSON writes the body of a json.Marshaler's function. The error
// is the *json.MarshalerError encoding/json returns, naming the type as
// reached (a pointer's, for a pointer).
func (g *gen) marshalJSON(t reflect.Type, typ string) {
	g.imports["encoding/json"], g.imports["reflect"] = true, true
	g.nilPointer(t)
	g.printf("j, err := v.MarshalJSON()\nif err != nil {\n")
	g.printf("return nil, &json.MarshalerError{Type: reflect.TypeFor[%s](), Err: err}\n}\n", typ)
	g.printf("b = append(b, j...)\n")
}

// marshalText writes the body of an encoding.TextMarshaler's function.
// encoding/json's error is a *json.MarshalerError whose message names
// MarshalText, which another package cannot build: this one has the same
// message.
func (g *gen) marshalText(t reflect.Type) {
	g.imports["fmt"] = true
	g.nilPointer(t)
	g.printf("s, err := v.MarshalText()\nif err != nil {\n")
	g.printf("return nil, fmt.Errorf(%s, err)\n}\n", strconv.Quote("json: error calling MarshalText for type "+t.String()+": %w"))
	g.printf("b = appendJSONString(b, s)\n")
}

// nilPointer writes, for a Marshaler that is a pointer, encoding/json's
// null for nil.
func (g *gen) nilPointer(t reflect.Type) {
	if t.Kind() == reflect.Pointer {
		g.printf("if v == nil {\nreturn append(b, \"null\"...), nil\n}\n")
	}
}

// conv is x converted to type to (spelled as Go spells it), when t is not
// that type already.
func conv(t, to reflect.Type, x string) string {
	if t == to {
		return x
	}
	name := to.String()
	if to == reflect.TypeFor[[]byte]() {
		name = "[]byte"
	}
	return name + "(" + x + ")"
}

func (g *gen) printf(format string, args ...any) { fmt.Fprintf(g.w, format, args...) }

// appendLit writes b = append(b, s...).
func (g *gen) appendLit(s string) {
	lit := strconv.Quote(s)
	if strconv.CanBackquote(s) && !strings.Contains(s, "`") {
		lit = "`" + s + "`"
	}
	g.printf("b = append(b, %s...)\n", lit)
}

// appendByte writes b = append(b, c).
func (g *gen) appendByte(c byte) { g.printf("b = append(b, %s)\n", strconv.QuoteRune(rune(c))) }
