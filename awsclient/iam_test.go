package awsclient

import (
	"reflect"
	"testing"
)

// TestEveryCallHasItsPermission: every operation gluenet can call has its
// IAM action, and the map names no operation it cannot call.
func TestEveryCallHasItsPermission(t *testing.T) {
	ops := map[string]bool{}
	for _, it := range []reflect.Type{reflect.TypeFor[GlueAPI](), reflect.TypeFor[EC2API](), reflect.TypeFor[LogsAPI]()} {
		for i := range it.NumMethod() {
			m := it.Method(i).Name
			ops[m] = true
			if _, ok := Permissions[m]; !ok {
				t.Errorf("%s.%s has no IAM action in Permissions", it.Name(), m)
			}
		}
	}
	for op := range Permissions {
		if !ops[op] {
			t.Errorf("Permissions names %s, which no interface calls", op)
		}
	}
}
