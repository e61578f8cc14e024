package spawn

import "strings"

// envFileState is the state of the EnvironmentFile= parser.
type envFileState int

const (
	efPreKey envFileState = iota
	efKey
	efPreValue
	efValue
	efValueEscape
	efSingle
	efDouble
	efDoubleEscape
	efComment
	efCommentEscape
)

// ParseEnvFile parses the contents of an EnvironmentFile= as systemd
// does and returns KEY=VALUE assignments in file order. Lines starting
// with # or ; are comments; blank lines and lines without "=" are
// ignored; whitespace around the key and before the value is dropped;
// unquoted values lose trailing whitespace and honour backslash escapes;
// 'single quotes' are literal; "double quotes" unescape \" \\ \` \$ only;
// a backslash before a newline continues the line. Assignments whose key
// is not a valid variable name are skipped.
func ParseEnvFile(s string) []string {
	var (
		out        []string
		key, val   strings.Builder
		st         = efPreKey
		trailingWS int // unquoted whitespace at the end of val
	)
	push := func() {
		k := strings.TrimRight(key.String(), " \t\r")
		v := val.String()
		v = v[:len(v)-trailingWS]
		if ValidEnvName(k) {
			out = append(out, k+"="+v)
		}
		key.Reset()
		val.Reset()
		trailingWS = 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		nl := c == '\n' || c == '\r'
		ws := c == ' ' || c == '\t' || nl
		switch st {
		case efPreKey:
			if c == '#' || c == ';' {
				st = efComment
			} else if !ws {
				st = efKey
				key.WriteByte(c)
			}
		case efKey:
			switch {
			case nl:
				st = efPreKey
				key.Reset()
			case c == '=':
				st = efPreValue
			default:
				key.WriteByte(c)
			}
		case efPreValue:
			switch {
			case nl:
				st = efPreKey
				push()
			case c == '\'':
				st = efSingle
			case c == '"':
				st = efDouble
			case c == '\\':
				st = efValueEscape
			case !ws:
				st = efValue
				val.WriteByte(c)
			}
		case efValue:
			switch {
			case nl:
				st = efPreKey
				push()
			case c == '\\':
				st = efValueEscape
				trailingWS = 0
			default:
				val.WriteByte(c)
				if ws {
					trailingWS++
				} else {
					trailingWS = 0
				}
			}
		case efValueEscape:
			st = efValue
			if !nl {
				val.WriteByte(c)
			}
		case efSingle:
			if c == '\'' {
				st = efPreValue
			} else {
				val.WriteByte(c)
			}
		case efDouble:
			switch c {
			case '"':
				st = efPreValue
			case '\\':
				st = efDoubleEscape
			default:
				val.WriteByte(c)
			}
		case efDoubleEscape:
			st = efDouble
			switch {
			case strings.IndexByte("\"\\`$", c) >= 0:
				val.WriteByte(c)
			case nl:
			default:
				val.WriteByte('\\')
				val.WriteByte(c)
			}
		case efComment:
			if c == '\\' {
				st = efCommentEscape
			} else if nl {
				st = efPreKey
			}
		case efCommentEscape:
			st = efComment
		}
	}
	switch st {
	case efPreValue, efValue, efValueEscape, efSingle, efDouble, efDoubleEscape:
		push()
	}
	return out
}
