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
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrEmpty is a document with nothing in it (or only comments).
var ErrEmpty = errors.New("empty document")

// ErrMultipleDocuments is a file that holds more than one YAML document.
var ErrMultipleDocuments = errors.New("more than one YAML document")

// Unmarshal decodes data into a new T strictly: a shape that does not fit
// T is an *Error (Check), text that is not YAML a *SyntaxError, and a file
// with no document or several is ErrEmpty or ErrMultipleDocuments.
func Unmarshal[T any](data []byte) (*T, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, &SyntaxError{Err: err}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, &SyntaxError{Err: err}
		}
		return nil, ErrMultipleDocuments
	}
	if len(root.Content) == 0 {
		return nil, ErrEmpty
	}
	if err := Check(&root, reflect.TypeFor[T]()); err != nil {
		return nil, err
	}
	// Check has seen every key and value; decoding strictly again keeps
	// whatever it does not know about from passing silently.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var v T
	if err := strict.Decode(&v); err != nil {
		return nil, fromDecoder(err)
	}
	return &v, nil
}

// fromDecoder turns the decoder's "yaml: unmarshal errors:\n  line N: ..."
// into an *Error for its first line, and any other error of the decoder
// into an *Error without a line.
func fromDecoder(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return &Error{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	msg := te.Errors[0]
	line := 0
	if m := lineNumberRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return &Error{Line: line, Msg: msg}
}

var lineNumberRE = regexp.MustCompile(`^line (\d+): `)

// Decode decodes data into a new T (Unmarshal). what names the document
// in errors ("scenario", "lab scenario").
func Decode[T any](data []byte, what string) (*T, error) {
	v, err := Unmarshal[T](data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", what, err)
	}
	return v, nil
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
