package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// policyTB records whether cannotBoot failed or skipped.
type policyTB struct {
	testing.TB
	fatal, skip string
}

func (p *policyTB) Helper()                      {}
func (p *policyTB) Fatalf(f string, args ...any) { p.fatal = fmt.Sprintf(f, args...) }
func (p *policyTB) Skipf(f string, args ...any)  { p.skip = fmt.Sprintf(f, args...) }

func TestCannotBootPolicy(t *testing.T) {
	reason := errors.New("no cgroup2 mount\n--- init log ---\nboom")
	for _, tc := range []struct {
		ci        string
		wantFatal bool
	}{{"true", true}, {"", false}, {"false", false}} {
		t.Setenv("CI", tc.ci)
		p := &policyTB{TB: t}
		cannotBoot(p, reason)
		if tc.wantFatal && (p.fatal == "" || p.skip != "") {
			t.Errorf("CI=%q: fatal %q, skip %q; want a failure", tc.ci, p.fatal, p.skip)
		}
		if !tc.wantFatal && (p.skip == "" || p.fatal != "") {
			t.Errorf("CI=%q: fatal %q, skip %q; want a skip", tc.ci, p.fatal, p.skip)
		}
		if got := p.fatal + p.skip; !strings.Contains(got, "boom") {
			t.Errorf("CI=%q: message %q lacks the boot log", tc.ci, got)
		}
	}
}
