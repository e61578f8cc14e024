package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/cron"
	"github.com/tendproject/tend/internal/inetd"
	"github.com/tendproject/tend/internal/spawn"
)

// crontabSource is one place crontabs are read from: a file, or a
// directory whose files are crontabs.
type crontabSource struct {
	path     string
	kind     cron.Kind
	spool    bool   // a directory of user crontabs, each named after its owner
	owner    string // a User file's owner
	optional bool   // a standard place: skipped without a word when missing
}

// crontabs is what an instance reads as crontabs, and how.
type crontabs struct {
	sources []crontabSource
	etc     string // passwd and group, for the users named
	self    bool   // the jobs run as the instance's own user
}

// crontabConfig decides which crontabs an instance reads: those named
// with --crontab (nil: the standard ones; "" entries name nothing), under
// root ("/" but for tests). The system instance reads /etc/crontab,
// /etc/cron.d and the spool of crontab(1); a user instance reads
// $XDG_CONFIG_HOME/tend/crontab as its user's crontab, since the spool
// is not readable by its users on Debian (1730 root:crontab) and is the
// system instance's to run. An instance with units of its own (ownUnits:
// --units) reads only those named: the host's cron, or the host's
// instance, runs the standard ones already.
func crontabConfig(named []string, user, ownUnits bool, root string, getenv func(string) string) crontabs {
	c := crontabs{etc: filepath.Join(root, "etc"), self: user}
	if named == nil && ownUnits {
		return c
	}
	var me string
	if user {
		if u, err := spawn.LookupUserIn(c.etc, strconv.Itoa(os.Getuid())); err == nil {
			me = u.Name
		}
	}
	if named == nil {
		if !user {
			c.sources = []crontabSource{
				{path: filepath.Join(root, "etc/crontab"), kind: cron.System, optional: true},
				{path: filepath.Join(root, "etc/cron.d"), kind: cron.System, optional: true},
				{path: filepath.Join(root, "var/spool/cron/crontabs"), kind: cron.User, spool: true, optional: true},
			}
			return c
		}
		config := getenv("XDG_CONFIG_HOME")
		if !filepath.IsAbs(config) {
			config = filepath.Join(getenv("HOME"), ".config")
		}
		if me != "" && filepath.IsAbs(config) {
			c.sources = []crontabSource{{path: filepath.Join(config, "tend/crontab"), kind: cron.User, owner: me, optional: true}}
		}
		return c
	}
	for _, p := range named {
		if p == "" {
			continue
		}
		s := crontabSource{path: p, kind: cron.System}
		if user {
			s.kind, s.owner = cron.User, me
		}
		c.sources = append(c.sources, s)
	}
	return c
}

// read loads every crontab into units, with every refused file and bad
// line as a "file:line: message" diagnostic; nothing stops the rest.
func (c crontabs) read() ([]inetd.Unit, []string) {
	var units []inetd.Unit
	var msgs []string
	seen := map[string]string{} // unit name → where it came from
	accounts := spawn.NewAccounts(c.etc)
	for _, s := range c.sources {
		for _, f := range c.files(s, &msgs) {
			opt := cron.Options{Etc: c.etc, Owner: f.owner, Self: c.self, Accounts: accounts}
			entries, errs := cron.Load(cron.OSFS{}, f.path, f.kind, opt)
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			for i := range entries {
				e := &entries[i]
				u := e.Units()
				src := fmt.Sprintf("%s:%d", e.File, e.Line)
				if prev, dup := seen[u.Timer]; dup {
					msgs = append(msgs, fmt.Sprintf("%s: %s is already generated from %s, ignoring", src, u.Timer, prev))
					continue
				}
				seen[u.Timer] = src
				units = append(units,
					inetd.Unit{Name: u.Timer, Text: u.TimerText, Source: src},
					inetd.Unit{Name: u.Service, Text: u.ServiceText, Source: src})
			}
		}
	}
	return units, msgs
}

// crontabFile is one file to load.
type crontabFile struct {
	path  string
	kind  cron.Kind
	owner string
}

// files lists the crontabs of s: s itself, or the files of a directory
// that cron would read (cron.d's names; a spool's, without hidden and
// temporary files). A directory's subdirectories are not crontabs.
func (c crontabs) files(s crontabSource, msgs *[]string) []crontabFile {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && s.optional:
		return nil
	case err != nil:
		*msgs = append(*msgs, fmt.Sprintf("%s: cannot read crontab: %v", s.path, errors.Unwrap(err)))
		return nil
	case !fi.IsDir():
		return []crontabFile{{path: s.path, kind: s.kind, owner: s.owner}}
	}
	ents, err := os.ReadDir(s.path)
	if err != nil {
		*msgs = append(*msgs, fmt.Sprintf("%s: cannot read crontab directory: %v", s.path, errors.Unwrap(err)))
		return nil
	}
	var out []crontabFile
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case s.spool && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "tmp.")):
			continue
		case !s.spool && !cron.CronDName(name):
			continue
		}
		f := crontabFile{path: filepath.Join(s.path, name), kind: s.kind, owner: s.owner}
		if s.spool {
			f.owner = name
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// watches names what to watch so that a change of any crontab is seen:
// for each directory, the names in it that matter ("" for all). A
// crontab file is watched through its directory, so an editor that
// replaces it is seen too; a place that does not exist yet through its
// nearest existing ancestor, to see it created.
func (c crontabs) watches() map[string]map[string]bool {
	w := map[string]map[string]bool{}
	add := func(dir, name string) {
		if w[dir] == nil {
			w[dir] = map[string]bool{}
		}
		w[dir][name] = true
	}
	for _, s := range c.sources {
		p := filepath.Clean(s.path)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			add(p, "")
		}
		for {
			dir := filepath.Dir(p)
			add(dir, filepath.Base(p))
			if _, err := os.Stat(dir); err == nil || dir == p {
				break
			}
			p = dir
		}
	}
	return w
}

// setupCrontabs decides the crontabs and, when there are any, starts
// watching them (the watcher's goroutine is the daemon's to run).
func (l *loader) setupCrontabs(cfg Config, getenv func(string) string) {
	l.crontabs = crontabConfig(cfg.Crontab, cfg.User, len(cfg.UnitDirs) > 0, "/", getenv)
	if len(l.crontabs.sources) == 0 {
		return
	}
	w, err := newCrontabWatch()
	if err != nil {
		l.log.Warn("crontab changes will need a daemon-reload", "err", err)
		return
	}
	l.watch = w
}

// readCrontabs reads the crontabs into units and watches what was read.
func (l *loader) readCrontabs() ([]inetd.Unit, []string) {
	units, msgs := l.crontabs.read()
	if l.watch != nil {
		l.watch.update(l.crontabs.watches())
	}
	return units, msgs
}

// crontabChanged is what the watcher calls: a reload, as SIGHUP does.
func (d *daemon) crontabChanged(ctx context.Context) func(why string) {
	return func(why string) {
		d.log.Info("crontab changed, reloading", "path", why)
		if _, err := d.reload(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("reload failed", "err", err)
		}
	}
}
