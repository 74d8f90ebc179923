package main

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// A field is one member of a struct's JSON object, as encoding/json's
// typeFields finds it.
type field struct {
	name      string       // the JSON key
	tag       bool         // the name came from a json tag
	index     []int        // the field's index sequence, through embedded structs
	path      []string     // the Go field names along index
	typ       reflect.Type // the field's type
	omitEmpty bool
	quoted    bool // the ",string" option on a type it applies to
}

// An embedded is an embedded struct typeFields explores for fields.
type embedded struct {
	typ   reflect.Type
	index []int
	path  []string
}

// typeFields is encoding/json's typeFields (Go 1.26, encode.go): the
// fields of struct t in the order encoding/json writes them, embedded
// structs flattened and names resolved by Go's embedding rules modified
// by json tags. It refuses what jsongen does not implement: tag options
// other than omitempty and string, embedded pointers to structs (their
// fields are skipped when the pointer is nil), and fields reached
// through an unexported embedded struct (no other package can name them).
func typeFields(t reflect.Type) ([]field, error) {
	current := []embedded{}
	next := []embedded{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				fl, emb, err := structField(f, i, sf)
				if err != nil {
					return nil, fmt.Errorf("%s field %s: %w", f.typ, sf.Name, err)
				}
				switch {
				case fl != nil:
					fields = append(fields, *fl)
					if count[f.typ] > 1 {
						// Twice, so that dominance sees a duplicate (only
						// one and more than one matter).
						fields = append(fields, *fl)
					}
				case emb != nil:
					nextCount[emb.typ]++
					if nextCount[emb.typ] == 1 {
						next = append(next, *emb)
					}
				}
			}
		}
	}
	return dominant(fields), nil
}

// structField is typeFields' look at field i of f.typ: a field of the
// object, an embedded struct to explore at the next depth, or neither
// (unexported, or tagged "-").
func structField(f embedded, i int, sf reflect.StructField) (*field, *embedded, error) {
	if sf.Anonymous {
		t := sf.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if !sf.IsExported() && t.Kind() != reflect.Struct {
			return nil, nil, nil
		}
	} else if !sf.IsExported() {
		return nil, nil, nil
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return nil, nil, nil
	}
	name, opts, _ := strings.Cut(tag, ",")
	omitEmpty, str, err := tagOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	if !isValidTag(name) {
		name = ""
	}
	index := append(slices.Clone(f.index), i)
	path := append(slices.Clone(f.path), sf.Name)
	ft := sf.Type
	if ft.Name() == "" && ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
		switch {
		case sf.Type.Kind() == reflect.Pointer:
			return nil, nil, fmt.Errorf("embedded pointer %s: encoding/json skips its fields when it is nil; jsongen does not implement that", sf.Type)
		case !sf.IsExported():
			return nil, nil, fmt.Errorf("unexported embedded struct %s: the generated code could not name its fields", sf.Type)
		}
		return nil, &embedded{typ: ft, index: index, path: path}, nil
	}
	if !sf.IsExported() {
		return nil, nil, fmt.Errorf("unexported embedded %s with a json name: the generated code could not name it", sf.Type)
	}
	fl := &field{name: name, tag: name != "", index: index, path: path, typ: sf.Type, omitEmpty: omitEmpty}
	if fl.name == "" {
		fl.name = sf.Name
	}
	if str {
		// A set of kinds, not a dispatch.
		//exhaustive:ignore
		switch ft.Kind() {
		case reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.String:
			fl.quoted = true
		}
	}
	return fl, nil, nil
}

// tagOptions reads the options after a json tag's name. encoding/json
// ignores an option it does not know; jsongen refuses it, and omitzero,
// which it does not implement.
func tagOptions(opts string) (omitEmpty, str bool, err error) {
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "":
		case "omitempty":
			omitEmpty = true
		case "string":
			str = true
		default:
			return false, false, fmt.Errorf("json tag option %q: jsongen implements omitempty and string only", o)
		}
	}
	return omitEmpty, str, nil
}

// isValidTag is encoding/json's: a tag name that is not valid is ignored
// and the Go name used.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quote chars are reserved, but other
			// punctuation is allowed in a tag name.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// dominant is the end of encoding/json's typeFields: of the fields that
// share a name, only the dominant one survives (the shallowest, a tagged
// one before an untagged one at the same depth; none when two tie), and
// the survivors are ordered by index sequence.
func dominant(fields []field) []field {
	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != fi.name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		if fj := fields[i+1]; len(fi.index) == len(fj.index) && fi.tag == fj.tag {
			continue // two at the same depth, both tagged or neither: all dropped
		}
		out = append(out, fi)
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return out
}
