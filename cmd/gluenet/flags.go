package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gluenet/gluenet/internal/suggest"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagAliases maps the names other tools give to a setting (the AWS CLI,
// GlueJobOperator, the post's DAG) to gluenet's flag for it.
var flagAliases = map[string]string{
	"retries":           "attempts",
	"max-retries":       "attempts",
	"max-attempts":      "attempts",
	"retry":             "attempts",
	"backoff":           "retry-delay",
	"retry-backoff":     "retry-delay",
	"max-backoff":       "max-retry-delay",
	"job-name":          "job",
	"subnets":           "connections",
	"subnet":            "connections",
	"connection":        "connections",
	"connection-names":  "connections",
	"script-args":       "arg",
	"arguments":         "arg",
	"number-of-workers": "workers",
	"verbose":           "follow-logs",
	"endpoint":          "endpoint-url",
}

// flagError turns pflag's parse errors into gluenet's: an unknown flag
// names the flag gluenet uses for it (or the nearest by spelling), a value
// of the wrong kind says what the flag takes. Both are usage errors (exit 2).
func flagError(cmd *cobra.Command, err error) error {
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) && unknown.GetSpecifiedShortnames() == "" {
		name := unknown.GetSpecifiedName()
		msg := fmt.Sprintf("unknown flag --%s for %q", name, cmd.CommandPath())
		if hint := suggestFlag(cmd, name); hint != "" {
			msg += "; " + hint
		}
		return usagef("%s (%q lists the flags)", msg, cmd.CommandPath()+" --help")
	}
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		f := invalid.GetFlag()
		want := map[string]string{
			"int": "a whole number", "int64": "a whole number", "uint": "a whole number >= 0",
			"float64": "a number", "bool": "true or false", "duration": "a duration such as 30s or 5m",
		}[f.Value.Type()]
		if want == "" {
			return usagef("--%s %q: %v", f.Name, invalid.GetValue(), errors.Unwrap(invalid))
		}
		example := f.DefValue
		if example == "" || example == "0" || example == "false" {
			example = map[string]string{"bool": "true", "duration": "30s"}[f.Value.Type()]
			if example == "" {
				example = "3"
			}
		}
		return usagef("--%s %q: want %s, e.g. --%s=%s", f.Name, invalid.GetValue(), want, f.Name, example)
	}
	return usagef("%v", err)
}

// suggestFlag is a hint for an unknown flag name: the command's flag that
// other tools call name, else the one spelt nearly like it, else the
// subcommand of that name (`gluenet --plan`).
func suggestFlag(cmd *cobra.Command, name string) string {
	has := func(n string) bool { return cmd.Flags().Lookup(n) != nil || cmd.InheritedFlags().Lookup(n) != nil }
	if to, ok := flagAliases[strings.ToLower(name)]; ok && has(to) {
		return fmt.Sprintf("gluenet calls it --%s", to)
	}
	var names []string
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	cmd.Flags().VisitAll(add)
	cmd.InheritedFlags().VisitAll(add)
	if near := suggest.Name(name, names); near != "" {
		return fmt.Sprintf("did you mean --%s?", near)
	}
	if sub, _, err := cmd.Root().Find([]string{name}); err == nil && sub != cmd.Root() {
		return fmt.Sprintf("%q is a command: gluenet %s ...", name, name)
	}
	return ""
}
