package inspect

import (
	"strconv"
	"sync"

	"github.com/tendproject/tend/internal/spawn"
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
	// /etc/passwd, read in Go: os/user would link the C library and make
	// the binary dynamic (docs/decisions.md).
	if usr, err := spawn.LookupUser(n); err == nil {
		n = usr.Name
	}
	u.names[uid] = n
	return n
}

// Lookup resolves a user name or number to a uid.
func (u *Users) Lookup(s string) (int, bool) {
	if id, err := strconv.Atoi(s); err == nil {
		return id, true
	}
	usr, err := spawn.LookupUser(s)
	if err != nil {
		return 0, false
	}
	return usr.UID, true
}
