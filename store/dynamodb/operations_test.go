package dynamodb

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestOperationsAreTheCallsMade: Operations (what `gluenet iam-policy`
// grants) and InitOperations list exactly the DynamoDB client methods this
// package's code calls, read from its source: a call added without its IAM
// action fails here. The API interface has exactly Operations' methods.
func TestOperationsAreTheCallsMade(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	api, initAPI := methodNames(reflect.TypeFor[API]()), methodNames(reflect.TypeFor[InitAPI]())
	called := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			// s.db.X(...) or client.X(...) with X a method of API or InitAPI.
			name := sel.Sel.Name
			switch recv := sel.X.(type) {
			case *ast.SelectorExpr:
				if recv.Sel.Name == "db" && slices.Contains(api, name) {
					called[name] = true
				}
			case *ast.Ident:
				if recv.Name == "client" && (slices.Contains(api, name) || slices.Contains(initAPI, name)) {
					called[name] = true
				}
			}
			return true
		})
	}
	// Init's waiter polls DescribeTable itself.
	called["DescribeTable"] = true
	want := slices.Sorted(slices.Values(append(slices.Clone(Operations), InitOperations...)))
	got := make([]string, 0, len(called))
	for op := range called {
		got = append(got, op)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the code calls %v; Operations and InitOperations list %v", got, want)
	}
	if ops := slices.Sorted(slices.Values(Operations)); !slices.Equal(api, ops) {
		t.Errorf("API has %v, Operations lists %v", api, ops)
	}
}

func methodNames(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumMethod() {
		out = append(out, typ.Method(i).Name)
	}
	slices.Sort(out)
	return out
}
