package unit

import (
	"errors"
	"fmt"
	"strings"
)

// NameMax is the longest valid unit name, as in systemd.
const NameMax = 255

var knownKinds = map[Kind]bool{
	KindService: true, KindSocket: true, KindTimer: true, KindTarget: true,
	KindPath: true, KindMount: true, KindSlice: true, KindScope: true,
	KindDevice: true, KindSwap: true, KindAuto: true, KindSvdir: true,
}

// KnownKind reports whether k is a unit type suffix tend recognises.
func KnownKind(k Kind) bool { return knownKinds[k] }

// validNameChar reports whether c may appear in a unit name prefix or
// instance (systemd's alphanumerics plus ":-_.\").
func validNameChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte(":-_.\\", c) >= 0
}

// SplitName splits "getty@tty1.service" into prefix "getty", instance
// "tty1" and kind "service". A template ("getty@.service") has an empty
// instance; a plain name has no '@' and instance "". It does not validate.
func SplitName(name string) (prefix, instance string, kind Kind) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return name, "", ""
	}
	kind = Kind(name[dot+1:])
	base := name[:dot]
	if at := strings.IndexByte(base, '@'); at >= 0 {
		return base[:at], base[at+1:], kind
	}
	return base, "", kind
}

// CompleteName completes a unit name the way systemctl does: "web" is
// "web.service"; globs and names with a known unit suffix stay as they are.
func CompleteName(name string) string {
	if strings.ContainsAny(name, "*?[") {
		return name
	}
	if _, _, kind := SplitName(name); KnownKind(kind) && len(name) > len(kind)+1 {
		return name
	}
	return name + ".service"
}

// IsTemplate reports whether name is a template such as "getty@.service".
func IsTemplate(name string) bool {
	p, i, _ := SplitName(name)
	return i == "" && strings.Contains(name, "@") && p != ""
}

// IsInstance reports whether name is an instance such as "getty@tty1.service".
func IsInstance(name string) bool {
	_, i, _ := SplitName(name)
	return i != ""
}

// TemplateOf returns the template of an instance name ("getty@tty1.service"
// → "getty@.service"), or "" when name is not an instance.
func TemplateOf(name string) string {
	p, i, k := SplitName(name)
	if i == "" {
		return ""
	}
	return p + "@." + string(k)
}

// Instantiate returns the instance of template for inst.
func Instantiate(template, inst string) string {
	p, _, k := SplitName(template)
	return p + "@" + inst + "." + string(k)
}

// ValidName checks a unit, template or instance name the way systemd
// does: a known type suffix, a non-empty prefix, at most one '@', only
// alphanumerics and ":-_.\" (plus '@'), at most NameMax bytes. It also
// refuses ".." so a name can never climb out of a directory.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty unit name")
	}
	if len(name) > NameMax {
		return fmt.Errorf("unit name %q is longer than %d bytes", name, NameMax)
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("unit name %q contains '/'", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("unit name %q contains \"..\"", name)
	}
	prefix, inst, kind := SplitName(name)
	if kind == "" {
		return fmt.Errorf("unit name %q has no type suffix", name)
	}
	if !knownKinds[kind] {
		return fmt.Errorf("unit name %q has unknown type %q", name, kind)
	}
	if prefix == "" {
		return fmt.Errorf("unit name %q has an empty prefix", name)
	}
	if strings.Count(name, "@") > 1 {
		return fmt.Errorf("unit name %q has more than one '@'", name)
	}
	for _, part := range []string{prefix, inst} {
		for i := 0; i < len(part); i++ {
			if !validNameChar(part[i]) {
				return fmt.Errorf("unit name %q contains invalid character %q", name, part[i])
			}
		}
	}
	return nil
}

// Escape escapes s for use in a unit name like `systemd-escape`: '/'
// becomes '-', and bytes other than alphanumerics, ':', '_' and '.' (and
// a leading '.') become \xNN.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0, c != '.' && (c == '-' || c == '\\' || !validNameChar(c)):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// EscapePath escapes a file system path like `systemd-escape --path`:
// redundant and surrounding slashes are dropped and "/" becomes "-".
func EscapePath(p string) string {
	parts := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	clean := parts[:0]
	for _, s := range parts {
		if s != "." {
			clean = append(clean, s)
		}
	}
	if len(clean) == 0 {
		return "-"
	}
	return Escape(strings.Join(clean, "/"))
}

// Unescape reverses Escape: '-' becomes '/' and \xNN becomes the byte.
func Unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			b.WriteByte('/')
		case c == '\\':
			if i+3 >= len(s) || s[i+1] != 'x' {
				return "", fmt.Errorf("bad escape at offset %d in %q", i, s)
			}
			v, ok := unhex2(s[i+2 : i+4])
			if !ok {
				return "", fmt.Errorf("bad escape at offset %d in %q", i, s)
			}
			b.WriteByte(v)
			i += 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// UnescapePath reverses EscapePath, always returning an absolute path.
func UnescapePath(s string) (string, error) {
	if s == "-" {
		return "/", nil
	}
	u, err := Unescape(s)
	if err != nil {
		return "", err
	}
	return "/" + u, nil
}

func unhex2(s string) (byte, bool) {
	var v byte
	for i := 0; i < 2; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}
