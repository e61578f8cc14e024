package spawn

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/tendproject/tend/internal/sandbox"
	"github.com/tendproject/tend/internal/unit"
)

// The uid range of dynamic users, systemd's (DynamicUser=).
const (
	dynamicMin = 61184
	dynamicMax = 65519
)

// dynamicUser resolves DynamicUser=: a static user of the User= name
// is used as it is (ok false: the ordinary lookup follows); otherwise
// the unit runs as a uid and gid of the dynamic range found in neither
// passwd nor group, chosen from a hash of the name so that it stays the
// same across restarts (its files in StateDirectory= keep their owner).
func (p *plan) dynamicUser() (*UserInfo, bool, error) {
	name := p.ec.User
	if name != "" {
		if _, err := p.user(name); err == nil {
			return nil, false, nil
		}
	} else {
		name = strings.TrimSuffix(p.s.Unit, filepath.Ext(p.s.Unit))
	}
	id, err := freeID(p.s.Etc, name)
	if err != nil {
		return nil, true, setupErr(ExitUser, p.path, err)
	}
	u := &UserInfo{Name: name, UID: id, GID: id, Groups: []int{id}, Home: "/", Shell: "/usr/sbin/nologin"}
	cred := &syscall.Credential{Uid: uint32(id), Gid: uint32(id), Groups: []uint32{uint32(id)}}
	for _, g := range p.ec.SupplementaryGroups {
		gid, err := p.group(g)
		if err != nil {
			return nil, true, setupErr(ExitGroup, p.path, err)
		}
		cred.Groups = append(cred.Groups, uint32(gid))
	}
	if !p.s.Command.NoSetuid {
		p.cred = cred
	}
	return u, true, nil
}

