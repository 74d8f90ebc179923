package observe

import (
	"testing"
)

func TestFdNameIsTheDecimalName(t *testing.T) {
	p := newProcFS("/proc")
	for _, name := range []string{"0", "1", "9", "10", "255", "256", "1000", "00", "01", "x", "1x", ""} {
		if got := p.fdName([]byte(name)); got != name {
			t.Errorf("fdName(%q) = %q", name, got)
		}
	}
}
