package reconcile_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/parachute/reconcile/reconcile"
)

// TestActionsListsEveryAction: Actions is the one list of step kinds the
// CLI summarises by; an Action constant missing from it would be planned
// and never counted.
func TestActionsListsEveryAction(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "plan.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []reconcile.Action
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Action" {
				continue
			}
			for _, val := range v.Values {
				s, err := strconv.Unquote(val.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				declared = append(declared, reconcile.Action(s))
			}
		}
	}
	got := reconcile.Actions()
	if len(declared) == 0 || len(got) != len(declared) {
		t.Fatalf("Actions() = %v, declared %v", got, declared)
	}
	for _, a := range declared {
		if !slices.Contains(got, a) {
			t.Errorf("Actions() lacks %s", a)
		}
	}
}
