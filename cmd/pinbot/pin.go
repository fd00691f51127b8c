package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pinbot/pinbot/internal/actions"
	"github.com/pinbot/pinbot/internal/cache"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/config"
	"github.com/pinbot/pinbot/internal/forge"
	"github.com/pinbot/pinbot/internal/pin"
	"github.com/pinbot/pinbot/internal/progress"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
	"github.com/pinbot/pinbot/internal/size"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// pinFlags are the flags "pin" and "pr" share.
type pinFlags struct {
	g           *globals
	configFile  string
	pullPolicy  string
	mirrors     []string
	insecure    []string
	jobs        int
	timeout     time.Duration
	offline     bool
	maxFileSize string
	platforms   []string
	verify      bool
	cacheFile   string
	cacheTTL    time.Duration
	cacheCheck  bool
	minAge      time.Duration
	noEvidence  bool
	forPR       bool // the run is pr's
	baseConfig  string
	check       bool   // pin --check
	output      string // --output
	actions     string // --actions
	signatures  string // --signatures
	// apiURL is GitHub's API, asked about actions: pin's --api-url, pr's
	// (see appFlags.api)
	apiURL func() string
}

func (f *pinFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.configFile, "config", "", "the configuration `FILE` (default: "+config.DefaultFile+" at the root, when present)")
	fs.StringVar(&f.pullPolicy, "pull-policy", string(rewrite.PolicyIfNotPresent), "the imagePullPolicy `POLICY` for pinned Kubernetes containers: IfNotPresent, Always or keep")
	fs.StringArrayVar(&f.mirrors, "mirror", nil, "resolve the references of registry SRC (or SRC/prefix) through DST: `SRC=DST`, as in docker.io=mirror.example.com/hub (repeatable)")
	fs.StringArrayVar(&f.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST[:PORT]` (repeatable)")
	fs.IntVar(&f.jobs, "jobs", 64, "`N` registry requests in flight at once, in all (each registry gets at most 16)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "the `DURATION` allowed for resolving each reference, retries and their pauses included")
	fs.StringArrayVar(&f.platforms, "platform", nil, "every digest written or kept must cover `OS/ARCH[/VARIANT]` (repeatable; replaces platforms: in .pinbot.yaml); costs one manifest GET per digest")
	fs.BoolVar(&f.verify, "verify", false, "read each digest written and check that its bytes hash to it (one manifest GET per digest): for a mirror or proxy you do not control")
	fs.StringVar(&f.cacheFile, "cache", "", "keep the digests tags resolve to in `FILE`, and answer from it for --cache-ttl (runs of a fleet share it); never for --check unless --cache-check")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", cache.DefaultTTL, "the `DURATION` a cached digest is used for")
	fs.BoolVar(&f.cacheCheck, "cache-check", false, "let --check use the cache too")
	fs.BoolVar(&f.noEvidence, "no-evidence", false, "read nothing more of a moved tag's old and new digest (creation time, platforms, size, source; with no --signatures mode, who signed them): those GETs count as pulls on Docker Hub")
	fs.DurationVar(&f.minAge, "min-age", 0, "the cooldown: propose a moved tag's new digest only once pinbot has seen the tag there for `DURATION` (pin remembers first sightings in --cache, pr in its pull request; minAge in .pinbot.yaml)")
	fs.StringVar(&f.maxFileSize, "max-file-size", size.Format(checkout.DefaultMaxFileSize), "the largest file read (`SIZE`: bytes, KiB, MiB); a larger file in scope fails the run")
	fs.StringVar(&f.baseConfig, "base-config", "", "take mirrors, insecureRegistries, maxFileSize, minAge and signatures from the configuration as git revision `REV` holds it (a pull request's base), not from the checkout")
	fs.BoolVarP(&f.g.verbose, "verbose", "v", false, "log each registry call, and list current and skipped references")
	fs.BoolVar(&f.offline, "offline", false, "ask no registry and change nothing: report every reference without a digest (with --check, fail on them)")
	fs.StringVar(&f.signatures, "signatures", "", "check who signed each digest before it is written: `MODE` off, audit (report) or enforce (refuse what the policy refuses); unset: audit moved tags and the images a rule names (signatures: in .pinbot.yaml)")
	fs.StringVar(&f.actions, "actions", "", "what to do with the actions workflows name by ref (uses: owner/repo@v4): `MODE` pin (to commits, the default), check or off; actions in .pinbot.yaml")
}

// session is a checkout opened with its configuration and resolver.
type session struct {
	co       *checkout.Checkout
	opts     pin.Options
	resolver pin.Resolver
	cache    *cache.Cache // nil without --cache
}

// run runs the pipeline, drawing its progress on the terminal meanwhile.
func (s *session) run(cmd *cobra.Command) (*pin.Result, error) {
	var d *progress.Display
	if s.opts.Progress != nil { // set only when drawn on a terminal
		d = progress.Show(s.opts.Progress, cmd.ErrOrStderr(), 150*time.Millisecond)
	}
	// a chart's templates are code: they render in worker processes, each
	// stopped past its deadline and its memory
	sb, err := render.NewSandbox(0, 0)
	if err != nil {
		d.Stop()
		return nil, err
	}
	defer sb.Close()
	opts := s.opts
	opts.Renderer = sb
	res, err := pin.Run(cmd.Context(), s.co, s.resolver, opts)
	d.Stop()
	return res, err
}

// progressFor is a Tracker when standard error is a terminal, the report is
// text and nothing is logged there; else nil: nothing is drawn.
func (f *pinFlags) progressFor(cmd *cobra.Command) *progress.Tracker {
	if f.output != "text" || f.g.verbose {
		return nil
	}
	file, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil
	}
	return progress.New()
}

// saveCache writes the cache back, if there is one, with the run's first
// sightings of moved tags; a failure is a warning.
func (s *session) saveCache(log *slog.Logger, rep *report.Report) {
	if s.cache != nil {
		if rep != nil && rep.FirstSeen != nil {
			s.cache.SetFirstSeen(rep.FirstSeen)
		}
		if err := s.cache.Save(); err != nil {
			log.Warn("the digest cache was not saved", "err", err)
		}
	}
}

// loadConfig reads the configuration: --config FILE, else the checkout's
// own .pinbot.yaml when it has one. rel is the file's slash path in the
// checkout, or "" for a file outside it (the operator's own).
func (f *pinFlags) loadConfig(co *checkout.Checkout) (cfg *config.Config, rel string, err error) {
	if f.configFile == "" {
		// The checkout's own configuration is read like any of its files:
		// never through a symlink, never from outside the tree.
		data, _, err := co.ReadFile(config.DefaultFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return &config.Config{}, config.DefaultFile, nil
		case err != nil:
			return nil, "", usageError("%s: %v", config.DefaultFile, err)
		}
		if cfg, err = config.Parse(config.DefaultFile, data); err != nil {
			return nil, "", usageError("%v", err)
		}
		return cfg, config.DefaultFile, nil
	}
	if cfg, err = config.Load(f.configFile); err != nil {
		return nil, "", usageError("%v", err)
	}
	return cfg, co.Rel(f.configFile), nil
}

// baseConfig is the configuration file rel as revision rev holds it; a
// revision without it has none.
func baseConfig(cmd *cobra.Command, co *checkout.Checkout, rev, rel string) (*config.Config, error) {
	data, err := co.FileAt(cmd.Context(), rev, rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &config.Config{}, nil
	case err != nil:
		return nil, usageError("--base-config: %v", err)
	}
	cfg, err := config.Parse(rev+":"+rel, data)
	if err != nil {
		return nil, usageError("--base-config: %v", err)
	}
	return cfg, nil
}

// open finds the root of the paths given, reads the configuration and sets
// up the resolver. Every problem here is a usage error.
func (f *pinFlags) open(cmd *cobra.Command, args []string) (*session, error) {
	if len(args) == 0 {
		args = []string{"."}
	}
	if err := f.validate(cmd, args); err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, usageError("%v", err)
	}
	loc, err := checkout.Locate(wd, args)
	if err != nil {
		return nil, usageError("%v", err)
	}
	co, err := checkout.Open(loc.Root, loc.Git)
	if err != nil {
		return nil, usageError("%v", err)
	}
	s := &session{co: co}
	s.opts.Paths = loc.Paths
	ok := false
	defer func() {
		if !ok {
			co.Close()
		}
	}()
	cfg, cfgRel, err := f.loadConfig(co)
	if err != nil {
		return nil, err
	}
	src, err := f.sources(cmd, co, cfg, cfgRel)
	if err != nil {
		return nil, err
	}
	if changed := src.Overridden(); len(changed) > 0 {
		f.g.logger(cmd.ErrOrStderr()).Warn("this revision changes settings the operator decides (which registries answer, how much is read, how long a move is held, who must sign); the base revision's are used",
			"file", cfgRel, "settings", strings.Join(changed, ", "), "base", f.baseConfig)
	}
	serving := src.Serving()
	co.MaxFileSize = serving.MaxFileSize
	s.opts.MinAge = serving.MinAge
	cfgName := cfgRel
	if cfgName == "" {
		cfgName = f.configFile
	}
	if err := f.selection(cmd, s, cfg, cfgName, loc, args); err != nil {
		return nil, err
	}
	// Evidence is read where it is shown: a pull request's body, a JSON
	// report; never for a gate.
	s.opts.Evidence = !f.noEvidence && !f.check && (f.forPR || f.output == "json")
	if err := f.resolver(cmd, s, serving); err != nil {
		return nil, err
	}
	if err := f.signaturePolicy(cmd, s, serving, cfgName); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// validate refuses what the flags and paths say before anything is read.
func (f *pinFlags) validate(cmd *cobra.Command, args []string) error {
	for _, a := range args {
		if _, err := os.Lstat(a); errors.Is(err, fs.ErrNotExist) {
			return usageError("no such file or directory: %s", a)
		} else if err != nil {
			return usageError("%v", err)
		}
	}
	switch {
	case f.timeout <= 0:
		return usageError("--timeout must be more than 0 (it bounds the resolution of each reference)")
	case f.offline && (f.verify || cmd.Flags().Changed("platform")):
		return usageError("--verify and --platform read from the registry: they do not go with --offline")
	case f.jobs < 1:
		return usageError("--jobs must be at least 1")
	case f.cacheTTL <= 0:
		return usageError("--cache-ttl must be more than 0")
	case cmd.Flags().Changed("min-age") && f.minAge < 0:
		return usageError("--min-age must not be negative")
	}
	return nil
}

// sources are where the settings the operator decides come from (see
// config.Sources): the flags, the configuration file, and with
// --base-config the checkout's file as the base revision holds it.
func (f *pinFlags) sources(cmd *cobra.Command, co *checkout.Checkout, cfg *config.Config, cfgRel string) (config.Sources, error) {
	src := config.Sources{File: cfg, InCheckout: cfgRel != "", Mirrors: f.mirrors, Insecure: f.insecure}
	if f.baseConfig != "" {
		if cfgRel == "" {
			return src, usageError("--base-config reads the configuration as a commit holds it: --config %s is not in the checkout", f.configFile)
		}
		base, err := baseConfig(cmd, co, f.baseConfig, cfgRel)
		if err != nil {
			return src, err
		}
		src.Base = base
	}
	if cmd.Flags().Changed("max-file-size") {
		n, err := size.Parse(f.maxFileSize)
		if err != nil {
			return src, usageError("--max-file-size: %v", err)
		}
		src.MaxFileSize = &n
	}
	if cmd.Flags().Changed("min-age") {
		src.MinAge = &f.minAge
	}
	return src, nil
}

// selection sets what the run looks at and how it writes: the pull policy,
// the files and images the configuration selects, the platforms, and the
// modes. A path named on the command line that the configuration leaves
// out is said, never checked as "all pinned".
func (f *pinFlags) selection(cmd *cobra.Command, s *session, cfg *config.Config, cfgName string, loc *checkout.Location, args []string) error {
	policy := cfg.PullPolicy
	if cmd.Flags().Changed("pull-policy") || policy == "" {
		policy = f.pullPolicy
	}
	var err error
	if s.opts.PullPolicy, err = rewrite.ParsePullPolicy(policy); err != nil {
		return usageError("%v", err)
	}
	matcher, err := config.NewMatcher(cfg.Include, cfg.Exclude, cfg.Ignore)
	if err != nil {
		return usageError("%v", err)
	}
	s.opts.Filter = matcher
	for k, p := range loc.Paths {
		fi, err := s.co.Lstat(p)
		if err != nil {
			continue
		}
		if key, globs := matcher.Excludes(p, fi.IsDir()); key != "" {
			return usageError("%s: left out by %s in %s (%s): nothing there is scanned; name a path it selects, or change %s",
				args[k], key, cfgName, strings.Join(globs, ", "), key)
		}
	}
	s.opts.Offline, s.opts.Verify = f.offline, f.verify
	mode := cfg.Actions
	if cmd.Flags().Changed("actions") || mode == "" {
		mode = f.actions
	}
	if mode == "" {
		mode = string(pin.ActionsPin)
	}
	if s.opts.Actions, err = pin.ParseActionsMode(mode); err != nil {
		return usageError("--actions: %v", err)
	}
	s.opts.ActionsByTag = cfg.ActionsByTag
	if s.opts.ActionsByTag == nil {
		s.opts.ActionsByTag = pin.DefaultActionsByTag
	}
	platforms := cfg.Platforms
	if cmd.Flags().Changed("platform") {
		platforms = f.platforms
	}
	for _, ps := range platforms {
		p, err := config.ParsePlatform(ps)
		if err != nil {
			return usageError("--platform: %v", err)
		}
		s.opts.Platforms = append(s.opts.Platforms, p)
	}
	return nil
}

// resolver sets up the session's resolver, its mirrors and insecure
// registries as the trust boundary settled them, and the cache.
func (f *pinFlags) resolver(cmd *cobra.Command, s *session, serving config.Serving) error {
	parse := func(list []string) ([]resolve.Mirror, error) {
		var out []resolve.Mirror
		for _, m := range list {
			mm, err := resolve.ParseMirror(m)
			if err != nil {
				return nil, usageError("%v", err)
			}
			out = append(out, mm)
		}
		return out, nil
	}
	mirrors, err := parse(serving.Mirrors)
	if err != nil {
		return err
	}
	cfgMirrors, err := parse(serving.CheckoutMirrors)
	if err != nil {
		return err
	}
	var digests *cache.Cache // the cache's answers: never for --check unless --cache-check
	if f.cacheFile != "" && !f.offline {
		if s.cache, err = cache.Open(f.cacheFile, f.cacheTTL, f.g.logger(cmd.ErrOrStderr())); err != nil {
			return usageError("--cache: %v", err)
		}
		if !f.check || f.cacheCheck {
			digests = s.cache
		}
		s.opts.FirstSeen = s.cache.FirstSeen()
	}
	s.opts.Progress = f.progressFor(cmd)
	r, err := resolve.New(resolve.Options{
		Progress:         s.opts.Progress,
		Cache:            digests,
		Mirrors:          mirrors,
		Insecure:         serving.Insecure,
		CheckoutMirrors:  cfgMirrors,
		CheckoutInsecure: serving.CheckoutInsecure,
		Jobs:             f.jobs,
		Timeout:          f.timeout,
		UserAgent:        "pinbot/" + buildVersion().Version,
		Logger:           f.g.logger(cmd.ErrOrStderr()),
	})
	if err != nil {
		return usageError("%v", err)
	}
	s.resolver = r
	return f.actionResolver(s)
}

// actionResolver sets up what asks GitHub about actions: the API at
// --api-url ($GITHUB_API_URL, else api.github.com), with $GITHUB_TOKEN when
// set (public actions need none).
func (f *pinFlags) actionResolver(s *session) error {
	if s.opts.Actions == pin.ActionsOff || s.opts.Offline {
		return nil
	}
	api := ""
	if f.apiURL != nil {
		api = f.apiURL()
	}
	hc := &http.Client{Timeout: forge.RequestTimeout}
	if token := os.Getenv("GITHUB_TOKEN"); token != "" {
		hc = forge.TokenClient(context.Background(), token, api)
	}
	c, err := forge.APIClient(api, hc)
	if err != nil {
		return usageError("--api-url: %v", err)
	}
	s.opts.ActionResolver, s.opts.ActionsWeb = actions.New(c), forge.WebURL(api)
	return nil
}

func newPinCmd(g *globals) *cobra.Command {
	f := &pinFlags{g: g}
	var diff bool
	var apiURL string
	f.apiURL = func() string {
		if apiURL != "" {
			return apiURL
		}
		return os.Getenv("GITHUB_API_URL")
	}
	cmd := &cobra.Command{
		Use:   "pin [PATH...]",
		Short: "Pin every container image under PATH (default .) to its digest",
		Long: `Pin rewrites, in place, every mutable image reference under the given paths
(default: the current directory) to name:tag@sha256:<digest>, and renews the
digest of references whose tag has moved upstream. Nothing else in any file
changes: not comments, quoting, indentation, key order or line endings.

Where images are found, format by format: pinbot help formats.
A reference built from variables (${TAG}, {{ .Values.image }}) is skipped, and
a line "# pinbot:ignore" on or above a reference leaves it alone. A file that
pinbot cannot parse is reported and left byte-identical.

Pinned Kubernetes containers of the built-in kinds get imagePullPolicy:
IfNotPresent (--pull-policy): a digest cannot go stale, so Always only adds a
registry round trip to every pod start. A container with Never (an image
loaded onto the node) is left alone. Custom resources never
get a field they may not have.

Credentials come from the docker config file and its credential helpers, and
GITHUB_TOKEN for ghcr.io. Registries are reached over HTTPS unless named with
--insecure-registry.

Exit status: 0 done; 1 --check found references to pin or update; 2 usage or
configuration error; 3 some references could not be resolved or some files
could not be written (everything else was still pinned, and each failure is
named as file:line: ref: error).`,
		Example: `  pinbot pin                 # pin everything under the current directory
  pinbot pin --check         # CI gate: exit 1 if anything is unpinned or stale
  pinbot pin --diff deploy/  # show what would change
  pinbot pin --output json > pins.json
  pinbot pin --mirror docker.io=harbor.example.com/dockerhub-proxy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			if diff && f.output != "text" {
				return usageError("--diff writes the diff to standard output: it goes with --output text only")
			}
			if diff && f.check {
				return usageError("--check and --diff are two answers to one question: --check exits 1 and lists what would change, --diff shows it; choose one")
			}
			if diff && f.offline {
				return usageError("--diff with --offline shows nothing: offline, no digest is looked up, so nothing would change")
			}
			s, err := f.open(cmd, args)
			if err != nil {
				return err
			}
			defer s.co.Close()
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			writes := !f.check && !diff && !f.offline
			switch {
			case writes:
				// Each file is written as soon as its references settle.
				s.opts.Sink = func(c pin.Change) error { return s.co.WriteFile(c.Path, c.Old, c.New) }
			case f.check && !diff:
				// The gate writes nothing, and keeps no file's bytes once
				// its change is known: they are handed over, and dropped.
				s.opts.Sink = func(pin.Change) error { return nil }
			}
			s.opts.Edits = diff
			if s.opts.MinAge > 0 && s.cache == nil && !f.offline {
				g.logger(stderr).Warn("--min-age without --cache: pin remembers no first sightings between runs, so every moved tag is held; give it a --cache file")
			}
			res, err := s.run(cmd)
			if err != nil {
				return err
			}
			s.saveCache(g.logger(stderr), res.Report)
			if writes { // the scan has found them
				removeStale(s.co, g.logger(stderr))
			}
			rep := res.Report
			rep.Version = buildVersion().Version
			// the problems first: on a terminal, the summary is the last line
			report.WriteProblems(stderr, rep)
			if diff {
				for _, c := range res.Changes {
					if err = rewrite.WriteDiff(stdout, c.Path, c.Old, c.Edits); err != nil {
						return err
					}
				}
			} else {
				err = writeReport(stdout, rep, f.output, f.check, g.verbose)
			}
			if err != nil {
				return err
			}
			return outcome(rep, f.check)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&apiURL, "api-url", "", "GitHub's REST API `URL`, asked about actions (default: $GITHUB_API_URL, else https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)")
	cmd.Flags().BoolVar(&f.check, "check", false, "write nothing; exit 1 if any reference is unpinned or stale, listing each")
	cmd.Flags().BoolVar(&diff, "diff", false, "write nothing; print a unified diff of what pin would change")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "report `FORMAT`: text, json, sarif (code scanning) or github (workflow annotations, job summary and step outputs)")
	return cmd
}

