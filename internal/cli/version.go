package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is tend's release, stamped by a release build with
// -ldflags "-X github.com/tendproject/tend/internal/cli.Version=1.2.3".
// Other builds name the commit the go command recorded.
var Version string

const versionTemplate = "{{.Name}} {{.Version}}\n"

// versionString is what --version prints after the name:
// "1.2.3 (go1.26.8)", "v0.0.0-…-abcdef (go1.26.8)", "devel abcdef123456+dirty (go1.26.8)".
func versionString() string {
	v := Version
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "devel"
		if ok {
			v += vcsSuffix(bi.Settings)
		}
	}
	return strings.TrimPrefix(v, "v") + " (" + runtime.Version() + ")"
}

// vcsSuffix is " REV[+dirty]" from the build's version-control stamps.
func vcsSuffix(settings []debug.BuildSetting) string {
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return " " + rev
}
