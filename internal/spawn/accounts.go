package spawn

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Accounts is the account database below a directory (passwd and
// group), split once and split again only when a file changed (its
// inode, size, modification or change time): a spawn per connection
// (Accept=yes) would otherwise read and split both files each time.
type Accounts struct {
	etc string
	now func() time.Time // tests move it

	mu     sync.Mutex // guards passwd and group
	passwd accountFile
	group  accountFile
}

// accountFile is one file's records and the stat they were read at.
type accountFile struct {
	key     fileKey
	records [][]string
}

type fileKey struct {
	ino, size    int64
	mtime, ctime syscall.Timespec
	exists       bool
}

// NewAccounts returns the database below etc ("" for /etc).
func NewAccounts(etc string) *Accounts {
	if etc == "" {
		etc = "/etc"
	}
	return &Accounts{etc: etc, now: time.Now}
}

// User is LookupUserIn on the cached files.
func (a *Accounts) User(name string) (*UserInfo, error) {
	passwd, group, err := a.records(true)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return lookupUser(passwd, group, name)
}

// Group is LookupGroup on the cached file.
func (a *Accounts) Group(name string) (int, error) {
	_, group, err := a.records(false)
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", name, err)
	}
	return lookupGroup(group, name)
}

// records returns the current records of group and, with passwd, of
// passwd. They are shared: callers must not change them.
func (a *Accounts) records(passwd bool) (pw, gr [][]string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if passwd {
		if pw, err = a.passwd.load(filepath.Join(a.etc, "passwd"), 7, a.now); err != nil {
			return nil, nil, err
		}
	}
	gr, err = a.group.load(filepath.Join(a.etc, "group"), 4, a.now)
	return pw, gr, err
}

// load returns f's records, read again if the file at path changed.
func (f *accountFile) load(path string, n int, now func() time.Time) ([][]string, error) {
	var st syscall.Stat_t
	var key fileKey
	if err := syscall.Stat(path, &st); err == nil {
		key = fileKey{ino: int64(st.Ino), size: st.Size, mtime: st.Mtim, ctime: st.Ctim, exists: true}
	} else if err != syscall.ENOENT {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if key == f.key && f.records != nil {
		return f.records, nil
	}
	recs, err := readRecords(path, n)
	if err != nil {
		return nil, err
	}
	if recs == nil {
		recs = [][]string{} // cached, even when empty
	}
	f.key, f.records = key, recs
	if racy(key, now()) {
		// Changed just now: a second change within the file system's
		// timestamp granularity would keep the same key (git's "racy
		// clean" files). Read it again next time.
		f.records = nil
	}
	return recs, nil
}

// racyWindow is longer than any file system's timestamp granularity
// that matters here (coarse kernel clocks tick in milliseconds).
const racyWindow = 2 * time.Second

func racy(k fileKey, now time.Time) bool {
	return k.exists && (now.Sub(time.Unix(k.mtime.Unix())) < racyWindow || now.Sub(time.Unix(k.ctime.Unix())) < racyWindow)
}

// user looks name up in the Spec's Accounts, or reads Etc without one.
func (p *plan) user(name string) (*UserInfo, error) {
	if p.s.Accounts != nil {
		return p.s.Accounts.User(name)
	}
	return LookupUserIn(p.s.Etc, name)
}

// group is user for groups.
func (p *plan) group(name string) (int, error) {
	if p.s.Accounts != nil {
		return p.s.Accounts.Group(name)
	}
	return LookupGroup(p.s.Etc, name)
}
