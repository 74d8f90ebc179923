package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type (
	WithMap       struct{ M map[string]int }
	WithInterface struct{ I any }
	WithFloat     struct{ F float64 }
	WithArray     struct{ A [2]int }
	WithOmitZero  struct {
		S string `json:"s,omitzero"`
	}
	WithInline struct {
		S string `json:",inline"`
	}
	WithEmbeddedPtr struct{ *Inner }
	WithUnexported  struct{ inner }
	WithPtrMarshal  struct{ P PtrMarshal }
	WithMarshal     struct{ V ValueMarshal }
	WithNumber      struct{ N json.Number }
	WithNamedBytes  struct{ B []NamedByte }
	WithAnonymous   struct{ A struct{ X int } }
	WithDeep        struct{ L []Bad }

	Inner        struct{ X int }
	inner        struct{ X int }
	PtrMarshal   struct{}
	ValueMarshal struct{}
	NamedByte    byte
	Bad          struct{ C chan int }
)

func (*PtrMarshal) MarshalJSON() ([]byte, error)  { return []byte(`{}`), nil }
func (ValueMarshal) MarshalJSON() ([]byte, error) { return []byte(`{ }`), nil }

// jsongen refuses what it does not implement, naming where it is, rather
// than print an encoder that differs from encoding/json.
func TestRefuses(t *testing.T) {
	for _, c := range []struct {
		root reflect.Type
		want string
	}{
		{reflect.TypeFor[WithMap](), "main.WithMap field M: map[string]int of kind map"},
		{reflect.TypeFor[WithInterface](), "main.WithInterface field I: interface type interface {}"},
		{reflect.TypeFor[WithFloat](), "main.WithFloat field F: float64 of kind float64"},
		{reflect.TypeFor[WithArray](), "main.WithArray field A: [2]int of kind array"},
		{reflect.TypeFor[WithOmitZero](), `main.WithOmitZero field S: json tag option "omitzero"`},
		{reflect.TypeFor[WithInline](), `main.WithInline field S: json tag option "inline"`},
		{reflect.TypeFor[WithEmbeddedPtr](), "main.WithEmbeddedPtr field Inner: embedded pointer *main.Inner"},
		{reflect.TypeFor[WithUnexported](), "main.WithUnexported field inner: unexported embedded struct main.inner"},
		{reflect.TypeFor[WithPtrMarshal](), "main.WithPtrMarshal field P: main.PtrMarshal implements json.Marshaler with a pointer receiver"},
		{reflect.TypeFor[WithMarshal](), "main.WithMarshal field V: main.ValueMarshal implements json.Marshaler: encoding/json compacts its output"},
		{reflect.TypeFor[WithNumber](), "main.WithNumber field N: json.Number: encoding/json writes it as a number"},
		{reflect.TypeFor[WithNamedBytes](), "main.WithNamedBytes field B: []main.NamedByte: encoding/json writes a slice of a byte kind as base64"},
		{reflect.TypeFor[WithAnonymous](), "unnamed type struct { X int }"},
		{reflect.TypeFor[WithDeep](), "main.Bad field C: chan int of kind chan"},
		{reflect.TypeFor[Inner]().Field(0).Type, "root int: want a struct type"},
	} {
		_, err := generate("cli", "append", []reflect.Type{c.root})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.root, err, c.want)
		}
	}
}

// The output does not depend on map order or anything else that varies
// between runs: go test compares the committed files with it.
func TestDeterministic(t *testing.T) {
	first, err := generate("cli", "append", roots)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := generate("cli", "append", roots)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two runs of generate printed different code")
		}
	}
}
