package condition

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// op is a comparison operator of ConditionKernelVersion=, ConditionCPUs=,
// ConditionMemory= and ConditionOSRelease=.
type op int

const (
	opNone op = iota // no operator given
	opLT
	opLE
	opEQ
	opNE
	opGE
	opGT
	opGlob    // $=
	opNotGlob // !$=
	opVerEQ   // == (version equality; plain equality for numbers)
	opVerNE   // <> (version inequality)
)

// cutOp splits a leading comparison operator off s. Longer operators are
// tried first so "<=" is not read as "<".
func cutOp(s string) (op, string) {
	for _, o := range []struct {
		s  string
		op op
	}{{"!$=", opNotGlob}, {"$=", opGlob}, {"<=", opLE}, {">=", opGE}, {"==", opVerEQ},
		{"<>", opVerNE}, {"!=", opNE}, {"=", opEQ}, {"<", opLT}, {">", opGT}} {
		if rest, ok := strings.CutPrefix(s, o.s); ok {
			return o.op, strings.TrimSpace(rest)
		}
	}
	return opNone, s
}

// holds applies o to the result of a three-way comparison.
func (o op) holds(cmp int) bool {
	switch o {
	case opLT:
		return cmp < 0
	case opLE:
		return cmp <= 0
	case opNE, opVerNE:
		return cmp != 0
	case opGE:
		return cmp >= 0
	case opGT:
		return cmp > 0
	default:
		return cmp == 0
	}
}

// matchString applies o to a string value: "=" and "!=" compare literally,
// "$=" and "!$=" (and no operator when glob is set) match a shell glob,
// the rest compare as versions.
func matchString(o op, have, want string, noOpIsGlob bool) (bool, error) {
	if o == opNone {
		o = opEQ
		if noOpIsGlob {
			o = opGlob
		}
	}
	switch o {
	case opEQ:
		return have == want, nil
	case opNE:
		return have != want, nil
	case opGlob, opNotGlob:
		m, err := fnmatch(want, have)
		if err != nil {
			return false, err
		}
		return m == (o == opGlob), nil
	}
	return o.holds(compareVersions(have, want)), nil
}

// fnmatch matches a shell glob without path semantics ("*" matches "/"
// too, as fnmatch(3) without FNM_PATHNAME). path.Match treats only "/"
// specially, so mapping it to a byte path.Match does not treat specially
// gives exactly that.
func fnmatch(pattern, s string) (bool, error) {
	unslash := func(x string) string { return strings.ReplaceAll(x, "/", "\x00") }
	m, err := path.Match(unslash(pattern), unslash(s))
	if err != nil {
		return false, fmt.Errorf("bad glob %q", pattern)
	}
	return m, nil
}

// compareSize tests "[op]N[K|M|G|T…]" against have. Suffixes are powers
// of 1024, as in systemd.
func compareSize(arg string, have uint64, suffixes bool) (bool, error) {
	o, v := cutOp(arg)
	if o == opGlob || o == opNotGlob {
		return false, fmt.Errorf("operator not allowed in %q", arg)
	}
	want, err := parseSize(v, suffixes)
	if err != nil {
		return false, err
	}
	cmp := 0
	switch {
	case have < want:
		cmp = -1
	case have > want:
		cmp = 1
	}
	return o.holds(cmp), nil
}

func parseSize(s string, suffixes bool) (uint64, error) {
	mult := uint64(1)
	if suffixes && s != "" {
		units := "KMGTPE"
		if i := strings.IndexByte(units, s[len(s)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			s = strings.TrimSpace(s[:len(s)-1])
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if n > ^uint64(0)/mult {
		return 0, fmt.Errorf("number %q too large", s)
	}
	return n * mult, nil
}

// compareVersions orders two version strings the way systemd does
// (systemd-analyze compare-versions): characters other than letters,
// digits and "~-^." are ignored; "~" sorts before anything, even the end
// of the string; then a string that ends is older; "-" sorts before other
// separators and "^" and "." follow; digit runs compare numerically and
// are newer than letter runs, which compare lexically.
func compareVersions(a, b string) int {
	if a == "" || b == "" {
		return strings.Compare(a, b)
	}
	for {
		a, b = strings.TrimLeftFunc(a, invalidVersionRune), strings.TrimLeftFunc(b, invalidVersionRune)
		if strings.HasPrefix(a, "~") || strings.HasPrefix(b, "~") {
			if c := cmpBool(!strings.HasPrefix(a, "~"), !strings.HasPrefix(b, "~")); c != 0 {
				return c
			}
			a, b = a[1:], b[1:]
		}
		if a == "" || b == "" {
			return strings.Compare(a, b)
		}
		for _, sep := range []byte{'-', '^', '.'} {
			if first(a) == sep || first(b) == sep {
				if c := cmpBool(first(a) != sep, first(b) != sep); c != 0 {
					return c
				}
				a, b = a[1:], b[1:]
			}
		}
		var sa, sb string
		if isDigit(first(a)) || isDigit(first(b)) {
			sa, a = cutRun(a, isDigit)
			sb, b = cutRun(b, isDigit)
			if c := cmpBool(sa != "", sb != ""); c != 0 {
				return c // a number is newer than letters
			}
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if c := cmpInt(len(sa), len(sb)); c != 0 {
				return c
			}
			if c := strings.Compare(sa, sb); c != 0 {
				return c
			}
		} else {
			sa, a = cutRun(a, isAlpha)
			sb, b = cutRun(b, isAlpha)
			n := min(len(sa), len(sb))
			if c := strings.Compare(sa[:n], sb[:n]); c != 0 {
				return c
			}
			if c := cmpInt(len(sa), len(sb)); c != 0 {
				return c
			}
		}
	}
}

// first returns the first byte of s, or 0 for the empty string.
func first(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

func invalidVersionRune(r rune) bool {
	return !(r < 128 && (isDigit(byte(r)) || isAlpha(byte(r)))) && !strings.ContainsRune("~-^.", r)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func cutRun(s string, f func(byte) bool) (run, rest string) {
	i := 0
	for i < len(s) && f(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
