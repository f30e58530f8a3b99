package main

import "runtime/debug"

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
// When empty, the module version the binary was built from is used.
var version string

// buildVersion returns the version -version prints and build_info carries.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