// freeID is the first id from name's hash on, in the dynamic range,
// that neither passwd nor group uses.
func freeID(etc, name string) (int, error) {
	taken := map[int]bool{}
	for file, n := range map[string]int{"passwd": 7, "group": 4} {
		b, err := os.ReadFile(filepath.Join(etc, file))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		for _, f := range colonRecords(b, n) {
			if id, err := strconv.Atoi(f[2]); err == nil {
				taken[id] = true
			}
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	size := dynamicMax - dynamicMin + 1
	for i := 0; i < size; i++ {
		id := dynamicMin + (int(h.Sum32())+i)%size
		if !taken[id] {
			return id, nil
		}
	}
	return 0, errors.New("no free id left for a dynamic user")
}

// privateKind reports whether a directory kind lives below the base's
// private/ directory for a dynamic user (state, cache, logs).
func privateKind(k dirKind) bool {
	return k.status == ExitStateDirectory || k.status == ExitCacheDirectory || k.status == ExitLogsDirectory
}

// prepareDirFor prepares one directory of the unit. With DynamicUser=
// the state, cache and logs directories are made as systemd makes them:
// the real one in BASE/private/ (mode 0700, out of other users' reach,
// since a later unit may get the same uid), BASE/NAME a symlink to it;
// a plain directory left by the unit without DynamicUser= is moved
// there, and moved back when the unit drops DynamicUser=.
func prepareDirFor(ec *unit.ExecContext, k dirKind, rel string, uid, gid int) error {
	if !privateKind(k) {
		if !ec.DynamicUser || !k.owned {
			return prepareDir(k, rel, uid, gid)
		}
		// A dynamic uid may differ from the one that made the
		// directory (RuntimeDirectoryPreserve=).
		full, err := dirPath(k.base, rel)
		if err != nil {
			return err
		}
		return ownedTree(full, uid, gid, func() error { return prepareDir(k, rel, uid, gid) })
	}
	link, err := dirPath(k.base, rel)
	if err != nil {
		return err
	}
	private := filepath.Join(k.base, "private", filepath.Clean(rel))
	if !ec.DynamicUser {
		if fi, err := os.Lstat(link); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if err := os.Remove(link); err != nil {
				return err
			}
			if err := os.Rename(private, link); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := prepareDir(k, rel, uid, gid); err != nil {
			return err
		}
		return makeLinks(k, rel, link)
	}
	if err := os.MkdirAll(filepath.Join(k.base, "private"), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(k.base, "private"), 0o700); err != nil {
		return err
	}
	if fi, err := os.Lstat(link); err == nil && fi.IsDir() {
		if err := os.MkdirAll(filepath.Dir(private), 0o755); err != nil {
			return err
		}
		if err := os.Rename(link, private); err != nil {
			return fmt.Errorf("move %s to %s: %w", link, private, err)
		}
	}
	pk := k
	pk.base = filepath.Join(k.base, "private")
	if err := ownedTree(private, uid, gid, func() error { return prepareDir(pk, rel, uid, gid) }); err != nil {
		return err
	}
	if !nestedIn(k.spec.Paths, rel) { // else the ancestor's symlink leads here
		if err := symlinkTo(private, link); err != nil {
			return err
		}
	}
	return makeLinks(k, rel, link)
}

// nestedIn reports whether another of paths is an ancestor of rel.
func nestedIn(paths []string, rel string) bool {
	for _, p := range paths {
		if p != rel && strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// ownedTree runs prepare (which makes dir and gives it alone to
// uid:gid) and then gives everything below dir to uid:gid if dir
// already existed with another owner.
func ownedTree(dir string, uid, gid int, prepare func() error) error {
	var st syscall.Stat_t
	other := syscall.Lstat(dir, &st) == nil && (int(st.Uid) != uid || int(st.Gid) != gid)
	if err := prepare(); err != nil {
		return err
	}
	if !other {
		return nil
	}
	return chownTree(dir, uid, gid)
}

// makeLinks creates the "path:link" symlinks of the setting that point
// to rel.
func makeLinks(k dirKind, rel, target string) error {
	for _, l := range k.spec.Links {
		if l.Path != rel {
			continue
		}
		at, err := dirPath(k.base, l.Link)
		if err != nil {
			return err
		}
		if err := symlinkTo(target, at); err != nil {
			return err
		}
	}
	return nil
}

// symlinkTo makes link a relative symlink to target, replacing another
// symlink there.
func symlinkTo(target, link string) error {
	rel, err := filepath.Rel(filepath.Dir(link), target)
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(link); err == nil {
		if cur == rel {
			return nil
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	return os.Symlink(rel, link)
}

// chownTree gives dir and everything below it to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// dynamicSandbox adds what DynamicUser= implies (systemd.exec(5)): a
// private /tmp, a read-only system and home, no new privileges, no
// set-user-ID files; and makes the unit's own private directories
// reachable in its namespace, the rest of BASE/private/ hidden.
func (p *plan) dynamicSandbox(sb *sandbox.Config) {
	sb.BindPaths = slices.Clip(sb.BindPaths) // appended to: never into the unit's array
	sb.TemporaryFileSystem = slices.Clip(sb.TemporaryFileSystem)
	sb.PrivateTmp, sb.NoNewPrivileges, sb.RestrictSUIDSGID = true, true, true
	if sb.ProtectSystem == "" || sb.ProtectSystem == "yes" || sb.ProtectSystem == "full" {
		sb.ProtectSystem = "strict"
	}
	if sb.ProtectHome == "" {
		sb.ProtectHome = "read-only"
	}
	bases := map[string]bool{}
	for _, k := range dirKinds(p.ec, p.s.Dirs) {
		if !privateKind(k) {
			continue
		}
		for _, rel := range k.spec.Paths {
			private := filepath.Join(k.base, "private", filepath.Clean(rel))
			bases[filepath.Join(k.base, "private")] = true
			sb.BindPaths = append(sb.BindPaths, bindSelf(private))
		}
	}
	for b := range bases {
		sb.TemporaryFileSystem = append(sb.TemporaryFileSystem, tmpfsAt(b))
	}
}

func bindSelf(p string) sandbox.Bind { return sandbox.Bind{Src: p, Dst: p, Recursive: true} }

func tmpfsAt(p string) sandbox.TmpFS { return sandbox.TmpFS{Path: p, Options: "mode=0755"} }
