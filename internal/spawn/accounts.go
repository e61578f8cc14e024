package spawn

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Accounts is the account database below a directory (passwd and
// group), split once and split again only when a file changed (its
// inode, size, modification or change time): a spawn per connection
// (Accept=yes) would otherwise read and split both files each time.
// Users looked up are kept too until either file is read again: each
// connection's instance asks for its User= twice (its credentials and
// its journal streams' owner), and a user's groups are a scan of every
// group's members.
type Accounts struct {
	etc string
	now func() time.Time // tests move it

	mu     sync.Mutex // guards passwd, group and users
	passwd accountFile
	group  accountFile
	users  map[string]*UserInfo // by the name asked for; nil after a read
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
	a.mu.Lock()
	defer a.mu.Unlock()
	passwd, group, err := a.recordsLocked(true)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	u, ok := a.users[name]
	if !ok {
		if u, err = lookupUser(passwd, group, name); err != nil {
			return nil, err
		}
		if a.users == nil {
			a.users = map[string]*UserInfo{}
		}
		a.users[name] = u
	}
	c := *u // the caller's to change
	c.Groups = slices.Clone(u.Groups)
	return &c, nil
}

// Group is LookupGroup on the cached file.
func (a *Accounts) Group(name string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, group, err := a.recordsLocked(false)
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", name, err)
	}
	return lookupGroup(group, name)
}

// recordsLocked returns the current records of group and, with passwd,
// of passwd, and forgets the users looked up if either was read again.
// They are shared: callers must not change them.
func (a *Accounts) recordsLocked(passwd bool) (pw, gr [][]string, err error) {
	var readPw, readGr bool
	if passwd {
		if pw, readPw, err = a.passwd.load(filepath.Join(a.etc, "passwd"), 7, a.now); err != nil {
			return nil, nil, err
		}
	}
	gr, readGr, err = a.group.load(filepath.Join(a.etc, "group"), 4, a.now)
	if readPw || readGr || err != nil {
		a.users = nil
	}
	return pw, gr, err
}

// load returns f's records and whether it read them again: the file at
// path changed, or it was not yet known to be stable.
func (f *accountFile) load(path string, n int, now func() time.Time) ([][]string, bool, error) {
	var st syscall.Stat_t
	var key fileKey
	if err := syscall.Stat(path, &st); err == nil {
		key = fileKey{ino: int64(st.Ino), size: st.Size, mtime: st.Mtim, ctime: st.Ctim, exists: true}
	} else if err != syscall.ENOENT {
		return nil, false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if key == f.key && f.records != nil {
		return f.records, false, nil
	}
	recs, err := readRecords(path, n)
	if err != nil {
		return nil, false, err
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
	return recs, true, nil
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
