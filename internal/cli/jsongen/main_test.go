package main

import (
	"bytes"
	"encoding/json"
	randv1 "math/rand"
	randv2 "math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

type (
	WithMap       struct{ M map[string]int }
	WithInterface struct{ I any }
	WithFloat     struct{ F float64 }
	WithArray     struct{ A [2]int }
	WithDeep      struct{ L []Bad }
	WithOmitZero  struct {
		S string `json:"s,omitzero"`
	}
	WithString struct {
		N int `json:"n,string"`
	}
	WithInline struct {
		S string `json:",inline"`
	}
	WithEmptyOption struct {
		//lint:ignore SA5008 encoding/json accepts the empty option; jsongen refuses it
		S string `json:"s,"`
	}
	WithOmitStruct struct {
		S Inner `json:"s,omitempty"`
	}
	WithEmbeddedPtr        struct{ *Inner }
	WithUnexportedEmbedded struct{ inner }
	WithTaggedEmbedded     struct {
		Inner `json:"inner"`
	}
	WithEmbeddedString     struct{ Word }
	WithEmbeddedMarshalers struct {
		ValueMarshal // MarshalJSON at the same depth as OtherMarshal's:
		OtherMarshal // neither is promoted
	}
	WithPtrMarshal  struct{ P PtrMarshal }
	WithMarshal     struct{ V ValueMarshal }
	WithTextMarshal struct{ L Level }
	WithTimePtr     struct{ T *time.Time }
	WithNumber      struct{ N json.Number }
	WithBytes       struct{ B []byte }
	WithNamedBytes  struct{ B []NamedByte }
	WithPtrPtr      struct{ P **int }
	WithPtrSlice    struct{ P *[]string }
	WithSameName    struct {
		A string `json:"B"`
		B string
	}
	WithShadowed struct {
		X string
		Inner
	}
	WithOddName struct {
		S string `json:"a-b"`
	}
	WithUnicodeName    struct{ Été string }
	WithAnonymous      struct{ A struct{ X int } }
	WithUnexportedType struct{ I inner }
	WithGeneric        struct{ G Generic[int] }
	WithSameTypeName   struct {
		A time.Time
		B Time
	}
	WithSamePackageName struct {
		A randv1.Rand
		B randv2.PCG
	}
	WithFieldsName struct {
		Inner
		F InnerFields
	}

	Inner          struct{ X int }
	InnerFields    struct{ Y int }
	inner          struct{ X int }
	Word           string
	PtrMarshal     struct{}
	ValueMarshal   struct{}
	OtherMarshal   struct{}
	Level          int
	NamedByte      byte
	Bad            struct{ C chan int }
	Generic[T any] struct{ V T }
	Time           struct{}
)

func (*PtrMarshal) MarshalJSON() ([]byte, error)  { return []byte(`{}`), nil }
func (ValueMarshal) MarshalJSON() ([]byte, error) { return []byte(`{ }`), nil }
func (OtherMarshal) MarshalJSON() ([]byte, error) { return []byte(`{ }`), nil }
func (Level) MarshalText() ([]byte, error)        { return []byte(`level`), nil }

// jsongen refuses what the roots do not use, naming the type, the field
// and the reason, rather than print an encoder that may differ from
// encoding/json.
func TestRefuses(t *testing.T) {
	for _, c := range []struct {
		root reflect.Type
		want string
	}{
		{reflect.TypeFor[WithMap](), "main.WithMap.M: map[string]int: kind map is not supported: extend jsongen or change the type"},
		{reflect.TypeFor[WithInterface](), "main.WithInterface.I: interface {}: kind interface"},
		{reflect.TypeFor[WithFloat](), "main.WithFloat.F: float64: kind float64"},
		{reflect.TypeFor[WithArray](), "main.WithArray.A: [2]int: kind array"},
		{reflect.TypeFor[WithDeep](), "main.Bad.C: chan int: kind chan"},
		{reflect.TypeFor[WithOmitZero](), `main.WithOmitZero.S: json tag "s,omitzero": option "omitzero" is not supported`},
		{reflect.TypeFor[WithString](), `main.WithString.N: json tag "n,string": option "string"`},
		{reflect.TypeFor[WithInline](), `main.WithInline.S: json tag ",inline": option "inline"`},
		{reflect.TypeFor[WithEmptyOption](), `main.WithEmptyOption.S: json tag "s,": option ""`},
		{reflect.TypeFor[WithOmitStruct](), "main.WithOmitStruct.S: omitempty on main.Inner (kind struct) is not supported"},
		{reflect.TypeFor[WithEmbeddedPtr](), "main.WithEmbeddedPtr.Inner: embedded pointers are not supported"},
		{reflect.TypeFor[WithUnexportedEmbedded](), "main.WithUnexportedEmbedded.inner: unexported embedded fields"},
		{reflect.TypeFor[WithTaggedEmbedded](), "main.WithTaggedEmbedded.Inner: tagged embedded fields"},
		{reflect.TypeFor[WithEmbeddedString](), "main.WithEmbeddedString.Word: embedded string: only embedded structs"},
		{reflect.TypeFor[WithEmbeddedMarshalers](), "main.WithEmbeddedMarshalers.ValueMarshal: embedded Marshalers"},
		{reflect.TypeFor[WithPtrMarshal](), "main.WithPtrMarshal.P: main.PtrMarshal implements json.Marshaler: only the types in jsongen's compactMarshalers"},
		{reflect.TypeFor[WithMarshal](), "main.WithMarshal.V: main.ValueMarshal implements json.Marshaler"},
		{reflect.TypeFor[WithTextMarshal](), "main.WithTextMarshal.L: main.Level implements encoding.TextMarshaler"},
		{reflect.TypeFor[WithTimePtr](), "main.WithTimePtr.T: *time.Time implements json.Marshaler"},
		{reflect.TypeFor[WithNumber](), "main.WithNumber.N: json.Number is not supported"},
		{reflect.TypeFor[WithBytes](), "main.WithBytes.B: []uint8: slices of bytes are not supported"},
		{reflect.TypeFor[WithNamedBytes](), "main.WithNamedBytes.B: []main.NamedByte: slices of bytes"},
		{reflect.TypeFor[WithPtrPtr](), "main.WithPtrPtr.P: **int: pointers to pointers"},
		{reflect.TypeFor[WithPtrSlice](), "main.WithPtrSlice.P: *[]string: pointers to slices"},
		{reflect.TypeFor[WithSameName](), `main.WithSameName.B: A has the same JSON name, "B": fields with one name`},
		{reflect.TypeFor[WithShadowed](), `main.WithShadowed.Inner.X: X has the same JSON name, "X"`},
		{reflect.TypeFor[WithOddName](), `main.WithOddName.S: JSON name "a-b": only names of ASCII letters, digits and _`},
		{reflect.TypeFor[WithUnicodeName](), `main.WithUnicodeName.Été: JSON name "Été"`},
		{reflect.TypeFor[WithAnonymous](), "main.WithAnonymous.A: unnamed type struct { X int }"},
		{reflect.TypeFor[WithUnexportedType](), "main.WithUnexportedType.I: unexported type main.inner"},
		{reflect.TypeFor[WithGeneric](), "main.WithGeneric.G: generic type main.Generic[int]"},
		{reflect.TypeFor[WithSameTypeName](), "main.WithSameTypeName.B: types time.Time and main.Time would both be encoded by appendTime"},
		{reflect.TypeFor[WithSamePackageName](), "main.WithSamePackageName.B: type rand.PCG: packages math/rand and math/rand/v2 are both named rand"},
		{reflect.TypeFor[WithFieldsName](), "main.WithFieldsName.F: types main.Inner and main.InnerFields would both be encoded by appendInnerFields"},
		{reflect.TypeFor[int](), "root int: a root must be a struct type"},
		{reflect.TypeFor[time.Time](), "root time.Time: a root must be a struct type that is not a Marshaler"},
	} {
		_, err := generate([]reflect.Type{c.root})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasSuffix(err.Error(), ": extend jsongen or change the type") {
			t.Errorf("%s: error %v, want one containing %q", c.root, err, c.want)
		}
	}
}

// Skipped is a root with fields encoding/json leaves out.
type Skipped struct {
	A int `json:"a"`
	//lint:ignore U1000 unexported, for jsongen to leave out
	b int
	C int `json:"-"`
	D int `json:"d"`
}

// Unexported fields and those tagged "-" are left out, as encoding/json
// leaves them out (the roots have none, so the property test in package
// cli does not see them).
func TestLeavesOut(t *testing.T) {
	src, err := generate([]reflect.Type{reflect.TypeFor[Skipped]()})
	if err != nil {
		t.Fatal(err)
	}
	want := "b = append(b, `{\"a\":`...)\n\tb = strconv.AppendInt(b, int64(v.A), 10)\n\tb = append(b, `,\"d\":`...)\n"
	if !strings.Contains(string(src), want) {
		t.Errorf("the generated code does not go from a to d:\n%s", src)
	}
}

// The output does not depend on map order or anything else that varies
// between runs: go test compares the committed file with it.
func TestDeterministic(t *testing.T) {
	first, err := generate(roots)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := generate(roots)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two runs of generate printed different code")
		}
	}
}
