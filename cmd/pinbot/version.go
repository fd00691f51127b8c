package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc -X main.date=2026-01-01T00:00:00Z".
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionInfo is what "pinbot version" prints.
type versionInfo struct {
	Version, Commit, Date string
}

// buildVersion takes the stamped values, else what the Go toolchain recorded
// (go install records the module version, a build in a git checkout the
// revision and its time).
func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, Date: date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && v.Commit == "":
				v.Commit = s.Value
			case s.Key == "vcs.time" && v.Date == "":
				v.Date = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.Date == "" {
		v.Date = "unknown"
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pinbot's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "pinbot %s\ncommit: %s\nbuilt:  %s\ngo:     %s %s/%s\n",
				v.Version, v.Commit, v.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
