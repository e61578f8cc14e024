package inspect

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// psEscape renders text from /proc (arguments, names) as procps shows it on
// a terminal. In a UTF-8 locale a control character becomes '?', and so
// does a character that cannot be printed; from the first byte that is not
// UTF-8 on, control characters become '.' and every byte above ASCII '?'.
// In any other locale the whole string is treated that way.
func psEscape(s string, utf bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if !utf {
			return b.String() + escapeBytes(s[i:])
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return b.String() + escapeBytes(s[i:])
		case r < 0x20 || r == 0x7f || n > 1 && !unicode.IsPrint(r) && !unicode.Is(unicode.Zs, r):
			b.WriteByte('?')
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escapeBytes is procps's byte-wise escape: control characters '.',
// bytes above ASCII '?'.
func escapeBytes(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c < 0x20 || c == 0x7f:
			b[i] = '.'
		case c >= 0x80:
			b[i] = '?'
		}
	}
	return string(b)
}

// cells counts the terminal columns s takes (one per character).
func cells(s string) int { return utf8.RuneCountInString(s) }

// cutCells cuts s to at most n columns.
func cutCells(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// UTF8Locale reports whether the locale the environment names (LC_ALL,
// then LC_CTYPE, then LANG) uses UTF-8, which decides how ps escapes text.
func UTF8Locale(getenv func(string) string) bool {
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := getenv(k); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}
