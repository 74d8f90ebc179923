package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/reconcile"
)

// On a terminal a step in progress is one line rewritten in place (with
// its elapsed time and latest progress); the step's end replaces it with
// the step's line; the ticker that redraws it stops with the step. Off a
// terminal nothing but the ends is printed.
func TestProgressLine(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tty := range []bool{true, false} {
		var out bytes.Buffer
		v := &textView{stdout: &out, stderr: &out, tty: tty, title: "parachute reconcile"}
		v.Event(actuate.Event{Event: "step-start", N: 17, Action: reconcile.WaitModules, Target: "3 modules"})
		v.Event(actuate.Event{Event: "step-progress", N: 17, Action: reconcile.WaitModules, Target: "3 modules", Progress: "1 of 3 modules up; waiting for vault"})
		v.Event(actuate.Event{Event: "step-done", N: 17, Action: reconcile.WaitModules, Target: "3 modules", Elapsed: "1.2s"})
		got := out.String()
		want := "17. wait-modules 3 modules (1.2s)\n"
		if !strings.HasSuffix(got, want) {
			t.Errorf("tty=%v: output ends %q, want %q", tty, got, want)
		}
		inPlace := strings.Contains(got, "\r\x1b[K") && progressRE.MatchString(got)
		if inPlace != tty {
			t.Errorf("tty=%v: progress line shown=%v in %q", tty, inPlace, got)
		}
		if strings.Count(got, "\n") != 1 {
			t.Errorf("tty=%v: %d lines, want the step's one: %q", tty, strings.Count(got, "\n"), got)
		}
	}
}

var progressRE = regexp.MustCompile(`17\. wait-modules 3 modules \(\d+s\): 1 of 3 modules up; waiting for vault`)

func TestUTF8Locale(t *testing.T) {
	for env, want := range map[string]bool{
		"":                            false,
		"LANG=C":                      false,
		"LANG=C.UTF-8":                true,
		"LANG=en_US.utf8":             true,
		"LC_ALL=C LANG=en_US.UTF-8":   false,
		"LC_CTYPE=de_DE.UTF-8 LANG=C": true,
	} {
		vars := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		if got := utf8Locale(func(k string) string { return vars[k] }); got != want {
			t.Errorf("%q: utf8Locale = %v, want %v", env, got, want)
		}
	}
}
