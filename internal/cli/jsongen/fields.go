package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// A field is one member of a struct's JSON object.
type field struct {
	name      string       // the JSON key
	path      []string     // the Go field names to it, through embedded structs
	typ       reflect.Type // the field's type
	omitEmpty bool
}

// refused is the error for what jsongen does not implement: where (a
// type, or a type and a field path), why, and the way out.
func refused(where string, why error) error {
	return fmt.Errorf("%s: %w: extend jsongen or change the type", where, why)
}

// fields lists the members of struct t's JSON object in the order
// encoding/json writes them: in field order, an embedded struct's fields
// in its place. encoding/json sorts them by index sequence, which is that
// order; it also resolves two fields with the same name by its dominance
// rules, which jsongen does not implement: it refuses them instead.
func fields(t reflect.Type) ([]field, error) {
	var fs []field
	var collect func(st reflect.Type, path []string) error
	collect = func(st reflect.Type, path []string) error {
		for i := range st.NumField() {
			sf := st.Field(i)
			p := slices.Concat(path, []string{sf.Name})
			f, err := structField(sf, p)
			switch {
			case err != nil:
				return refused(t.String()+"."+strings.Join(p, "."), err)
			case f == nil:
			case f.name == "":
				if err := collect(f.typ, f.path); err != nil {
					return err
				}
			default:
				fs = append(fs, *f)
			}
		}
		return nil
	}
	if err := collect(t, nil); err != nil {
		return nil, err
	}
	paths := map[string][]string{}
	for _, f := range fs {
		if p, ok := paths[f.name]; ok {
			return nil, refused(t.String()+"."+strings.Join(f.path, "."),
				fmt.Errorf("%s has the same JSON name, %q: fields with one name (encoding/json's dominance rules) are not supported", strings.Join(p, "."), f.name))
		}
		paths[f.name] = f.path
	}
	return fs, nil
}

// structField is field sf, at path: nil when encoding/json leaves it out
// (unexported, or tagged "-"), a field with no name for an embedded
// struct whose fields are flattened into the object, else the field.
func structField(sf reflect.StructField, path []string) (*field, error) {
	tag := sf.Tag.Get("json")
	switch {
	case tag == "-", !sf.Anonymous && !sf.IsExported():
		return nil, nil
	case sf.Anonymous:
		return embeddedStruct(sf, tag, path)
	}
	name, opts, hasOpts := strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	if !plainName(name) {
		return nil, fmt.Errorf("JSON name %q: only names of ASCII letters, digits and _ are supported (encoding/json escapes some others and ignores some tags)", name)
	}
	f := &field{name: name, path: path, typ: sf.Type}
	if hasOpts {
		for o := range strings.SplitSeq(opts, ",") {
			if o != "omitempty" {
				return nil, fmt.Errorf("json tag %q: option %q is not supported, only omitempty", tag, o)
			}
			f.omitEmpty = true
		}
	}
	return f, nil
}

// embeddedStruct is the field with no name that stands for embedded field
// sf's fields, or why encoding/json's treatment of sf is not supported.
func embeddedStruct(sf reflect.StructField, tag string, path []string) (*field, error) {
	switch {
	case tag != "":
		return nil, errors.New("tagged embedded fields are not supported")
	case !sf.IsExported():
		return nil, errors.New("unexported embedded fields are not supported")
	case sf.Type.Kind() == reflect.Pointer:
		return nil, errors.New("embedded pointers are not supported (encoding/json leaves out their fields when nil)")
	case sf.Type.Kind() != reflect.Struct:
		return nil, fmt.Errorf("embedded %s: only embedded structs are supported", sf.Type.Kind())
	}
	if m, err := marshaler(sf.Type); err != nil || m {
		return nil, errors.New("embedded Marshalers are not supported")
	}
	return &field{path: path, typ: sf.Type}, nil
}

// plainName reports whether s is a JSON key that encoding/json writes as
// it is: not empty, ASCII letters, digits and _ only.
func plainName(s string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}
