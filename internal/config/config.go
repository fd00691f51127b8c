// Package config reads .pinbot.yaml, the per-repository settings that the
// command line's flags add to.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/signature"
	"github.com/pinbot/pinbot/internal/size"
	"github.com/pinbot/pinbot/internal/yamlerr"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// DefaultFile is the configuration file looked for at a checkout's root.
const DefaultFile = ".pinbot.yaml"

// Config is .pinbot.yaml.
type Config struct {
	// Mirrors resolves references of a registry (or registry/prefix) through
	// another: {"docker.io": "harbor.example.com/dockerhub-proxy"}.
	Mirrors map[string]string `yaml:"mirrors"`
	// InsecureRegistries may be reached over plain HTTP.
	InsecureRegistries []string `yaml:"insecureRegistries"`
	// PullPolicy is IfNotPresent (default), Always or keep.
	PullPolicy string `yaml:"pullPolicy"`
	// Include limits the files scanned to those matching any glob; Exclude
	// drops files matching any. Globs are relative to the root; ** crosses
	// directories.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Ignore lists images to leave alone: a repository (any tag), a
	// repository:tag, or a glob over either.
	Ignore []string `yaml:"ignore"`
	// MaxFileSize is the largest file read, in bytes (written "32MiB"); 0
	// means the default. A larger file in scope fails the run.
	MaxFileSize int64 `yaml:"maxFileSize"`
	// Platforms every digest written or kept must cover: "linux/amd64",
	// "linux/arm64/v8".
	Platforms []string `yaml:"platforms"`
	// MinAge is the cooldown (--min-age): a moved tag's new digest is
	// proposed once pinbot has seen it for this long ("72h").
	MinAge time.Duration `yaml:"minAge"`
	// Actions is what pinbot does with the actions and reusable workflows
	// that workflows name by ref: pin (the default), check or off.
	Actions string `yaml:"actions"`
	// ActionsByTag are globs of actions (owner/repo[/path]) left on their
	// tag, as they verify the ref they are called by; nil: the default
	// list (the SLSA generator's workflows).
	ActionsByTag []string `yaml:"actionsByTag"`
	// Signatures is the signature policy: who must sign the digests
	// pinbot writes (see signature.Policy). The operator decides it, as
	// mirrors.
	Signatures *signature.Policy `yaml:"signatures"`
}

// ActionsModes are the values of actions.
var ActionsModes = []string{"pin", "check", "off"}

// PullPolicies are the values of pullPolicy (any case); what each does is
// the rewrite's to say.
var PullPolicies = []string{"IfNotPresent", "Always", "keep"}

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(strings.TrimSpace(s))
	if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") < 1 {
		return v1.Platform{}, fmt.Errorf("platform %q: want OS/ARCH[/VARIANT], as in linux/arm64", s)
	}
	return *p, nil
}

var keys = []string{"mirrors", "insecureRegistries", "pullPolicy", "include", "exclude", "ignore", "maxFileSize", "platforms", "minAge", "actions", "actionsByTag", "signatures"}

// Load reads a configuration file. An unknown key, a wrong type or a bad
// value is an error naming the file, the line and the key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Error is a configuration problem at a line of a file, under a key.
type Error struct {
	File string
	Line int    // 1-based; 0 when the problem is the file as a whole
	Key  string // "" when it is not under one key
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse reads configuration bytes; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // empty, or only comments
		}
		return nil, syntaxError(name, data, err)
	}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		if root.Tag == "!!null" {
			return c, nil
		}
		return nil, &Error{File: name, Line: root.Line, Msg: "want a mapping of settings (" + strings.Join(keys, ", ") + ")"}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			return nil, &Error{File: name, Line: k.Line, Key: k.Value, Msg: fmt.Sprintf("already set at line %d", first)}
		}
		seen[k.Value] = k.Line
		if err := c.set(k.Value, v); err != nil {
			if err.Line == 0 {
				err.Line = k.Line
			}
			err.File = name
			return nil, err
		}
	}
	return c, nil
}

// syntaxError says where YAML stopped reading data, and why, in words for
// the likeliest slip (a tab in the indentation).
func syntaxError(name string, data []byte, err error) *Error {
	e := &Error{File: name}
	e.Line, e.Msg = yamlerr.SplitIn(err, data)
	e.Key = keyAt(data, e.Line)
	if l := lineOf(data, e.Line); bytes.HasPrefix(bytes.TrimLeft(l, " "), []byte("\t")) {
		e.Msg = "a tab in the indentation: YAML indents with spaces"
		if k, _, ok := bytes.Cut(bytes.TrimSpace(l), []byte(":")); ok && !bytes.ContainsAny(k, " -") {
			e.Key = string(k)
		}
	}
	return e
}

