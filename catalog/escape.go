package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// EscapeIdentity makes a source-given name (a group id, a principal such as
// "User:CN=alice, OU=eng") usable in a URN, which may not contain
// whitespace or control characters: it percent-encodes '%', whitespace,
// control characters and invalid UTF-8 bytes, byte by byte (a space becomes
// %20), and keeps everything else, including '/' and non-ASCII letters. Names
// without such characters — every valid topic name, almost every group id —
// are returned unchanged.
func EscapeIdentity(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == '%' || b >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '%' || (r == utf8.RuneError && size == 1) || unicode.IsSpace(r) || unicode.IsControl(r) {
			for j := i; j < i+size; j++ {
				sb.WriteByte('%')
				sb.WriteByte(hex[s[j]>>4])
				sb.WriteByte(hex[s[j]&15])
			}
		} else {
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}
