package main

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	verbose bool
}

// logger writes to w: warnings, or everything with --verbose.
func (g *globals) logger(w io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "pinbot",
		Short: "Pin container images to their digests, and keep them current",
		Long: `pinbot finds every container image a repository names (Kubernetes manifests,
Helm charts, Argo CD and Flux resources, kustomizations, compose files, GitHub
workflows, GitLab CI, Dockerfiles, dev containers), resolves each
mutable tag to the digest its registry serves, and writes name:tag@sha256:...
back into the files, changing nothing else. "pinbot pr" does the same and opens
(or updates) one pull request with the change.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = buildVersion().Version
	root.SetVersionTemplate("pinbot {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(newPinCmd(g), newPRCmd(g), newReposCmd(), newTokenCmd(), newVersionCmd(), newFormatsTopic())
	return root
}
