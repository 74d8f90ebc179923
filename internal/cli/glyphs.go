package cli

import (
	"os"
	"strings"
	"sync"
)

// Status marks: ✓ ✗ … on a UTF-8 terminal, "ok", "x", ".." without a UTF-8
// locale (LC_ALL, else LC_CTYPE, else LANG, as setlocale(3) reads them).
// The text has no colour, so NO_COLOR has nothing to turn off.
var marks = sync.OnceValue(func() glyphs {
	if utf8Locale(os.Getenv) {
		return unicodeMarks
	}
	return asciiMarks
})

// glyphs are the three status marks.
type glyphs struct{ ok, bad, wait string }

var (
	unicodeMarks = glyphs{"✓", "✗", "…"}
	asciiMarks   = glyphs{"ok", "x", ".."}
)

// utf8Locale reports whether the locale getenv describes uses UTF-8. An
// unset locale (cron, a bare service) is the C locale: ASCII.
func utf8Locale(getenv func(string) string) bool {
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := getenv(k); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}
