// Package strictyaml decodes the YAML documents users write (scenarios,
// config files) strictly: an unknown key is an error that names its line,
// and a file holds exactly one document.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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
