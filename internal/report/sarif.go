package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// SARIF 2.1.0, as GitHub code scanning reads it: one result per reference
// that is unpinned, stale or unresolvable, under a rule per kind of finding.

// Rule ids.
const (
	RuleUnpinned   = "pinbot/unpinned-image"
	RuleStale      = "pinbot/stale-digest"
	RuleUnresolved = "pinbot/unresolved-image"
	RulePullPolicy = "pinbot/pull-policy"
	RuleUnread     = "pinbot/unread-file"
	RuleVanished   = "pinbot/vanished-digest"
	RulePlatform   = "pinbot/missing-platform"
	RuleUnjudged   = "pinbot/chart-not-judged"
	RuleSignature  = "pinbot/signature-refused"
	RuleAudit      = "pinbot/signature-policy"
)

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	Help             sarifHelp      `json:"help"`
	Default          sarifDefault   `json:"defaultConfiguration"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

var sarifRules = []sarifRule{
	{
		ID: RuleSignature, Name: "SignatureRefused",
		ShortDescription: sarifText{"Digest refused by the signature policy"},
		FullDescription:  sarifText{"The digest the tag points at is not signed as the signature policy requires: by the signer a rule names, or by whoever signed the digest it replaces. pinbot leaves the reference as it was."},
		Help: sarifHelp{
			Text:     "Check who published the new digest before taking it; if the signer changed on purpose, change the rule under signatures: in the operator's configuration.",
			Markdown: "Check who published the new digest before taking it; if the signer changed on purpose, change the rule under `signatures:` in the operator's configuration.",
		},
		Default:    sarifDefault{"error"},
		Properties: map[string]any{"tags": []string{"supply-chain", "containers", "signatures"}},
	},
	{
		ID: RuleAudit, Name: "SignaturePolicyNotMet",
		ShortDescription: sarifText{"Digest does not meet the signature policy (audit)"},
		FullDescription:  sarifText{"The digest is not signed as the signature policy requires (by the signer a rule names, or by whoever signed the digest it replaces); in audit mode pinbot pins it anyway and says so."},
		Help: sarifHelp{
			Text:     "Check who published the digest; signatures: {mode: enforce} refuses such digests.",
			Markdown: "Check who published the digest; `signatures: {mode: enforce}` refuses such digests.",
		},
		Default:    sarifDefault{"warning"},
		Properties: map[string]any{"tags": []string{"supply-chain", "containers", "signatures"}},
	},
	{
		ID: RuleUnpinned, Name: "UnpinnedImage",
		ShortDescription: sarifText{"Container image not pinned to a digest"},
		FullDescription:  sarifText{"The reference names a tag but no digest: the registry can point the tag at other bytes at any time, and nodes that cached the old image keep running it."},
		Help: sarifHelp{
			Text:     "Run `pinbot pin` to write name:tag@sha256:<digest>, or mark the line with `# pinbot:ignore`.",
			Markdown: "Run `pinbot pin` to write `name:tag@sha256:<digest>` (the tag stays for people to read), or mark the line with `# pinbot:ignore`.",
		},
		Default:    sarifDefault{"error"},
		Properties: map[string]any{"tags": []string{"supply-chain", "containers"}},
	},
	{
		ID: RuleStale, Name: "StaleDigest",
		ShortDescription: sarifText{"Pinned digest is no longer the tag's"},
		FullDescription:  sarifText{"The tag moved upstream: the digest written is not the one the registry serves for the tag any more."},
		Help: sarifHelp{
			Text:     "Run `pinbot pin` (or merge pinbot's pull request) to take the new digest after reviewing the change upstream.",
			Markdown: "Run `pinbot pin` (or merge pinbot's pull request) to take the new digest after reviewing the change upstream.",
		},
		Default:    sarifDefault{"warning"},
		Properties: map[string]any{"tags": []string{"supply-chain", "containers"}},
	},
	{
		ID: RuleUnresolved, Name: "UnresolvedImage",
		ShortDescription: sarifText{"Container image could not be resolved"},
		FullDescription:  sarifText{"The registry did not answer with a digest for the tag: it may not exist, or the credentials in use may not pull it."},
		Help: sarifHelp{
			Text:     "Check the reference and the registry credentials (docker login, or GITHUB_TOKEN for ghcr.io).",
			Markdown: "Check the reference and the registry credentials (`docker login`, or `GITHUB_TOKEN` for ghcr.io).",
		},
		Default: sarifDefault{"error"},
	},
	{
		ID: RulePullPolicy, Name: "PullPolicy",
		ShortDescription: sarifText{"imagePullPolicy does not match the pinned image"},
		FullDescription:  sarifText{"A container pinned by digest still pulls on every start (Always), or has no pull policy: a digest cannot go stale, so IfNotPresent is safe and fast."},
		Help: sarifHelp{
			Text:     "Run `pinbot pin`, or choose the policy with --pull-policy.",
			Markdown: "Run `pinbot pin`, or choose the policy with `--pull-policy`.",
		},
		Default: sarifDefault{"note"},
	},
	{
		ID: RuleVanished, Name: "VanishedDigest",
		ShortDescription: sarifText{"Pinned digest no longer exists upstream"},
		FullDescription:  sarifText{"The registry no longer has the manifest the pinned digest names (an upstream rebuild deleted it): nodes that cached it keep running, but a new node fails with ErrImagePull."},
		Help: sarifHelp{
			Text:     "Run `pinbot pin` (or merge pinbot's pull request) to renew the digest from the tag; a reference pinned by digest alone needs a tag that exists.",
			Markdown: "Run `pinbot pin` (or merge pinbot's pull request) to renew the digest from the tag; a reference pinned by digest alone needs a tag that exists.",
		},
		Default:    sarifDefault{"error"},
		Properties: map[string]any{"tags": []string{"supply-chain", "containers", "availability"}},
	},
	{
		ID: RulePlatform, Name: "MissingPlatform",
		ShortDescription: sarifText{"Digest does not cover a required platform"},
		FullDescription:  sarifText{"The image the digest names has no manifest for a platform the repository requires (--platform, platforms: in .pinbot.yaml): nodes of that platform fail with exec format error."},
		Help: sarifHelp{
			Text:     "Use a tag built for every required platform, or change the required platforms.",
			Markdown: "Use a tag built for every required platform, or change `platforms:` in `.pinbot.yaml`.",
		},
		Default: sarifDefault{"error"},
	},
	{
		ID: RuleUnread, Name: "UnreadFile",
		ShortDescription: sarifText{"File in scope could not be read"},
		FullDescription:  sarifText{"pinbot could not read the file (too large, no permission, or too complex to scan), so the images it names are unknown."},
		Help: sarifHelp{
			Text:     "Make the file readable, raise maxFileSize in .pinbot.yaml, or exclude the file from pinbot's scope.",
			Markdown: "Make the file readable, raise `maxFileSize` in `.pinbot.yaml`, or list the file under `exclude:`.",
		},
		Default: sarifDefault{"error"},
	},
	{
		ID: RuleUnjudged, Name: "ChartNotJudged",
		ShortDescription: sarifText{"Helm chart could not be judged"},
		FullDescription:  sarifText{"pinbot judges a chart's image values by rendering the chart with Helm's engine; this chart did not render (or not with markers on its image values), so its images were not checked or pinned."},
		Help: sarifHelp{
			Text:     "Make the chart render with its values files (helm template), or list its directory under ignore: in .pinbot.yaml.",
			Markdown: "Make the chart render with its values files (`helm template`), or list its directory under `ignore:` in `.pinbot.yaml`.",
		},
		Default: sarifDefault{"error"},
	},
}

