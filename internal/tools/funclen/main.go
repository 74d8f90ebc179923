// Command funclen lists the functions of the module's non-test Go files
// that are longer than a bound (80 lines by default, counted from the func
// keyword to the closing brace) and exits 1 when any is not on the
// allowlist. Generated files (a "// Code generated ... DO NOT EDIT." line,
// https://go.dev/s/generatedcode) are skipped: their functions are as
// long as their types. make vet runs it from the module root.
//
// The allowlist (-allow) has one function a line, "path:Func" or
// "path:Recv.Func", then a tab and the reason it is still long; lines
// starting with # are comments. A listed function that is no longer over
// the bound is reported too, so that the list only shrinks.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	max := flag.Int("max", 80, "the longest a function may be, in lines")
	allowFile := flag.String("allow", "", "the allowlist file")
	flag.Parse()
	allowed, err := readAllow(*allowFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(2)
	}
	long, err := longFuncs(".", *max)
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(2)
	}
	failed := false
	seen := map[string]bool{}
	for _, f := range long {
		seen[f.name] = true
		if _, ok := allowed[f.name]; ok {
			continue
		}
		fmt.Printf("%s: %d lines (over %d)\n", f.name, f.lines, *max)
		failed = true
	}
	var stale []string
	for name := range allowed {
		if !seen[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		fmt.Printf("%s: on the allowlist but no longer over %d lines; remove it from %s\n", name, *max, *allowFile)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}

type longFunc struct {
	name  string
	lines int
}

// longFuncs walks root for non-test, non-generated Go files outside
// testdata and hidden directories and returns the functions longer than
// max lines, sorted.
func longFuncs(root string, max int) ([]longFunc, error) {
	var out []longFunc
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution|parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if n > max {
				out = append(out, longFunc{name: filepath.ToSlash(path) + ":" + funcName(fn), lines: n})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}

// funcName is Func or Recv.Func.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// readAllow reads the allowlist: name → reason.
func readAllow(path string) (map[string]string, error) {
	allowed := map[string]string{}
	if path == "" {
		return allowed, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want \"path:Func<TAB>reason\"", path, n)
		}
		allowed[name] = reason
	}
	return allowed, sc.Err()
}
