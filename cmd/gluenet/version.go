package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set by scripts/release.sh (-ldflags "-X main.version=v1.2.3").
var version string

// buildVersion is the release's version, else the module version that
// `go install github.com/gluenet/gluenet/cmd/gluenet@v1.2.3` records, else
// "(devel)" for a build from a clone.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// versionCommand is `gluenet version`: what --version prints, and the Go
// release and platform the binary was built with.
func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gluenet's version (stamped by scripts/release.sh and build-wheels.sh)",
		Long: `version prints the version stamped into this binary by scripts/release.sh or
scripts/build-wheels.sh (a git tag such as v0.1.0, or git describe's
v0.1.0-3-gabc1234 between tags), else the module version "go install"
recorded, else (devel) for a plain build from a clone; then the Go release
and platform it was built with.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(a.stdout, "gluenet version %s\n%s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
