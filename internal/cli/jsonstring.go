package cli

import "unicode/utf8"

// The JSON documents and events are encoded by functions jsongen writes
// from the types, byte for byte what encoding/json prints, without its
// reflection (internal/cli/jsongen). Their tests check the file is what
// jsongen prints now.
//
//go:generate go run ./jsongen -o zz_json.go

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it with HTML escaping on (Go 1.26, encode.go appendString): " and
// \ escaped; \b \f \n \r \t short; every other control character, and
// <, > and &, as \u00xx (lower-case hex); each byte of invalid UTF-8 as
// \ufffd; U+2028 and U+2029 as \u2028 and \u2029.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not JavaScript before ES2019 (JSONP).
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// jsonSafe holds, for each ASCII byte, whether a JSON string with HTML
// escaping holds it as it is: all but the control characters, ", \, <, >
// and & (DEL is as it is, as in encoding/json's htmlSafeSet).
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		safe[c] = true
	}
	for _, c := range `"\<>&` {
		safe[c] = false
	}
	return safe
}()
