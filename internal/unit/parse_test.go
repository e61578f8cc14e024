package unit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	type kv struct {
		sec, key, val string
		line          int
	}
	tests := []struct {
		name  string
		in    string
		want  []kv
		diags []string // substrings of diags, in order
	}{
		{"basic", "[Unit]\nDescription=hi\n[Service]\nExecStart=/bin/true\n",
			[]kv{{"Unit", "Description", "hi", 2}, {"Service", "ExecStart", "/bin/true", 4}}, nil},
		{"comments and blanks", "# c\n; c\n\n[Unit]\n  # indented comment\nA=1\n",
			[]kv{{"Unit", "A", "1", 6}}, nil},
		{"whitespace around key and value", "[Unit]\n  Key   =   some value  \t\n",
			[]kv{{"Unit", "Key", "some value", 2}}, nil},
		{"empty value", "[Unit]\nA=\n", []kv{{"Unit", "A", "", 2}}, nil},
		{"equals in value", "[Unit]\nA=b=c\n", []kv{{"Unit", "A", "b=c", 2}}, nil},
		{"continuation", "[Service]\nExecStart=/bin/echo \\\n  a \\\n  b\nX=1\n",
			[]kv{{"Service", "ExecStart", "/bin/echo    a    b", 2}, {"Service", "X", "1", 5}}, nil},
		{"comment inside continuation", "[Service]\nA=one \\\n# skipped\n; skipped\n two\n",
			[]kv{{"Service", "A", "one   two", 2}}, nil},
		{"escaped backslash is not continuation", "[Unit]\nA=x\\\\\nB=y\n",
			[]kv{{"Unit", "A", `x\\`, 2}, {"Unit", "B", "y", 3}}, nil},
		{"continuation at EOF", "[Unit]\nA=x \\", []kv{{"Unit", "A", "x", 2}}, nil},
		{"repeated keys kept", "[Unit]\nA=1\nA=2\n", []kv{{"Unit", "A", "1", 2}, {"Unit", "A", "2", 3}}, nil},
		{"assignment outside section", "A=1\n[Unit]\nB=2\n", []kv{{"Unit", "B", "2", 3}}, []string{":1: assignment outside of section"}},
		{"missing equals", "[Unit]\nfoo\nB=2\n", []kv{{"Unit", "B", "2", 3}}, []string{":2: missing '='"}},
		{"bad header", "[Unit\nA=1\n[Service]\nB=2\n", []kv{{"Service", "B", "2", 4}},
			[]string{":1: invalid section header", ":2: assignment outside of section"}},
		{"empty key", "[Unit]\n=x\n", nil, []string{":2: empty key"}},
		{"BOM", "\uFEFF[Unit]\nA=1\n", []kv{{"Unit", "A", "1", 2}}, nil},
		{"CRLF", "[Unit]\r\nA=1\r\n", []kv{{"Unit", "A", "1", 2}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := ParseFile("f.service", strings.NewReader(tt.in))
			var got []kv
			for _, e := range f.Entries {
				got = append(got, kv{e.Section, e.Key, e.Value, e.Line})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\ngot  %v\nwant %v", got, tt.want)
			}
			if len(diags) != len(tt.diags) {
				t.Fatalf("diags = %v; want %d matching %q", diags, len(tt.diags), tt.diags)
			}
			for i, d := range diags {
				if !strings.Contains(d.Error(), tt.diags[i]) || !strings.HasPrefix(d.Error(), "f.service:") {
					t.Errorf("diag %d = %q; want it to contain %q", i, d.Error(), tt.diags[i])
				}
			}
		})
	}
}

func TestParseFileSections(t *testing.T) {
	f, _ := ParseFile("x", strings.NewReader("[Unit]\n[Service]\n[Unit]\n[X-Foo]\n"))
	if want := []string{"Unit", "Service", "X-Foo"}; !reflect.DeepEqual(f.Sections, want) {
		t.Errorf("sections = %q; want %q", f.Sections, want)
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/echo \\\n#c\n a\n")
	f.Add("A=1\n[\n]\n[x]\n=\n\\")
	f.Fuzz(func(t *testing.T, in string) {
		file, diags := ParseFile("fuzz", strings.NewReader(in))
		if file.OverLimit && (len(file.Entries) != 0 || len(diags) == 0) {
			t.Fatalf("refused file kept %d entries, %d diags", len(file.Entries), len(diags))
		}
		for _, e := range file.Entries {
			if e.Key == "" || e.Section == "" || e.Line < 1 || strings.TrimSpace(e.Value) != e.Value {
				t.Fatalf("bad entry %+v", e)
			}
		}
		for _, d := range diags {
			if d.File != "fuzz" || d.Line < 1 {
				t.Fatalf("bad diag %+v", d)
			}
		}
	})
}
