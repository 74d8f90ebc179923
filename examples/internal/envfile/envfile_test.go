package envfile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseFollowsTheHubRules(t *testing.T) {
	text := "VAULT_TOKEN=abc\n" +
		"QUOTED=\"a b\"\n" +
		"SINGLE='x'\n" +
		"MISMATCH=\"y'\n" +
		" SPACED = v \n" +
		"=novalue\n" +
		"noequals\n" +
		"EMPTY=\n" +
		"EQ=a=b\n" +
		"# COMMENT=kept\n" +
		"CRLF=v\r\n"
	got := Parse(text)
	want := []Var{
		{"VAULT_TOKEN", "abc"},
		{"QUOTED", "a b"},
		{"SINGLE", "x"},
		{"MISMATCH", "\"y'"},
		{" SPACED ", " v "},
		{"EMPTY", ""},
		{"EQ", "a=b"},
		{"# COMMENT", "kept"},
		{"CRLF", "v\r"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse:\n got %q\nwant %q", got, want)
	}
}

func TestReadMissingFileIsEmpty(t *testing.T) {
	vars, err := Read(filepath.Join(t.TempDir(), "nope", ".env"))
	if err != nil || vars != nil {
		t.Fatalf("Read(missing) = %v, %v; want nil, nil", vars, err)
	}
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, []byte("A=1\nPORT=9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars, err = Read(p)
	if err != nil || len(vars) != 2 || vars[1] != (Var{"PORT", "9"}) {
		t.Fatalf("Read = %v, %v", vars, err)
	}
	if got := Without(vars, "PORT"); !reflect.DeepEqual(got, []Var{{"A", "1"}}) {
		t.Fatalf("Without(PORT) = %v", got)
	}
}

func TestOverlayReplacesInPlaceAndAppends(t *testing.T) {
	base := []string{"PATH=/bin", "PORT=1939", "HOME=/h", "PORT=dup"}
	got := Overlay(base, Var{"PORT", "1940"}, Var{"NEW", "x"}, Var{"NEW", "y"})
	want := []string{"PATH=/bin", "PORT=1940", "HOME=/h", "NEW=y"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Overlay:\n got %q\nwant %q", got, want)
	}
	if base[1] != "PORT=1939" {
		t.Fatalf("Overlay modified its base: %q", base)
	}
}
