package condition

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// under maps an absolute path of a condition to the evaluator's root.
func (e *evaluator) under(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("path %q is not absolute", p)
	}
	return filepath.Join(e.env.Root, p), nil
}

// pathTest wraps a test of one resolved path.
func (e *evaluator) pathTest(f func(p string) (bool, error)) func(string) (bool, error) {
	return func(arg string) (bool, error) {
		p, err := e.under(arg)
		if err != nil {
			return false, err
		}
		return f(p)
	}
}

func pathExists(p string) (bool, error) {
	_, err := os.Stat(p)
	return err == nil, nil
}

func (e *evaluator) pathExistsGlob(arg string) (bool, error) {
	p, err := e.under(arg)
	if err != nil {
		return false, err
	}
	m, err := filepath.Glob(p)
	if err != nil {
		return false, fmt.Errorf("bad glob %q: %w", arg, err)
	}
	return len(m) > 0, nil
}

func isDirectory(p string) (bool, error) {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir(), nil
}

func isSymlink(p string) (bool, error) {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0, nil
}

func isReadWrite(p string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return false, nil
	}
	return st.Flags&unix.ST_RDONLY == 0, nil
}

func fileNotEmpty(p string) (bool, error) {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0, nil
}

func fileIsExecutable(p string) (bool, error) {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0, nil
}

// dirNotEmpty reports whether p is a directory with an entry that is
// neither hidden nor a backup file, which systemd ignores here.
func dirNotEmpty(p string) (bool, error) {
	ents, err := os.ReadDir(p)
	if err != nil {
		return false, nil
	}
	for _, ent := range ents {
		if !hiddenOrBackup(ent.Name()) {
			return true, nil
		}
	}
	return false, nil
}

func hiddenOrBackup(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	for _, s := range []string{".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new",
		".dpkg-dist", ".dpkg-bak", ".dpkg-backup", ".dpkg-remove", ".ucf-new", ".ucf-old",
		".ucf-dist", ".swp", ".bak", ".old", ".new"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// isMountPoint reports whether p (symlinks followed) is where a file
// system is mounted: its device differs from its parent's, or it is
// listed in the mount table (bind mounts of the same device).
func (e *evaluator) isMountPoint(p string) (bool, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false, nil
	}
	if real == "/" {
		return true, nil
	}
	var st, parent unix.Stat_t
	if unix.Stat(real, &st) != nil || unix.Stat(filepath.Dir(real), &parent) != nil {
		return false, nil
	}
	if st.Dev != parent.Dev {
		return true, nil
	}
	mounts, err := mountPoints(filepath.Join(e.env.Proc, "self/mountinfo"))
	if err != nil {
		return false, nil
	}
	return mounts[real], nil
}

// mountPoints reads the mount points of a mountinfo file.
func mountPoints(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			m[unescapeOctal(fields[4])] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// unescapeOctal undoes the \ooo escapes of /proc mount tables.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// readTrim reads a small file and trims surrounding white space.
func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// exists reports whether path exists; a path that cannot be examined
// (permission denied) counts as existing, since something is there.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
