// Package strictyaml decodes the YAML documents users write (scenarios,
// config files) strictly: an unknown key is an error that names its line,
// and a file holds exactly one document.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode decodes data into a new T. what names the document in errors
// ("scenario", "lab scenario").
func Decode[T any](data []byte, what string) (*T, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("parse %s: empty document", what)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var v T
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse %s: %w", what, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", what, err)
		}
		return nil, fmt.Errorf("parse %s: more than one YAML document", what)
	}
	return &v, nil
}

// ErrNoSuchDocument: neither a built-in document nor a file has the name.
var ErrNoSuchDocument = errors.New("no such file and no built-in of that name")

// Load reads the built-in document nameOrPath (builtin returns an error for
// a name it does not have) or, failing that, the file at that path, and
// parses it with parse. builtins names the built-in documents for the error
// a user sees; what names the kind of document.
func Load[T any](nameOrPath, what string, builtin func(string) ([]byte, error), builtins []string, parse func([]byte) (*T, error)) (*T, error) {
	if b, err := builtin(nameOrPath); err == nil {
		v, err := parse(b)
		if err != nil {
			return nil, fmt.Errorf("built-in %s %q: %w", what, nameOrPath, err)
		}
		return v, nil
	}
	b, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load %s %q: %w (built-in: %s)", what, nameOrPath, ErrNoSuchDocument, strings.Join(builtins, ", "))
		}
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	v, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, nameOrPath, err)
	}
	return v, nil
}
