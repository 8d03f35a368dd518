package strictyaml

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gluenet/gluenet/internal/suggest"
)

// Error is a document that does not fit its Go type, in the words of the
// person who wrote it: the line, the key by its path (retry.delay,
// jobs.etl.connections) and what to write instead. It never names a Go
// type.
type Error struct {
	Line int
	// Key is the key's path; empty for the document itself.
	Key string
	// Got describes the node found ("a list", `the value "x"`), for
	// callers that phrase their own message about the document's shape.
	Got string
	// Msg says what is wrong and what to do, without the line.
	Msg string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// SyntaxError is a document that is not YAML at all.
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string {
	return "not valid YAML: " + strings.TrimPrefix(e.Err.Error(), "yaml: ")
}
func (e *SyntaxError) Unwrap() error { return e.Err }

// Check checks the YAML document node n against the Go type t: every key
// known to t (else the nearest key by spelling is suggested), every value
// of the kind its field needs. It returns nil or an *Error. Values of types
// that decode themselves (yaml.Unmarshaler) are checked by decoding them;
// yaml.Node fields are the caller's to check.
func Check(n *yaml.Node, t reflect.Type) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && !decodesItself(t) && n.Kind != yaml.MappingNode && n.Kind != yaml.AliasNode && n.Tag != "!!null" {
		return &Error{Line: n.Line, Got: nodeKind(n), Msg: fmt.Sprintf("the document must hold keys (`name: value` lines), not %s", nodeKind(n))}
	}
	return checkValue(n, t, "")
}

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

func decodesItself(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(unmarshalerType)
}

// fieldsOf maps the YAML keys of struct t to their types, the fields of
// inlined structs included; inlineMap is true when an inlined map takes
// every other key.
func fieldsOf(t reflect.Type) (fields map[string]reflect.Type, names []string, inlineMap bool) {
	fields = map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch ft.Kind() {
				case reflect.Struct:
					walk(ft)
				case reflect.Map:
					inlineMap = true
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = f.Type
			names = append(names, name)
		}
	}
	walk(t)
	return fields, names, inlineMap
}

// checkMapping checks a mapping against struct t; prefix is the path of
// the mapping's own key with its dot ("retry.").
func checkMapping(n *yaml.Node, t reflect.Type, prefix string) error {
	fields, names, inlineMap := fieldsOf(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, ok := seen[k.Value]; ok && k.Tag != "!!merge" {
			return &Error{Line: k.Line, Key: prefix + k.Value, Msg: fmt.Sprintf("`%s%s` is given twice (first on line %d): keep one", prefix, k.Value, first)}
		}
		seen[k.Value] = k.Line
		if k.Tag == "!!merge" {
			// `<<: *defaults` merges another mapping's keys in.
			merged, ok := mergedMappings(v)
			if !ok {
				return &Error{Line: k.Line, Key: prefix + "<<", Got: nodeKind(v), Msg: fmt.Sprintf("`%s<<` must merge a mapping, e.g. `<<: *defaults`, not %s", prefix, nodeKind(v))}
			}
			for _, m := range merged {
				if err := checkMapping(m, t, prefix); err != nil {
					return err
				}
			}
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			if inlineMap {
				continue
			}
			msg := fmt.Sprintf("unknown key `%s%s`", prefix, k.Value)
			if near := suggest.Nearest(k.Value, names); near != "" {
				msg += fmt.Sprintf("; did you mean `%s%s`?", prefix, near)
			}
			return &Error{Line: k.Line, Key: prefix + k.Value, Msg: msg}
		}
		if err := checkValue(v, ft, prefix+k.Value); err != nil {
			return err
		}
	}
	return nil
}

// mergedMappings are the mappings a merge key's value names; ok is false
// when it names something else.
func mergedMappings(v *yaml.Node) (out []*yaml.Node, ok bool) {
	switch {
	case v.Kind == yaml.AliasNode && v.Alias != nil:
		return mergedMappings(v.Alias)
	case v.Kind == yaml.MappingNode:
		return []*yaml.Node{v}, true
	case v.Kind == yaml.SequenceNode:
		for _, c := range v.Content {
			m, ok := mergedMappings(c)
			if !ok || c.Kind == yaml.SequenceNode {
				return nil, false
			}
			out = append(out, m...)
		}
		return out, true
	}
	return nil, false
}

func checkValue(v *yaml.Node, t reflect.Type, key string) error {
	if v.Kind == yaml.AliasNode || v.Tag == "!!null" || t == nodeType {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || t.Kind() == reflect.Interface {
		return nil
	}
	if decodesItself(t) {
		if err := v.Decode(reflect.New(t).Interface()); err != nil {
			return &Error{Line: v.Line, Key: key, Got: nodeKind(v), Msg: fmt.Sprintf("`%s`: %s", key, lineNumberRE.ReplaceAllString(err.Error(), ""))}
		}
		return nil
	}
	wrong := func(msg string, a ...any) error {
		return &Error{Line: v.Line, Key: key, Got: nodeKind(v), Msg: fmt.Sprintf(msg, a...)}
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Kind != yaml.SequenceNode {
			if v.Kind == yaml.ScalarNode && strings.Contains(v.Value, ",") {
				return wrong("`%s` must be a list, not the string %q: write `%s: [%s]` or one `- item` per line",
					key, v.Value, lastKey(key), strings.Join(splitTrim(v.Value), ", "))
			}
			return wrong("`%s` must be a list, e.g. `%s: [%s]`, not %s", key, lastKey(key), v.Value, nodeKind(v))
		}
		for i, item := range v.Content {
			if err := checkValue(item, t.Elem(), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Kind != yaml.MappingNode {
			return wrong("`%s` must hold keys (e.g. `%s: {...}`), not %s", key, lastKey(key), nodeKind(v))
		}
		prefix := key + "."
		if key == "" {
			prefix = ""
		}
		return checkMapping(v, t, prefix)
	case reflect.Map:
		if v.Kind != yaml.MappingNode {
			return wrong("`%s` must map names to settings, not %s", key, nodeKind(v))
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			if err := checkValue(v.Content[i+1], t.Elem(), key+"."+v.Content[i].Value); err != nil {
				return err
			}
		}
	default:
		if v.Kind != yaml.ScalarNode {
			return wrong("`%s` must be %s, not %s", key, kindWord(t), nodeKind(v))
		}
		if err := v.Decode(reflect.New(t).Interface()); err != nil {
			return wrong("`%s`: %q is not %s", key, v.Value, kindWord(t))
		}
	}
	return nil
}

// kindWord names what a Go type holds, in the user's words.
func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number >= 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a single value"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping of keys"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

func lastKey(path string) string {
	if i := strings.LastIndex(path, "["); i >= 0 && strings.HasSuffix(path, "]") {
		path = path[:i]
	}
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

func splitTrim(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
