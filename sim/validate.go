package sim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// inputShapesJSON holds the input shapes of the Glue and Logs operations
// the region serves, from botocore's service models
// (scripts/gen-sim-input-shapes.py writes it).
//
//go:embed model/input-shapes.json
var inputShapesJSON []byte

type shapeDef struct {
	Type     string            `json:"type"`
	Members  map[string]string `json:"members"`
	Required []string          `json:"required"`
	Member   string            `json:"member"`
	Value    string            `json:"value"`
	// TimestampFormat is the timestamp's wire format when the model sets
	// one ("iso8601": a string); by default JSON timestamps are epoch
	// seconds.
	TimestampFormat string `json:"timestampFormat"`
}

type serviceShapes struct {
	Operations map[string]string   `json:"operations"`
	Shapes     map[string]shapeDef `json:"shapes"`
	// Outputs are the members of output structures the region builds
	// from a stored request (Connection, Job).
	Outputs map[string][]string `json:"outputs"`
	// ValidationErrors are, by operation, the error code answering a
	// missing required member when the operation's model declares its own
	// (CloudWatch Logs: InvalidParameterException); the others answer
	// ValidationException.
	ValidationErrors map[string]string `json:"validationErrors"`
}

// keepOutputMembers drops from m, an answer built from a stored request,
// the members the output shape does not have (ConnectionInput's
// ValidateCredentials is not a member of Connection).
func keepOutputMembers(service, shape string, m map[string]any) map[string]any {
	members, ok := inputModels()[service].Outputs[shape]
	if !ok {
		return m
	}
	for k := range m {
		if !slices.Contains(members, k) {
			delete(m, k)
		}
	}
	return m
}

// inputModels is parsed on first use, not at start-up: every gluenet
// command links the simulated region, few of them serve it.
var inputModels = sync.OnceValue(func() map[string]serviceShapes {
	var m struct {
		Services map[string]serviceShapes `json:"services"`
	}
	if err := json.Unmarshal(inputShapesJSON, &m); err != nil {
		panic(fmt.Sprintf("sim: embedded input shapes: %v", err))
	}
	return m.Services
})

// validateInput holds a JSON request to its operation's input shape the way
// AWS does: the body is deserialized first, and a value of the wrong type
// is a SerializationException; then a missing required member is a
// ValidationException listing every one (or the parameter-validation error
// the operation's model declares instead: InvalidParameterException for
// CloudWatch Logs, with the same "1 validation error detected" text). Members the model does not know,
// and nulls, are dropped (AWS ignores them): the operations never see,
// store or echo them. It returns the cleaned body.
func validateInput(service, op string, body []byte) ([]byte, *apiError) {
	models, ok := inputModels()[service]
	if !ok {
		return body, nil
	}
	shape, ok := models.Operations[op]
	if !ok {
		return body, nil // the operation's own handler answers it
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errSerialization("Could not parse the request body: %v", err)
	}
	if dec.More() {
		return nil, errSerialization("Unexpected data after the request's JSON object")
	}
	c := checker{shapes: models.Shapes}
	v, aerr := c.clean(v, shape, "")
	if aerr != nil {
		return nil, aerr
	}
	if len(c.missing) > 0 {
		sort.Strings(c.missing)
		n := len(c.missing)
		plural := "s"
		if n == 1 {
			plural = ""
		}
		msgs := make([]string, n)
		for i, p := range c.missing {
			msgs[i] = fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", p)
		}
		code := "ValidationException"
		if c, ok := models.ValidationErrors[op]; ok {
			code = c
		}
		return nil, newAPIError(code, 400, "%d validation error%s detected: %s", n, plural, strings.Join(msgs, "; "))
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, errSerialization("Could not re-encode the request body: %v", err)
	}
	return out, nil
}

type checker struct {
	shapes  map[string]shapeDef
	missing []string // paths of missing required members
}

// clean checks v against the named shape and returns it without unknown
// members and nulls.
func (c *checker) clean(v any, shapeName, path string) (any, *apiError) {
	s, ok := c.shapes[shapeName]
	if !ok {
		return v, nil
	}
	wrong := func(want string) *apiError {
		where := path
		if where == "" {
			where = "the request"
		}
		return errSerialization("Unexpected %s at '%s' (shape %s): expected %s", jsonKind(v), where, shapeName, want)
	}
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, wrong("a structure")
		}
		out := make(map[string]any, len(obj))
		for k, sub := range obj {
			member, known := s.Members[k]
			if !known || sub == nil {
				continue
			}
			cv, aerr := c.clean(sub, member, join(path, k))
			if aerr != nil {
				return nil, aerr
			}
			out[k] = cv
		}
		for _, req := range s.Required {
			if _, ok := out[req]; !ok {
				c.missing = append(c.missing, join(path, req))
			}
		}
		return out, nil
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return nil, wrong("a list")
		}
		out := make([]any, 0, len(arr))
		for i, sub := range arr {
			if sub == nil {
				return nil, errSerialization("Unexpected null in the list at '%s' (shape %s)", path, shapeName)
			}
			cv, aerr := c.clean(sub, s.Member, fmt.Sprintf("%s.%d", path, i+1))
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, cv)
		}
		return out, nil
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, wrong("a map")
		}
		out := make(map[string]any, len(obj))
		for k, sub := range obj {
			if sub == nil {
				continue
			}
			cv, aerr := c.clean(sub, s.Value, path+"."+k)
			if aerr != nil {
				return nil, aerr
			}
			out[k] = cv
		}
		return out, nil
	case "string", "blob":
		if _, ok := v.(string); !ok {
			return nil, wrong("a string")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return nil, wrong("a boolean")
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			return nil, wrong("an integer")
		}
		if _, err := n.Int64(); err != nil {
			return nil, wrong("an integer")
		}
	case "timestamp":
		if s.TimestampFormat == "iso8601" {
			if _, ok := v.(string); !ok {
				return nil, wrong("an ISO 8601 time string")
			}
			return v, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return nil, wrong("epoch seconds")
		}
		if _, err := n.Float64(); err != nil {
			return nil, wrong("epoch seconds")
		}
	case "float", "double":
		n, ok := v.(json.Number)
		if !ok {
			return nil, wrong("a number")
		}
		if _, err := n.Float64(); err != nil {
			return nil, wrong("a number")
		}
	}
	return v, nil
}

// join builds AWS's validation path: members in lowerCamelCase, dotted.
func join(path, member string) string {
	r := []rune(member)
	if len(r) > 0 {
		r[0] = unicode.ToLower(r[0])
	}
	if path == "" {
		return string(r)
	}
	return path + "." + string(r)
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
