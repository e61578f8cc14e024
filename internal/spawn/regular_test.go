package spawn

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/unit"
)

// TestFilesReadBeforeTheForkAreRegular: an EnvironmentFile= or a
// LoadCredential= that is a FIFO nobody writes, or a device, gets an
// error at once instead of holding the manager's loop in open or read.
func TestFilesReadBeforeTheForkAreRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("A=1\n"), 0o600)
	for _, path := range []string{fifo, "/dev/zero", dir} {
		s := Spec{Exec: &unit.ExecContext{EnvironmentFiles: []unit.EnvFile{{Path: path}}}}
		if _, err := BuildEnv(s, nil); !errors.Is(err, errNotRegular) && !errors.Is(err, unix.EISDIR) {
			t.Errorf("EnvironmentFile=%s: %v; want it refused as not a regular file", path, err)
		}
		if _, err := loadCredential(unit.Credential{ID: "c", Path: path}); !errors.Is(err, errNotRegular) && !errors.Is(err, unix.EISDIR) {
			t.Errorf("LoadCredential=c:%s: %v; want it refused as not a regular file", path, err)
		}
	}
	s := Spec{Exec: &unit.ExecContext{EnvironmentFiles: []unit.EnvFile{{Path: plain}}}}
	if env, err := BuildEnv(s, nil); err != nil || env[len(env)-1] != "A=1" {
		t.Errorf("EnvironmentFile=%s: %q, %v; want A=1 read", plain, env, err)
	}
}

// TestStandardInputFileFIFO: StandardInput=file: naming a FIFO opens
// without waiting for a writer (the open runs on the manager's loop), and
// the child gets it in blocking mode.
func TestStandardInputFileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "in")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &plan{ec: &unit.ExecContext{StandardInput: "file:" + fifo}}
	f, err := p.inputFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("flags %#x, %v; want the FIFO in blocking mode for the child", fl, err)
	}
}