// set reads one setting, key with its value node, into c. An error names
// the key, and the line when it knows it better than the key's.
func (c *Config) set(key string, v *yaml.Node) *Error {
	bad := func(line int, format string, args ...any) *Error {
		return &Error{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	switch key {
	case "mirrors":
		m, err := mirrors(v)
		if err != nil {
			err.Key = key
			return err
		}
		c.Mirrors = m
	case "platforms":
		list, err := stringList(v)
		if err != nil {
			return bad(err.line, "%s", err.msg)
		}
		for j, ps := range list {
			if _, err := ParsePlatform(ps); err != nil {
				return bad(v.Content[j].Line, "%v", err)
			}
		}
		c.Platforms = list
	case "actions":
		if v.Kind != yaml.ScalarNode || !slices.Contains(ActionsModes, strings.ToLower(v.Value)) {
			return bad(v.Line, "want pin, check or off")
		}
		c.Actions = strings.ToLower(v.Value)
	case "insecureRegistries", "include", "exclude", "ignore", "actionsByTag":
		return c.setList(key, v)
	case "pullPolicy":
		if v.Kind != yaml.ScalarNode {
			return bad(v.Line, "want IfNotPresent, Always or keep")
		}
		if !slices.ContainsFunc(PullPolicies, func(p string) bool { return strings.EqualFold(p, v.Value) }) {
			return bad(v.Line, "pull policy %q: want IfNotPresent, Always or keep", v.Value)
		}
		c.PullPolicy = v.Value
	case "maxFileSize":
		if v.Kind != yaml.ScalarNode {
			return bad(v.Line, "want a size, as in 32MiB")
		}
		n, err := size.Parse(v.Value)
		if err != nil {
			return bad(v.Line, "%v", err)
		}
		c.MaxFileSize = n
	case "signatures":
		p, err := signaturePolicy(v)
		if err != nil {
			err.Key = key
			return err
		}
		c.Signatures = p
	case "minAge":
		d, err := time.ParseDuration(strings.TrimSpace(v.Value))
		if v.Kind != yaml.ScalarNode || err != nil || d < 0 {
			return bad(v.Line, "want a duration, as in 72h or 90m")
		}
		c.MinAge = d
	default:
		return &Error{Msg: fmt.Sprintf("unknown key %q (known keys: %s)", key, strings.Join(keys, ", "))}
	}
	return nil
}

// setList sets one of the keys that hold a list of strings (globs, but
// for insecureRegistries).
func (c *Config) setList(key string, v *yaml.Node) *Error {
	bad := func(line int, format string, args ...any) *Error {
		return &Error{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	list, err := stringList(v)
	if err != nil {
		return bad(err.line, "%s", err.msg)
	}
	for j, g := range list {
		if key != "insecureRegistries" && !doublestar.ValidatePattern(g) {
			return bad(v.Content[j].Line, "%q is not a valid glob", g)
		}
	}
	switch key {
	case "insecureRegistries":
		c.InsecureRegistries = list
	case "include":
		c.Include = list
	case "exclude":
		c.Exclude = list
	case "ignore":
		c.Ignore = list
	case "actionsByTag":
		c.ActionsByTag = list
	}
	return nil
}

// mirrors reads the mapping of SRC: DST.
func mirrors(v *yaml.Node) (map[string]string, *Error) {
	const want = "want SRC: DST, as in docker.io: harbor.example.com/dockerhub"
	if v.Kind != yaml.MappingNode {
		return nil, &Error{Line: v.Line, Msg: "want a mapping of SRC: DST, as in docker.io: harbor.example.com/dockerhub"}
	}
	m := map[string]string{}
	for j := 0; j+1 < len(v.Content); j += 2 {
		mk, mv := v.Content[j], v.Content[j+1]
		if mk.Kind != yaml.ScalarNode || mv.Kind != yaml.ScalarNode || mv.Tag == "!!null" {
			return nil, &Error{Line: mk.Line, Msg: want}
		}
		if strings.TrimSpace(strings.TrimSuffix(mk.Value, "/")) == "" || strings.TrimSpace(strings.TrimSuffix(mv.Value, "/")) == "" {
			return nil, &Error{Line: mk.Line, Msg: fmt.Sprintf("mirror %q: %q: %s", mk.Value, mv.Value, want)}
		}
		m[mk.Value] = mv.Value
	}
	return m, nil
}

type listError struct {
	line int
	msg  string
}

// stringList reads a sequence of strings (block or flow style), naming the
// line of the first item that is not one.
func stringList(v *yaml.Node) ([]string, *listError) {
	if v.Kind != yaml.SequenceNode {
		what := "a " + strings.TrimPrefix(v.Tag, "!!")
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			what = fmt.Sprintf("the string %q", v.Value)
		}
		return nil, &listError{v.Line, fmt.Sprintf("want a list (- item, or [a, b]), not %s", what)}
	}
	out := make([]string, 0, len(v.Content))
	for _, it := range v.Content {
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" || it.Value == "" {
			return nil, &listError{it.Line, "want a non-empty string"}
		}
		out = append(out, it.Value)
	}
	return out, nil
}

// lineOf is line n (1-based) of data.
func lineOf(data []byte, n int) []byte {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return nil
	}
	return lines[n-1]
}

// keyAt is the top-level key whose block holds line n, for errors the
// YAML parser reports by line alone.
func keyAt(data []byte, n int) string {
	lines := bytes.Split(data, []byte("\n"))
	for i := min(n, len(lines)) - 1; i >= 0; i-- {
		l := lines[i]
		if len(l) == 0 || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || l[0] == '-' {
			continue
		}
		if k, _, ok := bytes.Cut(l, []byte(":")); ok {
			return string(bytes.TrimSpace(k))
		}
		return ""
	}
	return ""
}

// ServingChanges names the settings the operator decides, not a pull
// request: which registries answer, over which transport, how much pinbot
// reads, how long a moved tag is held, and who must sign (mirrors,
// insecureRegistries, maxFileSize, minAge, signatures), where next differs
// from base.
func ServingChanges(base, next *Config) []string {
	var out []string
	if !slices.Equal(base.MirrorList(), next.MirrorList()) {
		out = append(out, "mirrors")
	}
	a, b := slices.Clone(base.InsecureRegistries), slices.Clone(next.InsecureRegistries)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		out = append(out, "insecureRegistries")
	}
	if base.MaxFileSize != next.MaxFileSize {
		out = append(out, "maxFileSize")
	}
	if base.MinAge != next.MinAge {
		out = append(out, "minAge")
	}
	if !reflect.DeepEqual(base.Signatures, next.Signatures) {
		out = append(out, "signatures")
	}
	return out
}

