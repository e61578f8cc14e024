package install

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// presetRule is one "enable PATTERN" or "disable PATTERN" line.
type presetRule struct {
	verb    string // enable, disable or ignore
	pattern string
}

// presetRules are the rules of every *.preset file in order.
type presetRules []presetRule

// state returns "enabled", "disabled" or "ignored" for name: the first
// matching rule decides, and with no match the unit is enabled (systemd's
// default when no rule says otherwise).
func (r presetRules) state(name string) string {
	for _, rule := range r {
		if ok, _ := filepath.Match(rule.pattern, name); ok {
			return map[string]string{"enable": StateEnabled, "disable": StateDisabled, "ignore": "ignored"}[rule.verb]
		}
	}
	return StateEnabled
}

// loadPresets reads the *.preset files of PresetDirs: files are ordered
// by name, a same-named file in a higher-precedence directory masks the
// lower one.
func (i *Installer) loadPresets() (presetRules, error) {
	chosen := map[string]string{}
	for _, d := range i.PresetDirs {
		ents, err := os.ReadDir(i.host(d))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".preset") {
				if _, ok := chosen[e.Name()]; !ok {
					chosen[e.Name()] = filepath.Join(i.host(d), e.Name())
				}
			}
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	var rules presetRules
	for _, n := range names {
		r, err := parsePresetFile(chosen[n])
		if err != nil {
			return nil, err
		}
		rules = append(rules, r...)
	}
	return rules, nil
}

func parsePresetFile(path string) (presetRules, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a FIFO reads as empty, not waiting for a writer
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rules, err := parsePresets(f, path)
	return rules, err
}

// parsePresets reads preset lines; unknown verbs are errors with their
// file:line.
func parsePresets(f io.Reader, path string) (presetRules, error) {
	var rules presetRules
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		verb, rest, _ := strings.Cut(line, " ")
		fields := strings.Fields(rest)
		if len(fields) == 0 || verb != "enable" && verb != "disable" && verb != "ignore" {
			return nil, fmt.Errorf("%s:%d: invalid preset line %q", path, n, line)
		}
		rules = append(rules, presetRule{verb: verb, pattern: fields[0]})
	}
	return rules, sc.Err()
}

// Preset enables or disables names according to the preset files;
// names an "ignore" rule matches are left alone.
func (i *Installer) Preset(names []string, runtime bool) (Changes, error) {
	rules, err := i.loadPresets()
	if err != nil {
		return Changes{}, err
	}
	var en, dis []string
	for _, n := range names {
		switch rules.state(n) {
		case StateEnabled:
			en = append(en, n)
		case StateDisabled:
			dis = append(dis, n)
		}
	}
	ch, err := i.Disable(dis, runtime)
	if err != nil {
		return ch, err
	}
	e, err := i.Enable(en, runtime, false)
	ch.Created = append(ch.Created, e.Created...)
	ch.Removed = append(ch.Removed, e.Removed...)
	ch.Warnings = append(ch.Warnings, e.Warnings...)
	return ch, err
}
