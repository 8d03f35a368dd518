package main

import "runtime/debug"

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
