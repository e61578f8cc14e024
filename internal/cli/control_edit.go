package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
)

// The markers of systemctl's edit template: what lies between them
// becomes the drop-in.
const (
	editMarkerStart = "### Anything between here and the comment below will become the new contents of the file"
	editMarkerEnd   = "### Lines below this comment will be discarded"
)

// editOpts are edit's flags.
type editOpts struct {
	full, runtime, force, noReload bool
	dropIn                         string
}

// editFile is one file edit works on: the target it writes and, for a
// drop-in, the unit's files shown commented below the template.
type editFile struct {
	unit    string
	target  string   // the file to write
	source  string   // what --full starts from, if not the target itself
	comment []string // the unit's current files, for the template
	dropIn  bool
	madeDir string // the directory edit created, removed again if left empty
}

func editCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var o editOpts
	cmd := &cobra.Command{
		Use:   "edit UNIT...",
		Short: "Edit a drop-in (or with --full the whole unit) in $EDITOR, then reload",
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		return x.edit(ctx, args, o)
	})
	f.add(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&o.full, "full", false, "edit a copy of the whole unit file instead of a drop-in")
	fs.BoolVar(&o.runtime, "runtime", false, "write below the runtime unit directory (lost at reboot)")
	fs.BoolVar(&o.force, "force", false, "create the unit (or its drop-in) when it does not exist")
	fs.StringVar(&o.dropIn, "drop-in", "", "name of the drop-in file (default override.conf)")
	fs.BoolVar(&o.noReload, "no-reload", false, "do not reload the daemon afterwards")
	return cmd
}

// edit runs the editor on the files of names and installs the results.
func (x *ctl) edit(ctx context.Context, args []string, o editOpts) error {
	dropIn, err := dropInName(o.dropIn)
	if err != nil {
		return &ExitError{Code: exitFailure, Msg: err.Error()}
	}
	if err := x.checkEditRights(); err != nil {
		return err
	}
	names, err := x.expand(ctx, args)
	if err != nil {
		return err
	}
	info, err := x.c.Info(ctx)
	if err != nil {
		return err
	}
	dir := info.ConfigDir
	if o.runtime {
		if info.RuntimeDir == "" {
			return &ExitError{Code: exitFailure, Msg: "this instance has no runtime unit directory"}
		}
		dir = info.RuntimeDir
	}
	var files []*editFile
	for _, name := range names {
		ef, err := x.editTarget(ctx, name, dir, info.ConfigDir, dropIn, o)
		if err != nil {
			return err
		}
		files = append(files, ef)
	}
	changed := false
	for _, ef := range files {
		done, err := x.editOne(ef)
		if err != nil {
			return &ExitError{Code: exitFailure, Msg: err.Error()}
		}
		changed = changed || done
	}
	if !changed || o.noReload {
		return nil
	}
	rep, err := x.c.DaemonReload(ctx)
	if err != nil {
		return &ExitError{Code: exitFailure, Msg: "failed to reload daemon: " + err.Error()}
	}
	for _, e := range rep.Errors {
		x.errf("%s\n", e)
	}
	return nil
}

// dropInName completes --drop-in as systemctl does: ".conf" is added,
// and the name must be a plain file name.
func dropInName(s string) (string, error) {
	if s == "" {
		return "override.conf", nil
	}
	if !strings.HasSuffix(s, ".conf") {
		s += ".conf"
	}
	if strings.Contains(s, "/") || s == ".conf" || strings.HasPrefix(s, ".") {
		return "", fmt.Errorf("invalid drop-in file name %q", s)
	}
	return s, nil
}

// checkEditRights refuses early what the daemon would refuse at the end:
// changing unit files takes the rights of the API's write routes, root or
// the owner of the instance (who owns its control socket).
func (x *ctl) checkEditRights() error {
	euid := os.Geteuid()
	if euid == 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(x.c.Socket(), &st); err == nil && int(st.Uid) == euid {
		return nil
	}
	return &ExitError{Code: exitNoSuchUnit, Msg: "cannot edit units: changing unit files needs root, or the owner of the instance (--user)"}
}

// editTarget finds the file to edit for name in dir.
func (x *ctl) editTarget(ctx context.Context, name, dir, configDir, dropIn string, o editOpts) (*editFile, error) {
	ef := &editFile{unit: name, dropIn: !o.full}
	st, err := x.c.Status(ctx, name)
	switch {
	case errors.Is(err, api.ErrNoSuchUnit) || err == nil && st.LoadState == "not-found":
		if !o.force {
			x.errf("Run 'tend edit --force --full %s' to create a new unit.\n", name)
			return nil, &ExitError{Code: exitFailure, Msg: fmt.Sprintf("unit %s not found", name)}
		}
	case err != nil:
		return nil, err
	case st.LoadState == "masked":
		return nil, &ExitError{Code: exitFailure, Msg: fmt.Sprintf("Cannot edit %s: unit is masked.", name)}
	default:
		name = st.Name
		ef.unit = name
		if st.FragmentPath != "" {
			ef.comment = append(ef.comment, st.FragmentPath)
			ef.source = st.FragmentPath
		}
		ef.comment = append(ef.comment, st.DropIns...)
	}
	rel := name
	if ef.dropIn {
		rel = filepath.Join(name+".d", dropIn)
	}
	ef.target = filepath.Join(dir, rel)
	if o.runtime {
		if p := filepath.Join(configDir, rel); fileExists(p) {
			return nil, &ExitError{Code: exitFailure, Msg: fmt.Sprintf("Refusing to create %q because it would be overridden by %q anyway.", ef.target, p)}
		}
	}
	if err := checkWritable(filepath.Dir(ef.target)); err != nil {
		return nil, &ExitError{Code: exitNoSuchUnit, Msg: fmt.Sprintf("cannot edit %s: %v", name, err)}
	}
	return ef, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkWritable says whether the caller may create files in dir, or in
// the nearest existing directory above it (which edit will fill).
func checkWritable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		err := unix.Access(d, unix.W_OK|unix.X_OK)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.ENOENT) || d == filepath.Dir(d) {
			return fmt.Errorf("no write access to %s: %w", d, err)
		}
	}
}

