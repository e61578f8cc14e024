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
	passwd, group, err := readAccounts(etc, true)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return lookupUser(passwd, group, name)
}

// LookupGroup finds a group id by name or number in etc/group.
func LookupGroup(etc, name string) (int, error) {
	_, group, err := readAccounts(etc, false)
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", name, err)
	}
	return lookupGroup(group, name)
}

// readAccounts reads and splits etc/group and, with passwd, etc/passwd;
// a missing file has no records.
func readAccounts(etc string, passwd bool) (pw, gr [][]string, err error) {
	if passwd {
		if pw, err = readRecords(filepath.Join(etc, "passwd"), 7); err != nil {
			return nil, nil, err
		}
	}
	gr, err = readRecords(filepath.Join(etc, "group"), 4)
	return pw, gr, err
}

func readRecords(path string, n int) ([][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return colonRecords(b, n), nil
}

func lookupUser(passwd, group [][]string, name string) (*UserInfo, error) {
	if name == "" {
		return nil, fmt.Errorf("empty user name")
	}
	uidArg, numErr := strconv.Atoi(name)
	var u *UserInfo
	for _, f := range passwd {
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
	u.Groups = append([]int{u.GID}, memberGroups(group, u.Name)...)
	slices.Sort(u.Groups)
	u.Groups = slices.Compact(u.Groups)
	return u, nil
}

func lookupGroup(group [][]string, name string) (int, error) {
	for _, f := range group {
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
func memberGroups(group [][]string, user string) []int {
	var out []int
	for _, f := range group {
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(f[3], ","), user) {
			out = append(out, gid)
		}
	}
	return out
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
