package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/unit"
)

// credStores are searched in order for a LoadCredential= given by name
// rather than by absolute path.
var credStores = []string{"/etc/credstore", "/run/credstore", "/usr/lib/credstore"}

// CredentialsDir is the directory holding unitName's credentials
// ($CREDENTIALS_DIRECTORY), below the runtime base.
func CredentialsDir(d Dirs, unitName string) string {
	if unitName == "" {
		unitName = "unit"
	}
	return filepath.Join(d.Runtime, "credentials", unitName)
}

// prepareCredentials writes the unit's SetCredential= and
// LoadCredential= into a fresh CredentialsDir: each a file of mode 0400,
// the directory 0500, both owned by the unit's user. A LoadCredential=
// that cannot be read falls back to a SetCredential= of the same name,
// as systemd.exec(5) says, else the start fails (243/CREDENTIALS).
func prepareCredentials(creds []unit.Credential, dir string, uid, gid int) error {
	if len(creds) == 0 {
		return nil
	}
	data, err := resolveCredentials(creds)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for id, b := range data {
		f := filepath.Join(dir, id)
		if err := os.WriteFile(f, b, 0o400); err != nil {
			return err
		}
		if err := os.Lchown(f, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	return os.Chmod(dir, 0o500)
}

// resolveCredentials reads the loaded credentials and merges the set
// ones, loaded first.
func resolveCredentials(creds []unit.Credential) (map[string][]byte, error) {
	data := map[string][]byte{}
	set := map[string][]byte{}
	for _, c := range creds {
		if !c.Load {
			set[c.ID] = c.Data
		}
	}
	for _, c := range creds {
		if !c.Load {
			continue
		}
		if fi, err := os.Stat(c.Path); err == nil && fi.IsDir() && filepath.IsAbs(c.Path) {
			if err := loadCredentialDir(c, data); err != nil {
				return nil, fmt.Errorf("LoadCredential=%s: %w", c.ID, err)
			}
			continue
		}
		b, err := loadCredential(c)
		if err != nil {
			if fallback, ok := set[c.ID]; ok {
				b = fallback
			} else if errors.Is(err, os.ErrNotExist) && !filepath.IsAbs(c.Path) {
				// A credential named rather than given by path is one
				// the manager may or may not have been handed; like
				// systemd, a missing one is left out, and the service
				// sees ENOENT when it looks for it.
				continue
			} else {
				return nil, fmt.Errorf("LoadCredential=%s: %w", c.ID, err)
			}
		}
		data[c.ID] = b
	}
	for id, b := range set {
		if _, loaded := data[id]; !loaded {
			data[id] = b
		}
	}
	return data, nil
}

// loadCredentialDir loads every regular file of a directory as the
// credential ID_NAME, as systemd.exec(5) does for a directory path.
func loadCredentialDir(c unit.Credential, data map[string][]byte) error {
	ents, err := os.ReadDir(c.Path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := readRegular(filepath.Join(c.Path, e.Name()))
		if err != nil {
			return err
		}
		data[c.ID+"_"+e.Name()] = b
	}
	return nil
}

func loadCredential(c unit.Credential) ([]byte, error) {
	if filepath.IsAbs(c.Path) {
		return readRegular(c.Path)
	}
	name := c.Path
	if name == "" {
		name = c.ID
	}
	for _, store := range credStores {
		b, err := readRegular(filepath.Join(store, name))
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return b, err
		}
	}
	return nil, fmt.Errorf("%s not found in %v: %w", name, credStores, os.ErrNotExist)
}

// RemoveCredentials removes the unit's credentials directory when it
// stops.
func RemoveCredentials(d Dirs, unitName string) error {
	if d.Runtime == "" {
		return nil
	}
	return os.RemoveAll(CredentialsDir(d, unitName))
}