// MirrorList is Mirrors as SRC=DST strings, sorted.
func (c *Config) MirrorList() []string {
	var out []string
	for k, v := range c.Mirrors {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Matcher tells whether a file path or an image is selected by globs.
type Matcher struct {
	include, exclude, ignore []string
}

// NewMatcher checks and keeps the globs.
func NewMatcher(include, exclude, ignore []string) (*Matcher, error) {
	for _, g := range append(append(append([]string(nil), include...), exclude...), ignore...) {
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("%q is not a valid glob", g)
		}
	}
	return &Matcher{include: include, exclude: exclude, ignore: ignore}, nil
}

// File reports whether a slash path relative to the root is to be scanned.
func (m *Matcher) File(rel string) bool {
	if len(m.include) > 0 && !anyMatch(m.include, rel) {
		return false
	}
	return !anyMatch(m.exclude, rel)
}

// Dir reports whether a directory can hold files to scan: false only when an
// exclude glob matches the directory and everything under it.
func (m *Matcher) Dir(rel string) bool {
	for _, g := range m.exclude {
		if ok, _ := doublestar.Match(g, rel); ok {
			return false
		}
		if strings.HasSuffix(g, "/**") {
			if ok, _ := doublestar.Match(strings.TrimSuffix(g, "/**"), rel); ok {
				return false
			}
		}
	}
	return true
}

// Excludes tells why a path given on the command line selects no file to
// scan: the key that leaves it out ("include" or "exclude") and its globs;
// "" when files under it may be scanned. For a directory, include leaves it
// out when no include glob can match anything under it.
func (m *Matcher) Excludes(rel string, dir bool) (key string, globs []string) {
	rel = strings.TrimPrefix(path.Clean(rel), "./")
	if !dir {
		switch {
		case len(m.include) > 0 && !anyMatch(m.include, rel):
			return "include", m.include
		case anyMatch(m.exclude, rel):
			return "exclude", m.exclude
		}
		return "", nil
	}
	if rel != "." && !m.Dir(rel) {
		return "exclude", m.exclude
	}
	if len(m.include) == 0 || rel == "." {
		return "", nil
	}
	for _, g := range m.include {
		if mayMatchUnder(g, rel) {
			return "", nil
		}
	}
	return "include", m.include
}

// mayMatchUnder tells whether glob g can match a path under directory dir:
// whether the part of g before its first wildcard and dir agree as far as
// both go.
func mayMatchUnder(g, dir string) bool {
	static := g
	if i := strings.IndexAny(g, "*?[{\\"); i >= 0 {
		static = g[:i]
	} else {
		// no wildcard: g names one path
		return strings.HasPrefix(g, dir+"/")
	}
	d := dir + "/"
	return strings.HasPrefix(d, static) || strings.HasPrefix(static, d)
}

func anyMatch(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, s); ok {
			return true
		}
	}
	return false
}

