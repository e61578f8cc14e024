//go:build cgo && !netgo

package main

// README promises one static binary that can be copied into any image, and
// `go build` enables cgo whenever a C compiler is found; the standard
// library's net package then links glibc's resolver dynamically. A module
// cannot set CGO_ENABLED or build tags for its users, so when cgo is on,
// tend links statically instead (docs/decisions.md). The resolver in the
// C library is never used: main.go selects Go's own (netdns=go), which
// works in a static binary where glibc's NSS modules cannot be loaded.

// #cgo LDFLAGS: -static
import "C"
