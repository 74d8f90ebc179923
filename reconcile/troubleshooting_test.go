package reconcile_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every blocker reason, failure reason and note the planner can produce is
// explained in docs/troubleshooting.md: the test reads the planner's source,
// takes the text of each Blocker{Reason: …}, Failure{Reason: …}, x.Reason =
// …, b.note(…) and b.unitFailure(…), and looks for it in the guide, where a
// placeholder <like this> stands for what a verb (%s, %d, %q, %v) or a
// variable fills in. A message added without its entry fails here.
func TestTroubleshootingCoversEveryMessage(t *testing.T) {
	msgs := plannerMessages(t)
	if len(msgs) < 20 {
		t.Fatalf("found only %d messages; the extraction is broken", len(msgs))
	}
	guide, err := os.ReadFile(filepath.Join("..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := normalize(placeholder.ReplaceAllString(string(guide), wildcard))
	for _, m := range msgs {
		if !strings.Contains(doc, m.text) {
			t.Errorf("%s: %q is not in docs/troubleshooting.md (write it with <placeholders> for %s verbs)", m.pos, m.text, "%")
		}
	}
	if os.Getenv("TROUBLESHOOTING_LIST") == "1" {
		for _, m := range msgs {
			t.Logf("%s\t%s\t%s", m.pos, m.kind, strings.ReplaceAll(m.text, wildcard, "<>"))
		}
	}
}

const wildcard = "\x00"

var (
	placeholder = regexp.MustCompile(`<[a-z][a-z0-9 ,./:_'-]*>`)
	verb        = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	wildcards   = regexp.MustCompile("\x00+")
	spaces      = regexp.MustCompile(`\s+`)
)

// normalize makes runs of wildcards one, runs of white space one space, and
// drops backticks, so a message reads the same in code and in Markdown.
func normalize(s string) string {
	s = strings.ReplaceAll(s, "`", "")
	s = spaces.ReplaceAllString(s, " ")
	return wildcards.ReplaceAllString(s, wildcard)
}

type message struct {
	kind, text string
	pos        token.Position
}

func plannerMessages(t *testing.T) []message {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []message
	add := func(kind string, e ast.Expr) {
		// A wildcard at either end says nothing the guide must repeat.
		text := strings.TrimSpace(strings.Trim(normalize(pattern(e)), wildcard+" "))
		if len(strings.Trim(text, wildcard+" :;,.()")) >= 3 {
			msgs = append(msgs, message{kind, text, fset.Position(e.Pos())})
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				id, ok := n.Type.(*ast.Ident)
				if !ok || (id.Name != "Blocker" && id.Name != "Failure") {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Reason") {
						add(id.Name, kv.Value)
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Reason" && i < len(n.Rhs) {
						add("Reason", n.Rhs[i])
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if ok && (sel.Sel.Name == "note" || sel.Sel.Name == "unitFailure") && len(n.Args) > 0 {
					add(sel.Sel.Name, n.Args[0])
				}
			}
			return true
		})
	}
	slices.SortFunc(msgs, func(a, b message) int { return strings.Compare(a.text, b.text) })
	return slices.CompactFunc(msgs, func(a, b message) bool { return a.text == b.text })
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// pattern is the text e evaluates to, with a wildcard for every verb and
// every part only known at run time.
func pattern(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			if err == nil {
				return verb.ReplaceAllString(strings.ReplaceAll(s, "%%", "%"), wildcard)
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return pattern(e.X) + pattern(e.Y)
		}
	case *ast.ParenExpr:
		return pattern(e.X)
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && isIdent(sel.X, "fmt") && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			return pattern(e.Args[0])
		}
	}
	return wildcard
}
