package spawn

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// UserInfo is an account a process runs as.
type UserInfo struct {
	Name   string
	UID    int
	GID    int   // primary group
	Groups []int // supplementary groups from the group database (initgroups), primary included
	Home   string
	Shell  string
}

// LookupUser finds a user by name or numeric uid in /etc/passwd and its
// groups in /etc/group. A numeric uid without a passwd entry is allowed,
// with gid = uid, home "/" and shell /usr/sbin/nologin.
func LookupUser(name string) (*UserInfo, error) { return LookupUserIn("/etc", name) }

// LookupUserIn is LookupUser reading passwd and group below etc.
func LookupUserIn(etc, name string) (*UserInfo, error) {
	if name == "" {
		return nil, fmt.Errorf("empty user name")
	}
	b, err := os.ReadFile(filepath.Join(etc, "passwd"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	uidArg, numErr := strconv.Atoi(name)
	var u *UserInfo
	for _, f := range colonRecords(b, 7) {
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] == name || (numErr == nil && uid == uidArg) {
			u = &UserInfo{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]}
			break
		}
	}
	if u == nil {
		if numErr != nil || uidArg < 0 {
			return nil, fmt.Errorf("user %s: no such user", name)
		}
		u = &UserInfo{Name: name, UID: uidArg, GID: uidArg, Home: "/", Shell: "/usr/sbin/nologin"}
	}
	groups, err := memberGroups(etc, u.Name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	u.Groups = append([]int{u.GID}, groups...)
	slices.Sort(u.Groups)
	u.Groups = slices.Compact(u.Groups)
	return u, nil
}

// LookupGroup finds a group id by name or number in etc/group.
func LookupGroup(etc, name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(etc, "group"))
	if err != nil && !os.IsNotExist(err) {
		return 0, fmt.Errorf("group %s: %w", name, err)
	}
	for _, f := range colonRecords(b, 4) {
		if f[0] == name {
			if gid, err := strconv.Atoi(f[2]); err == nil {
				return gid, nil
			}
		}
	}
	if gid, err := strconv.Atoi(name); err == nil && gid >= 0 {
		return gid, nil
	}
	return 0, fmt.Errorf("group %s: no such group", name)
}

// memberGroups lists the gids of groups naming user as a member.
func memberGroups(etc, user string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(etc, "group"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []int
	for _, f := range colonRecords(b, 4) {
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(f[3], ","), user) {
			out = append(out, gid)
		}
	}
	return out, nil
}

// colonRecords splits passwd/group style files into records of n fields,
// skipping comments, NIS "+"/"-" lines and malformed lines.
func colonRecords(b []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) == n {
			out = append(out, f)
		}
	}
	return out
}
