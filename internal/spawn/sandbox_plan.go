package spawn

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tendproject/tend/internal/sandbox"
)

// buildSandbox turns the unit's sandboxing settings into the helper's
// plan. A "+" command runs with full privileges: no sandbox at all, as
// in systemd.
func (p *plan) buildSandbox() error {
	if p.s.Command.FullPrivilege {
		return nil
	}
	cfg := p.ec.SandboxSettings()
	if p.ec.DynamicUser {
		c := *cfg
		p.dynamicSandbox(&c)
		cfg = &c
	}
	if !cfg.Active() {
		return nil
	}
	if cfg.RootImage != "" {
		return setupErr(ExitNamespace, p.path, fmt.Errorf("RootImage=%s: tend does not mount disk images; use RootDirectory= on an unpacked tree", cfg.RootImage))
	}
	if cfg.PrivateTmp {
		c := *cfg
		tmp, err := privateTmpDirs(p.s.Unit)
		if err != nil {
			return setupErr(ExitNamespace, p.path, fmt.Errorf("PrivateTmp=: %w", err))
		}
		c.PrivateTmpSrc = tmp
		cfg = &c
	}
	var writable []string
	for _, k := range dirKinds(p.ec, p.s.Dirs) {
		for _, d := range k.spec.Paths {
			writable = append(writable, filepath.Join(k.base, d))
		}
	}
	root := ""
	if p.ec.RootDirectory != "" {
		root = p.ec.RootDirectory
	}
	sb, err := sandbox.Build(cfg, root, writable)
	if err != nil {
		return setupErr(ExitSeccomp, p.path, err)
	}
	sb.NeedsMountNS = sb.NeedsMountNS || p.ec.DynamicUser
	p.sandbox = sb
	return nil
}

// bindsInRoot reports whether a BindPaths= or BindReadOnlyPaths= entry
// puts path (or a directory above it) into RootDirectory=: it is there
// only once the helper has mounted it.
func (p *plan) bindsInRoot(path string) bool {
	if p.s.Command.FullPrivilege {
		return false
	}
	for _, b := range p.ec.SandboxSettings().BindPaths {
		if b.Dst == path || strings.HasPrefix(path, strings.TrimSuffix(b.Dst, "/")+"/") {
			return true
		}
	}
	return false
}
