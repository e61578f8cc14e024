package journal

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// compileGrep returns a message matcher. Literal patterns, the common
// case, skip the regexp engine: a byte search (after ASCII case folding
// when insensitive) is many times faster.
func compileGrep(expr string, caseSensitive bool) (func([]byte) bool, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("bad grep pattern: %w", err)
	}
	if regexp.QuoteMeta(expr) == expr && isASCII(expr) {
		lit := []byte(expr)
		if caseSensitive {
			return func(msg []byte) bool { return bytes.Contains(msg, lit) }, nil
		}
		return foldContains(bytes.ToLower(lit)), nil
	}
	if !caseSensitive {
		re = regexp.MustCompile("(?i)" + expr)
	}
	pre := requiredLiteral(expr, caseSensitive)
	return func(msg []byte) bool {
		if pre != nil && !pre(msg) {
			return false
		}
		if !utf8.Valid(msg) {
			return re.Match(bytes.ToValidUTF8(msg, []byte("\uFFFD")))
		}
		return re.Match(msg)
	}, nil
}

// requiredLiteral returns a fast test for the longest ASCII literal every
// match of expr must contain (a literal element of its top-level
// concatenation), so the regexp engine only runs on candidate messages;
// nil when there is none.
func requiredLiteral(expr string, caseSensitive bool) func([]byte) bool {
	flags := syntax.Perl
	if !caseSensitive {
		flags |= syntax.FoldCase
	}
	re, err := syntax.Parse(expr, flags)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	var best *syntax.Regexp
	for _, sub := range subs {
		if sub.Op == syntax.OpLiteral && isASCII(string(sub.Rune)) && (best == nil || len(sub.Rune) > len(best.Rune)) {
			best = sub
		}
	}
	if best == nil || len(best.Rune) < 2 {
		return nil
	}
	lit := []byte(string(best.Rune))
	if best.Flags&syntax.FoldCase == 0 {
		return func(msg []byte) bool { return bytes.Contains(msg, lit) }
	}
	return foldContains(bytes.ToLower(lit))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldContains matches messages containing lit (lower case, ASCII) in any
// ASCII case. It scans at IndexByte speed for lit's least common byte (a
// symbol or digit beats a letter, which beats a space) and compares around
// each hit.
func foldContains(lit []byte) func([]byte) bool {
	if len(lit) == 0 {
		return func([]byte) bool { return true }
	}
	k := 0
	for i, c := range lit {
		if commonness(c) <= commonness(lit[k]) {
			k = i
		}
	}
	lo, up := lit[k], lit[k]
	if lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	return func(msg []byte) bool {
		for p := k; p+len(lit)-k <= len(msg); p++ {
			j := indexEither(msg[p:len(msg)-(len(lit)-k)+1], lo, up)
			if j < 0 {
				return false
			}
			p += j
			if equalFoldASCII(msg[p-k:p-k+len(lit)], lit) {
				return true
			}
		}
		return false
	}
}

func commonness(c byte) int {
	switch {
	case c == ' ':
		return 3
	case c >= 'a' && c <= 'z':
		return 2
	case c >= '0' && c <= '9':
		return 1
	}
	return 0
}

func indexEither(b []byte, x, y byte) int {
	i := bytes.IndexByte(b, x)
	if x == y {
		return i
	}
	lim := b
	if i >= 0 {
		lim = b[:i]
	}
	if k := bytes.IndexByte(lim, y); k >= 0 {
		return k
	}
	return i
}

func equalFoldASCII(b, lowerLit []byte) bool {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerLit[i] {
			return false
		}
	}
	return true
}