// IgnoredChart reports whether a chart's directory (a slash path from the
// root) is listed under ignore: a chart pinbot cannot judge then does not
// fail the run.
func (m *Matcher) IgnoredChart(dir string) bool {
	return anyMatch(m.ignore, strings.TrimSuffix(dir, "/"))
}

// IgnoredAction reports whether an action (owner/repo or owner/repo/path)
// is listed under ignore.
func (m *Matcher) IgnoredAction(action string) bool {
	return anyMatch(m.ignore, action)
}

// Ignored reports whether an image is listed to be left alone. An entry
// matches the repository in any spelling ("nginx", "docker.io/library/nginx"),
// with or without the tag written.
func (m *Matcher) Ignored(r imageref.Ref) bool {
	if len(m.ignore) == 0 {
		return false
	}
	names := r.Spellings()
	for _, g := range m.ignore {
		for _, n := range names {
			if ok, _ := doublestar.Match(g, n); ok {
				return true
			}
			if tag := r.Follows(); tag != "" {
				if ok, _ := doublestar.Match(g, n+":"+tag); ok {
					return true
				}
			}
		}
	}
	return false
}

var unmarshalLineRE = regexp.MustCompile(`line (\d+): ([^\n]*)`)

// signatureKeys are the keys a signature policy's mappings take, by where
// they stand.
var signatureKeys = map[string][]string{
	"":            {"mode", "trustedRoot", "rules"},
	"rules":       {"images", "keyless", "key", "tlog", "attestation"},
	"keyless":     {"issuer", "subject", "subjectRegExp"},
	"attestation": {"predicateType", "sourceRepository"},
}

// signaturePolicy reads signatures: and checks it, an error naming the
// line it is about.
func signaturePolicy(v *yaml.Node) (*signature.Policy, *Error) {
	if err := knownKeys(v, ""); err != nil {
		return nil, err
	}
	var p signature.Policy
	if err := v.Decode(&p); err != nil {
		// "yaml: unmarshal errors:\n  line 5: cannot unmarshal …": the first
		if m := unmarshalLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{Line: line, Msg: m[2]}
		}
		return nil, &Error{Line: v.Line, Msg: err.Error()}
	}
	if err := p.Validate(); err != nil {
		line := v.Line
		var n int
		if _, scanErr := fmt.Sscanf(err.Error(), "rule %d:", &n); scanErr == nil {
			if rules := valueOf(v, "rules"); rules != nil && n >= 1 && n <= len(rules.Content) {
				line = rules.Content[n-1].Line
			}
		} else if m := valueOf(v, "mode"); m != nil {
			line = m.Line
		}
		return nil, &Error{Line: line, Msg: err.Error()}
	}
	return &p, nil
}

// knownKeys refuses a key a signature policy does not take, where it
// stands (a typo in a policy must not pass as no rule).
func knownKeys(v *yaml.Node, at string) *Error {
	switch v.Kind {
	case yaml.SequenceNode:
		for _, c := range v.Content {
			if err := knownKeys(c, at); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		allowed := signatureKeys[at]
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := v.Content[i].Value
			if !slices.Contains(allowed, k) {
				where := "signatures"
				if at != "" {
					where = at
				}
				return &Error{Line: v.Content[i].Line, Msg: fmt.Sprintf("unknown key %q in %s (known keys: %s)", k, where, strings.Join(allowed, ", "))}
			}
			if _, nested := signatureKeys[k]; nested {
				if err := knownKeys(v.Content[i+1], k); err != nil {
					return err
				}
			}
		}
	default:
		if at == "" {
			return &Error{Line: v.Line, Msg: "want a mapping of mode, trustedRoot and rules"}
		}
	}
	return nil
}

// valueOf is the value of key in mapping v; nil when absent.
func valueOf(v *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(v.Content); i += 2 {
		if v.Content[i].Value == key {
			return v.Content[i+1]
		}
	}
	return nil
}
