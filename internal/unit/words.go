package unit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// nextWord extracts the first whitespace-separated word of s the way
// systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) does:
// single and double quotes group (and are removed), backslash escapes
// are C escapes. It returns the word, the rest of s, and whether a word
// was found. An unknown escape is kept as it is (systemd's relaxed
// mode) and counted in *relaxed when relaxed is not nil.
func nextWord(s string, relaxed *int) (word, rest string, ok bool, err error) {
	s = strings.TrimLeft(s, " \t\n\r")
	if s == "" {
		return "", "", false, nil
	}
	var b strings.Builder
	var quote byte
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\':
			r, n, e := cUnescape(s[i:])
			if errors.Is(e, errUnknownEscape) {
				if relaxed != nil {
					*relaxed++
				}
				r, n, e = s[i:i+2], 2, nil
			}
			if e != nil {
				return "", "", false, e
			}
			b.WriteString(r)
			i += n
			continue
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return b.String(), s[i:], true, nil
		default:
			b.WriteByte(c)
		}
		i++
	}
	if quote != 0 {
		return "", "", false, fmt.Errorf("unbalanced quoting in %q", s)
	}
	return b.String(), "", true, nil
}

// splitWords splits s fully with nextWord.
func splitWords(s string) ([]string, error) {
	var out []string
	for {
		w, rest, ok, err := nextWord(s, nil)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, w)
		s = rest
	}
}

// cUnescape decodes the C escape at the start of s (which begins with a
// backslash) and returns the text and the number of bytes consumed.
func cUnescape(s string) (string, int, error) {
	if len(s) < 2 {
		return "", 0, fmt.Errorf("trailing backslash in %q", s)
	}
	simple := map[byte]string{
		'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v",
		'\\': "\\", '"': "\"", '\'': "'", 's': " ",
	}
	if r, ok := simple[s[1]]; ok {
		return r, 2, nil
	}
	num := func(start, n, base int) (uint64, error) {
		if len(s) < start+n {
			return 0, fmt.Errorf("short escape in %q", s)
		}
		return strconv.ParseUint(s[start:start+n], base, 32)
	}
	switch s[1] {
	case 'x':
		v, err := num(2, 2, 16)
		if err != nil || v == 0 {
			return "", 0, fmt.Errorf("invalid escape in %q", s)
		}
		return string([]byte{byte(v)}), 4, nil
	case 'u', 'U':
		n := 4
		if s[1] == 'U' {
			n = 8
		}
		v, err := num(2, n, 16)
		if err != nil || v == 0 || !utf8.ValidRune(rune(v)) {
			return "", 0, fmt.Errorf("invalid escape in %q", s)
		}
		return string(rune(v)), 2 + n, nil
	case '0', '1', '2', '3':
		v, err := num(1, 3, 8)
		if err != nil || v == 0 {
			return "", 0, fmt.Errorf("invalid escape in %q", s)
		}
		return string([]byte{byte(v)}), 4, nil
	}
	return "", 0, errUnknownEscape
}

// errUnknownEscape marks a backslash sequence C does not define.
var errUnknownEscape = errors.New("unknown escape sequence")
