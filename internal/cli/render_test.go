package cli

import (
	"testing"
)

// TestArgvStringEscapesControlCharacters pins a defect in argvString
// (render.go): only space, tab, newline, quotes, '\', '$' and '`' trigger
// quoting, so a squatter's argv carrying a carriage return or an ANSI
// escape sequence reaches the operator's terminal raw in the blocker line
// ("pid …, user …, port …: <argv>") and in `parachute observe`. Any local
// user picks their own argv: "\r" plus text overwrites the line, ESC[2K
// erases it, so a blocker can be made to read as something harmless. The
// comment promises "so the line can be pasted"; control bytes must be
// quoted (strconv.Quote does it).
func TestArgvStringEscapesControlCharacters(t *testing.T) {
	for _, argv := range [][]string{
		{"/usr/bin/evil", "x\r✓converged"},
		{"/usr/bin/evil\x1b[2K"},
		{"/usr/bin/evil", "\x07\x08"},
	} {
		s := argvString(argv)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == 0x7f {
				t.Errorf("argvString(%q) = %q: raw control byte %#x reaches the terminal", argv, s, c)
				break
			}
		}
	}
}
