package procfs

import (
	"bytes"
	"testing"
)

// The walk cuts stat's fields itself; it must cut them as bytes.Fields does.
func TestStatFieldsSplitAsBytesFields(t *testing.T) {
	for _, in := range []string{
		"", " ", "S 1 2 3\n", "  R\t1\v2\f3\r4  ", "a", "a  b", "x\n\ny ",
	} {
		var got [][]byte
		for f := range statFields([]byte(in)) {
			got = append(got, f)
		}
		want := bytes.Fields([]byte(in))
		if len(got) != len(want) {
			t.Fatalf("statFields(%q) = %q, want %q", in, got, want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("statFields(%q) = %q, want %q", in, got, want)
			}
		}
	}
	for _, st := range []string{"R", "S", "D", "T", "t", "X", "Z", "P", "I", "W", "K", "RS"} {
		if got := stateString([]byte(st)); got != st {
			t.Errorf("stateString(%q) = %q", st, got)
		}
	}
}
