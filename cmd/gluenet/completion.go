package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/lab"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/strategy"
)

// completionLookupTimeout bounds the AWS calls that complete job and
// connection names: a shell waits for them.
const completionLookupTimeout = 2 * time.Second

// registerCompletions teaches shell completion the values of flags and
// arguments: fixed lists, and job and connection names read from the
// region (the simulated one, or AWS) where that is one quick call.
func (a *app) registerCompletions(root *cobra.Command) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	root.RegisterFlagCompletionFunc("log-level", fixed("debug", "info", "warn", "error"))
	root.RegisterFlagCompletionFunc("log-format", fixed("auto", "text", "json"))
	walk(root, func(cmd *cobra.Command) {
		f := cmd.Flags()
		if f.Lookup("output") != nil {
			cmd.RegisterFlagCompletionFunc("output", fixed("table", "json"))
		}
		if f.Lookup("strategy") != nil {
			cmd.RegisterFlagCompletionFunc("strategy", fixed(strategy.Names()...))
		}
		if f.Lookup("scenario") != nil {
			names := sim.BuiltinScenarios()
			if cmd.Name() == "lab" {
				names = lab.BuiltinScenarios()
			}
			// A scenario may also be a YAML file.
			cmd.RegisterFlagCompletionFunc("scenario", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return names, cobra.ShellCompDirectiveDefault
			})
		}
		if f.Lookup("scope") != nil {
			cmd.RegisterFlagCompletionFunc("scope", fixed("subnet", "az"))
		}
		if f.Lookup("job") != nil {
			cmd.RegisterFlagCompletionFunc("job", a.completeNames(listJobs))
		}
		if f.Lookup("connections") != nil {
			cmd.RegisterFlagCompletionFunc("connections", a.completeList(listConnections))
		}
	})
	if fault, _, err := root.Find([]string{"sim", "fault"}); err == nil && fault.Name() == "fault" {
		fault.ValidArgsFunction = completeFault
	}
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// completeFault completes `gluenet sim fault VERB ...`.
func completeFault(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	const none = cobra.ShellCompDirectiveNoFileComp
	if len(args) == 0 {
		return []string{"az\tzone health: down, degraded or healthy", "exhaust\tleave a subnet few free IPs",
			"throttle\tthrottle a share of calls", "errors\tanswer a share of calls with HTTP 500",
			"latency\tadd latency to every call", "list\tthe faults in force", "reset\tundo every fault",
			"state\tprint the region's state"}, none
	}
	services := []string{"glue", "ec2", "logs", "*"}
	switch {
	case args[0] == "az" && len(args) == 2:
		return []string{"down", "degraded", "healthy"}, none
	case (args[0] == "throttle" || args[0] == "errors" || args[0] == "latency") && len(args) == 1:
		return services, none
	}
	return nil, none
}

// lister reads names from the region (awsclient.Client.JobNames or
// ConnectionNames).
type lister func(ctx context.Context, c *awsclient.Client) ([]string, error)

func listJobs(ctx context.Context, c *awsclient.Client) ([]string, error) { return c.JobNames(ctx) }

func listConnections(ctx context.Context, c *awsclient.Client) ([]string, error) {
	return c.ConnectionNames(ctx)
}

// names asks the region one page of names, within the completion timeout;
// nothing when it cannot (no credentials, no network).
func (a *app) names(cmd *cobra.Command, list lister) []string {
	s, err := resolve(cmd.Flags(), a.getenv)
	if err != nil {
		return nil
	}
	endpoint, _ := cmd.Flags().GetString("endpoint-url")
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, completionLookupTimeout)
	defer cancel()
	cfg, err := awsclient.LoadConfig(ctx, awsclient.Options{Region: s.Region, Profile: s.Profile, BaseEndpoint: endpoint, MaxAttempts: 1})
	if err != nil {
		return nil
	}
	names, err := list(ctx, awsclient.New(cfg))
	if err != nil {
		return nil
	}
	return names
}

func (a *app) completeNames(list lister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return a.names(cmd, list), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeList completes the next item of a comma-separated list,
// leaving out the items already given.
func (a *app) completeList(list lister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		prefix := ""
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			prefix = toComplete[:i+1]
		}
		given := strings.Split(prefix, ",")
		var out []string
		for _, n := range a.names(cmd, list) {
			if !slices.Contains(given, n) {
				out = append(out, prefix+n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}