// newFormatsTopic is "pinbot help formats": where images are found.
func newFormatsTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "formats",
		Short: "Where pinbot finds images, format by format",
		Long:  "Where pinbot finds images, format by format:\n\n" + formatsHelp(),
	}
}

// formatsHelp is the table of formats for "pinbot help formats": each
// format's files, then where in them images are found, wrapped and indented.
func formatsHelp() string {
	plain := strings.NewReplacer("`", "", "\\\"", "\"")
	var b strings.Builder
	for _, r := range rewrite.Table() {
		b.WriteString("  " + plain.Replace(r.Files) + "\n")
		line := "     "
		for _, word := range strings.Fields(plain.Replace(r.Places)) {
			if len(line)+1+len(word) > 80 && len(line) > 5 {
				b.WriteString(line + "\n")
				line = "     "
			}
			line += " " + word
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// removeStale removes the temporary files a killed run left behind.
func removeStale(co *checkout.Checkout, log *slog.Logger) {
	removed, err := co.RemoveTemp(co.Stale())
	for _, r := range removed {
		log.Info("removed a temporary file left by an interrupted run", "file", r)
	}
	if err != nil {
		log.Warn("could not remove a temporary file left by an interrupted run", "err", err)
	}
}

// outcome maps a report to the exit status.
func outcome(rep *report.Report, check bool) error {
	switch {
	case rep.Failed(), check && len(rep.Ununderstood()) > 0:
		return &exitError{code: exitFailure}
	case check && rep.WorkCount() > 0:
		return &exitError{code: exitWork}
	}
	return nil
}

var outputs = []string{"text", "json", "sarif", "github"}

func checkOutput(output string) error {
	for _, o := range outputs {
		if o == output {
			return nil
		}
	}
	return usageError("--output %q: want %s", output, strings.Join(outputs, ", "))
}

// writeReport writes the report in the chosen format. "github" is the text
// report with workflow commands (annotations) after it, and, when the runner
// names them, the job summary ($GITHUB_STEP_SUMMARY) and step outputs
// ($GITHUB_OUTPUT).
func writeReport(w io.Writer, rep *report.Report, output string, check, verbose bool) error {
	switch output {
	case "json":
		return report.WriteJSON(w, rep)
	case "sarif":
		return report.WriteSARIF(w, rep, buildVersion().Version)
	}
	var err error
	if check {
		err = report.WriteCheck(w, rep, verbose)
	} else {
		err = report.WriteText(w, rep, verbose)
	}
	if err != nil || output != "github" {
		return err
	}
	return githubExtras(w, rep, check)
}

// githubExtras writes the workflow commands, the job summary and the step
// outputs of --output github.
func githubExtras(w io.Writer, rep *report.Report, check bool) error {
	if err := report.WriteAnnotations(w, rep, check); err != nil {
		return err
	}
	if err := appendTo(os.Getenv("GITHUB_STEP_SUMMARY"), func(f io.Writer) error { return report.WriteStepSummary(f, rep, check) }); err != nil {
		return err
	}
	return appendTo(os.Getenv("GITHUB_OUTPUT"), func(f io.Writer) error { return report.WriteOutputs(f, rep) })
}

// appendTo appends to a file the Actions runner named, if it named one.
func appendTo(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
