package supervise

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMainPIDSetInOnePlace holds the package to its rule that a unit's
// main pid changes only in setMain, which spawnCmd (tend's own child)
// and adoptMain (after checkMain) call: a new way of learning a main pid
// cannot skip the check by writing the field itself.
func TestMainPIDSetInOnePlace(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	callers := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				var lhs []ast.Expr
				switch s := n.(type) {
				case *ast.AssignStmt:
					lhs = s.Lhs
				case *ast.IncDecStmt:
					lhs = []ast.Expr{s.X}
				case *ast.CallExpr:
					if sel, ok := s.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "setMain" {
						callers[fn.Name.Name] = true
					}
				}
				for _, e := range lhs {
					if sel, ok := e.(*ast.SelectorExpr); ok && sel.Sel.Name == "mainPID" && fn.Name.Name != "setMain" {
						t.Errorf("%s: %s assigns mainPID; only setMain may", fset.Position(e.Pos()), fn.Name.Name)
					}
				}
				return true
			})
		}
	}
	for c := range callers {
		if c != "spawnCmd" && c != "adoptMain" && c != "clearMain" {
			t.Errorf("%s calls setMain; only spawnCmd, adoptMain and clearMain may", c)
		}
	}
}
