package logroute

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// state is what the Router persists: the cursor of the last entry written
// and, for each file, its identity and size right after that entry.
type state struct {
	// saved is false when there was no state file: the first run.
	saved  bool
	cursor string // "" with saved: from the journal's start
	files  map[string]fileState
}

type fileState struct {
	dev, ino uint64
	size     int64
}

// loadState reads the state file; a missing one is an empty state.
//
//	cursor CURSOR
//	file SIZE DEV INO PATH
func loadState(path string) (state, error) {
	st := state{files: map[string]fileState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("log routing state: %w", err)
	}
	st.saved = true
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "cursor":
			st.cursor = rest
		case "file":
			f := strings.SplitN(rest, " ", 4)
			if len(f) != 4 {
				continue
			}
			size, err1 := strconv.ParseInt(f[0], 10, 64)
			dev, err2 := strconv.ParseUint(f[1], 10, 64)
			ino, err3 := strconv.ParseUint(f[2], 10, 64)
			if err1 == nil && err2 == nil && err3 == nil {
				st.files[f[3]] = fileState{dev: dev, ino: ino, size: size}
			}
		}
	}
	return st, nil
}

// saveState replaces the state file: a temporary file renamed over it, so
// a crash leaves the old or the new state. With sync the temporary file is
// flushed to disk first, so that after a machine crash the state is never
// newer than the synced files it describes.
func saveState(path string, st state, sync bool) error {
	var b []byte
	b = append(append(append(b, "cursor "...), st.cursor...), '\n')
	for p, f := range st.files {
		b = fmt.Appendf(b, "file %d %d %d %s\n", f.size, f.dev, f.ino, p)
	}
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, b, 0o600)
	if err == nil && sync {
		var f *os.File
		if f, err = os.Open(tmp); err == nil {
			err = f.Sync()
			f.Close()
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("log routing state %s: %w", filepath.Base(path), err)
	}
	return nil
}
