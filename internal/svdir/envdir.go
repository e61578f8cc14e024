package svdir

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// EnvVar is one file of an envdir: set Name to Value, or remove Name
// from the environment when Unset.
type EnvVar struct {
	Name  string
	Value string
	Unset bool
}

// envFileMax bounds how much of one file is read: only its first line
// counts, and a variable longer than this is a mistake, not a value.
const envFileMax = 128 << 10

// ReadEnvDir reads an envdir as daemontools' envdir and runit's chpst -e
// do: one variable per file, named by the file; its value is the file's
// first line with trailing spaces and tabs removed and NUL bytes turned
// into newlines; an empty file (0 bytes) unsets the variable. Names
// starting with '.' are skipped. The result is sorted by name.
func ReadEnvDir(dir string) ([]EnvVar, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("envdir %s: %w", dir, err)
	}
	var vars []EnvVar
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if strings.Contains(name, "=") {
			return nil, fmt.Errorf("envdir %s: file name %q contains '='", dir, name)
		}
		b, err := readHead(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("envdir %s: %w", dir, err)
		}
		v, unset := EnvValue(b)
		vars = append(vars, EnvVar{Name: name, Value: v, Unset: unset})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	return vars, nil
}

// readHead reads a regular file's first line (or its first envFileMax
// bytes), following symlinks.
func readHead(path string) ([]byte, error) {
	// Non-blocking: a FIFO would hold the open until a writer came.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	b, err := io.ReadAll(io.LimitReader(f, envFileMax))
	if err != nil {
		return nil, err
	}
	if len(b) == envFileMax && bytes.IndexByte(b, '\n') < 0 {
		return nil, fmt.Errorf("%s: first line longer than %d bytes", filepath.Base(path), envFileMax)
	}
	return b, nil
}

// EnvValue turns an envdir file's content into the variable's value, or
// reports that the variable is unset (an empty file).
func EnvValue(content []byte) (value string, unset bool) {
	if len(content) == 0 {
		return "", true
	}
	line, _, _ := bytes.Cut(content, []byte{'\n'})
	line = bytes.TrimRight(line, " \t")
	return string(bytes.ReplaceAll(line, []byte{0}, []byte{'\n'})), false
}

// ApplyEnv returns env (NAME=value strings) with vars applied: each set
// replaces any earlier value, each unset removes the name.
func ApplyEnv(env []string, vars []EnvVar) []string {
	drop := make(map[string]bool, len(vars))
	for _, v := range vars {
		drop[v.Name] = true
	}
	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	for _, v := range vars {
		if !v.Unset {
			out = append(out, v.Name+"="+v.Value)
		}
	}
	return out
}