// WriteSARIF writes the run as a SARIF 2.1.0 log.
func WriteSARIF(w io.Writer, r *Report, version string) error {
	type loc struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI       string `json:"uri"`
				URIBaseID string `json:"uriBaseId"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine   int `json:"startLine"`
				StartColumn int `json:"startColumn,omitempty"`
			} `json:"region"`
		} `json:"physicalLocation"`
	}
	type result struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []loc             `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
	}
	index := map[string]int{}
	for i, rule := range sarifRules {
		index[rule.ID] = i
	}
	results := []result{}
	add := func(rule, msg, file string, line, col int, fingerprint string) {
		var l loc
		l.PhysicalLocation.ArtifactLocation.URI = uriPath(file)
		l.PhysicalLocation.ArtifactLocation.URIBaseID = "%SRCROOT%"
		l.PhysicalLocation.Region.StartLine = max(line, 1)
		l.PhysicalLocation.Region.StartColumn = col
		results = append(results, result{
			RuleID: rule, RuleIndex: index[rule], Level: sarifRules[index[rule]].Default.Level,
			Message: sarifText{Clip(msg)}, Locations: []loc{l},
			PartialFingerprints: map[string]string{"pinbot/v1": fingerprint},
		})
	}
	for _, e := range r.Entries {
		var rule, msg string
		switch {
		case e.Status == Vanished || (e.Status == Failed && e.Vanished):
			rule, msg = RuleVanished, fmt.Sprintf("%s: %s.", e.Ref, VanishedNote)
			if e.Pinned != "" {
				msg += " Renew it as " + e.Pinned + "."
			}
		case e.Status == Failed && len(e.Missing) > 0:
			rule, msg = RulePlatform, fmt.Sprintf("%s: %s", e.Ref, e.Error)
		case e.Status == Failed && e.Signature != nil && e.Signature.Refused:
			rule, msg = RuleSignature, fmt.Sprintf("%s: %s", e.Ref, e.Error)
		case e.Status == Failed:
			rule, msg = RuleUnresolved, fmt.Sprintf("%s could not be resolved: %s", e.Ref, e.Error)
		case e.Status == Unpinned:
			rule, msg = RuleUnpinned, fmt.Sprintf("%s names no digest.", e.Ref)
		case e.Status == Pinned:
			rule, msg = RuleUnpinned, fmt.Sprintf("%s names no digest: pin it as %s.", e.Ref, e.Pinned)
		case e.Status == Updated:
			rule, msg = RuleStale, fmt.Sprintf("The tag %s moved upstream: %s is now %s.", e.Tag, ShortDigest(e.OldDigest), e.Pinned)
		case e.PolicyChanged():
			rule, msg = RulePullPolicy, fmt.Sprintf("%s is pinned: imagePullPolicy %s.", e.Ref, e.PullPolicy)
		default:
			continue
		}
		if e.Note != "" {
			msg += " (" + e.Note + ")"
		}
		// the same reference in the same file is the same alert, whatever its line
		add(rule, msg, e.File, e.Line, e.Column, e.File+"|"+e.Kind+"|"+e.Ref)
	}
	for _, e := range r.Entries {
		if s := e.Signature; s != nil && s.Problem != "" && !s.Refused && e.Status != Failed {
			add(RuleAudit, fmt.Sprintf("%s: %s (audit: pinned anyway)", e.Ref, s.Problem), e.File, e.Line, e.Column, e.File+"|"+e.Kind+"|"+e.Ref+"|signature")
		}
	}
	for _, fe := range r.Unread {
		add(RuleUnread, fmt.Sprintf("%s could not be read: %s", fe.File, fe.Error), fe.File, 1, 0, fe.File+"|unread")
	}
	for _, c := range r.Unjudged() {
		file := path.Join(c.Dir, "Chart.yaml")
		add(RuleUnjudged, fmt.Sprintf("the chart %s could not be judged: %s", c.Dir, c.Reason), file, 1, 0, file+"|unjudged")
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "pinbot", "version": version, "semanticVersion": semver(version),
				"informationUri": "https://github.com/pinbot/pinbot", "rules": sarifRules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// uriPath is a slash path as a relative URI reference (RFC 3986): every
// byte outside the unreserved set and "/" percent-encoded, so a file name
// holding "#", "?", "%" or a space names that file and nothing else.
func uriPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '@' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func semver(v string) string {
	if len(v) > 1 && v[0] == 'v' {
		return v[1:]
	}
	return "0.0.0"
}
