package main

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	// --version alone: -v is pin's and pr's --verbose
	root.Flags().Bool("version", false, "print pinbot's version")
	// flags wrapped to 80 columns, as a terminal shows them
	root.SetUsageTemplate(strings.NewReplacer(
		"{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}", "{{.LocalFlags.FlagUsagesWrapped 80 | trimTrailingWhitespaces}}",
		"{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}", "{{.InheritedFlags.FlagUsagesWrapped 80 | trimTrailingWhitespaces}}",
	).Replace(root.UsageTemplate()))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: suggestFlag(cmd, err)}
	})
	root.AddCommand(newPinCmd(g), newPRCmd(g), newReposCmd(), newTokenCmd(), newVersionCmd(), newFormatsTopic())
	return root
}

// unknownFlagRE finds the flag in pflag's "unknown flag: --chek".
var unknownFlagRE = regexp.MustCompile(`^unknown flag: --([^ =]+)`)

// suggestFlag adds to an unknown flag's error the closest flag the command
// has, if one is close, and where the flags are listed.
func suggestFlag(cmd *cobra.Command, err error) error {
	m := unknownFlagRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	best, dist := "", 3 // at most two edits away
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if d := editDistance(m[1], f.Name); d < dist {
			best, dist = f.Name, d
		}
	})
	help := fmt.Sprintf("see %s --help", cmd.CommandPath())
	if best != "" {
		return fmt.Errorf("%w (did you mean --%s? %s)", err, best, help)
	}
	return fmt.Errorf("%w (%s)", err, help)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
