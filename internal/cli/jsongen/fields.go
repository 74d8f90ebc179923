package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// A field is one member of a struct's JSON object, or an embedded struct
// whose fields are members in its place.
type field struct {
	name      string       // the JSON key; "" for an embedded struct
	goName    string       // the Go field's name
	typ       reflect.Type // the field's type
	omitEmpty bool
}

// refused is the error for what jsongen does not implement: where (a
// type, or a type and a field path), why, and the way out.
func refused(where string, why error) error {
	return fmt.Errorf("%s: %w: extend jsongen or change the type", where, why)
}

// fields lists the fields of struct t that encoding/json writes, in field
// order, which is the order it writes them in (it sorts them by index
// sequence); an embedded struct is one field with no name, its fields
// written in its place. encoding/json resolves two fields with the same
// name, at any depth of embedding, by its dominance rules, which jsongen
// does not implement: it refuses them instead.
func fields(t reflect.Type) ([]field, error) {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		f, err := structField(sf)
		switch {
		case err != nil:
			return nil, refused(t.String()+"."+sf.Name, err)
		case f != nil:
			fs = append(fs, *f)
		}
	}
	paths := map[string]string{} // the Go path of each JSON name
	var check func(fs []field, prefix string) error
	check = func(fs []field, prefix string) error {
		for _, f := range fs {
			path := prefix + f.goName
			if f.name == "" {
				embedded, err := fields(f.typ)
				if err == nil {
					err = check(embedded, path+".")
				}
				if err != nil {
					return err
				}
				continue
			}
			if p, ok := paths[f.name]; ok {
				return refused(t.String()+"."+path,
					fmt.Errorf("%s has the same JSON name, %q: fields with one name (encoding/json's dominance rules) are not supported", p, f.name))
			}
			paths[f.name] = path
		}
		return nil
	}
	if err := check(fs, ""); err != nil {
		return nil, err
	}
	return fs, nil
}

// structField is field sf: nil when encoding/json leaves it out
// (unexported, or tagged "-"), a field with no name for an embedded
// struct whose fields are flattened into the object, else the field.
func structField(sf reflect.StructField) (*field, error) {
	tag := sf.Tag.Get("json")
	switch {
	case tag == "-", !sf.Anonymous && !sf.IsExported():
		return nil, nil
	case sf.Anonymous:
		return embeddedStruct(sf, tag)
	}
	name, opts, hasOpts := strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	if !plainName(name) {
		return nil, fmt.Errorf("JSON name %q: only names of ASCII letters, digits and _ are supported (encoding/json escapes some others and ignores some tags)", name)
	}
	f := &field{name: name, goName: sf.Name, typ: sf.Type}
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
func embeddedStruct(sf reflect.StructField, tag string) (*field, error) {
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
	return &field{goName: sf.Name, typ: sf.Type}, nil
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
