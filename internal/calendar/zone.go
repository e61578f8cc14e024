package calendar

import (
	"os"
	"path/filepath"
	"time"
)

// zoneDir is where zone names are looked up. tend uses the system's time
// zone database, as systemd does, rather than a copy embedded in the
// binary: a name systemd refuses on this machine is refused here too, and
// tzdata updates arrive with the OS.
const zoneDir = "/usr/share/zoneinfo"

// loadZone accepts name when it is a well-formed zone name with a TZif
// file in the zone database (systemd's timezone_is_valid), and loads it.
func loadZone(name string) (*time.Location, bool) {
	if name == "UTC" {
		return time.UTC, true
	}
	if !zoneNameOK(name) {
		return nil, false
	}
	f, err := os.Open(filepath.Join(zoneDir, name))
	if err != nil {
		return nil, false
	}
	var magic [4]byte
	st, err := f.Stat()
	ok := err == nil && st.Mode().IsRegular()
	if ok {
		_, err = f.Read(magic[:])
		ok = err == nil && string(magic[:]) == "TZif"
	}
	f.Close()
	if !ok {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	return loc, err == nil
}

// zoneNameOK checks the characters systemd allows in a zone name:
// letters, digits, "-_+", single slashes, no leading or trailing slash.
func zoneNameOK(name string) bool {
	if name == "" || name[0] == '/' || len(name) >= 4096 {
		return false
	}
	slash := false
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch >= '0' && ch <= '9', ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z',
			ch == '-', ch == '_', ch == '+':
			slash = false
		case ch == '/':
			if slash {
				return false
			}
			slash = true
		default:
			return false
		}
	}
	return !slash
}