// editOne writes the template, runs the editor and installs the result;
// it reports whether a file changed.
func (x *ctl) editOne(ef *editFile) (changed bool, err error) {
	dir := filepath.Dir(ef.target)
	if ef.madeDir, err = mkdirAll(dir); err != nil {
		return false, err
	}
	defer func() {
		if ef.madeDir != "" {
			removeEmptyDirs(ef.madeDir, dir)
		}
	}()
	tmp, err := os.CreateTemp(dir, ".#"+filepath.Base(ef.target)+"*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	text, err := editTemplate(ef)
	if err == nil {
		_, err = tmp.WriteString(text)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := x.runEditor(tmp.Name()); err != nil {
		return false, err
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		return false, err
	}
	body := editedBody(string(b), ef.dropIn)
	if body == "" {
		os.Remove(tmp.Name())
		if ef.dropIn && fileExists(ef.target) {
			// Emptied on purpose: the override goes.
			if err := os.Remove(ef.target); err != nil {
				return false, err
			}
			x.errf("Removed %q.\n", ef.target)
			removeEmptyDirs(dir, dir)
			return true, nil
		}
		x.errf("Editing %q canceled: temporary file is empty.\n", ef.target)
		return false, nil
	}
	if err := os.WriteFile(tmp.Name(), []byte(body), 0o644); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), ef.target); err != nil {
		return false, err
	}
	ef.madeDir = "" // the directory holds the result now
	return true, nil
}

// mkdirAll makes dir and returns the topmost directory it had to create
// ("" when dir existed).
func mkdirAll(dir string) (string, error) {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		top = d
	}
	return top, os.MkdirAll(dir, 0o755)
}

// removeEmptyDirs removes dir and its parents up to top while they are
// empty.
func removeEmptyDirs(top, dir string) {
	for d := dir; strings.HasPrefix(d, top); d = filepath.Dir(d) {
		if os.Remove(d) != nil || d == top {
			return
		}
	}
}

// editTemplate is what the editor opens: for --full the unit itself (or
// nothing, for a new one); for a drop-in, systemctl's template with the
// current drop-in between the markers and the unit's files commented out
// below them.
func editTemplate(ef *editFile) (string, error) {
	current := ""
	src := ef.target
	if !ef.dropIn && !fileExists(src) {
		src = ef.source
	}
	if src != "" {
		b, err := os.ReadFile(src)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		current = string(b)
	}
	if !ef.dropIn {
		return current, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Editing %s\n%s\n\n%s", ef.target, editMarkerStart, current)
	if !strings.HasSuffix(current, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("\n" + editMarkerEnd)
	for _, p := range ef.comment {
		if p == ef.target {
			continue
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n\n### %s", p)
		if t := strings.TrimSpace(string(text)); t != "" {
			b.WriteString("\n# " + strings.ReplaceAll(t, "\n", "\n# "))
		}
	}
	b.WriteString("\n")
	return b.String(), nil
}

// editedBody keeps what the user wrote: for a drop-in what lies between
// the markers (all of it above the end marker when the start marker is
// gone), trimmed and ending in one newline; "" when nothing is left.
func editedBody(text string, markers bool) string {
	if markers {
		if i := strings.Index(text, editMarkerStart); i >= 0 {
			text = text[i+len(editMarkerStart):]
		}
		if i := strings.Index(text, editMarkerEnd); i >= 0 {
			text = text[:i]
		}
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	return text + "\n"
}

// runEditor opens path in $SYSTEMD_EDITOR, $EDITOR or $VISUAL (the first
// set; split on blanks), else the first of editor, nano, vim, vi found.
func (x *ctl) runEditor(path string) error {
	var tries [][]string
	for _, v := range []string{"SYSTEMD_EDITOR", "EDITOR", "VISUAL"} {
		if f := strings.Fields(x.env.Getenv(v)); len(f) > 0 {
			tries = append(tries, f)
			break
		}
	}
	for _, e := range []string{"editor", "nano", "vim", "vi"} {
		tries = append(tries, []string{e})
	}
	for i, argv := range tries {
		prog, err := exec.LookPath(argv[0])
		if err != nil {
			if i == 0 && len(tries) > 4 {
				x.errf("Specified editor '%s' not available, trying fallbacks: %v\n", argv[0], err)
			}
			continue
		}
		cmd := exec.Command(prog, append(argv[1:], path)...)
		cmd.Args[0] = argv[0]
		cmd.Stdin, cmd.Stdout, cmd.Stderr = x.env.Stdin, x.env.Stdout, x.env.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("editor %s failed: %w; nothing changed", argv[0], err)
		}
		return nil
	}
	return errors.New("cannot edit files, no editor available: set $SYSTEMD_EDITOR, $EDITOR or $VISUAL")
}
