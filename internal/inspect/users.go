package inspect

import (
	"os/user"
	"strconv"
	"sync"
)

// Users caches uid → user name lookups; safe for concurrent use.
type Users struct {
	mu    sync.Mutex // guards names
	names map[int]string
}

// NewUsers returns an empty cache.
func NewUsers() *Users { return &Users{names: map[int]string{}} }

// Name returns the user name of uid, or the number when it has none.
func (u *Users) Name(uid int) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if n, ok := u.names[uid]; ok {
		return n
	}
	n := strconv.Itoa(uid)
	if usr, err := user.LookupId(n); err == nil {
		n = usr.Username
	}
	u.names[uid] = n
	return n
}

// Lookup resolves a user name or number to a uid.
func (u *Users) Lookup(s string) (int, bool) {
	if id, err := strconv.Atoi(s); err == nil {
		return id, true
	}
	usr, err := user.Lookup(s)
	if err != nil {
		return 0, false
	}
	id, err := strconv.Atoi(usr.Uid)
	return id, err == nil
}
