package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadCursor reads the cursor saved by saveCursor; a missing file or an
// empty path means "from the start".
func loadCursor(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("syslog forward: read state: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// saveCursor replaces the state file atomically: write a temporary file in
// the same directory, fsync it, rename it over the old one and fsync the
// directory, so that a crash leaves either the old or the new cursor.
func saveCursor(path, cursor string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("syslog forward: save state: %w", err)
	}
	_, err = tmp.WriteString(cursor + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("syslog forward: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("syslog forward: save state: sync dir: %w", err)
		}
	}
	return nil
}
