package main

import (
	"debug/elf"
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryIsStatic checks the binary TestMain built the way README says
// (`CGO_ENABLED=0 go build`): no program
// interpreter, no dynamic section, so it runs in an image without a C
// library.
func TestBinaryIsStatic(t *testing.T) {
	out, _ := exec.Command("go", "env", "CGO_ENABLED").Output()
	t.Logf("built with CGO_ENABLED=%s", strings.TrimSpace(string(out)))
	f, err := elf.Open(tendBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header; want a static binary", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
}
