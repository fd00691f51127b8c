package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/config"
	"github.com/pinbot/pinbot/internal/signature"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// maxPolicyFile bounds a key or trusted root the policy names.
const maxPolicyFile = 4 << 20

// signaturePolicy sets up the signature checker: the policy the operator
// decides (serving), its mode as --signatures says, and the keys and the
// trusted root it names, read beside the file that holds it.
func (f *pinFlags) signaturePolicy(cmd *cobra.Command, s *session, serving config.Serving, cfgName string) error {
	var p signature.Policy
	if serving.Signatures != nil {
		p = *serving.Signatures
	}
	if f.signatures != "" {
		m, err := signature.ParseMode(f.signatures)
		if err != nil {
			return usageError("--signatures: %v", err)
		}
		p.Mode = m
	}
	// With no mode set the bumps are audited as part of their evidence:
	// never for a gate, which audit would not fail, nor with --no-evidence.
	if p.Mode == signature.ModeOff || f.offline || p.Mode == signature.ModeDefault && (f.check || f.noEvidence) {
		return nil
	}
	reg, ok := s.resolver.(signature.Registry)
	if !ok {
		return nil
	}
	read := f.policyFiles(cmd.Context(), s.co, serving.SignaturesAt, cfgName)
	var keys []signature.Key
	seen := map[string]bool{}
	for _, r := range p.Rules {
		if r.Key == "" || seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		data, err := read(r.Key)
		if err != nil {
			return usageError("%s: signatures: key %s: %v", cfgName, r.Key, err)
		}
		k, err := signature.ParseKey(r.Key, data)
		if err != nil {
			return usageError("%s: signatures: %v", cfgName, err)
		}
		keys = append(keys, k)
	}
	trusted := publicGood(cmd.Context(), f.timeout)
	if p.TrustedRoot != "" {
		data, err := read(p.TrustedRoot)
		if err != nil {
			return usageError("%s: signatures: trustedRoot %s: %v", cfgName, p.TrustedRoot, err)
		}
		tr, err := root.NewTrustedRootFromJSON(data)
		if err != nil {
			return usageError("%s: signatures: trustedRoot %s: %v", cfgName, p.TrustedRoot, err)
		}
		trusted = func() (root.TrustedMaterial, error) { return tr, nil }
	}
	s.opts.Signatures = signature.New(p, reg, keys, trusted)
	// --check with a mode set judges the digests already written too
	s.opts.SignaturesKept = f.check && p.Mode != signature.ModeDefault
	return nil
}

// publicGood loads Sigstore's public-good trusted root through TUF, as
// sigstore-go ships its anchor, the first time a signature needs it; kept
// in memory, nothing written; each request bounded by timeout.
func publicGood(ctx context.Context, timeout time.Duration) signature.Trusted {
	return func() (root.TrustedMaterial, error) {
		opts := tuf.DefaultOptions()
		opts.DisableLocalCache = true
		opts.Context = ctx
		opts.Fetcher = tufFetcher{ctx: ctx, client: &http.Client{Timeout: timeout}}
		return root.FetchTrustedRootWithOptions(opts)
	}
}

// tufFetcher reads TUF's metadata and targets once each, within the run's
// context and the client's timeout (go-tuf's own waits without a bound).
type tufFetcher struct {
	ctx    context.Context
	client *http.Client
}

func (f tufFetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: res.StatusCode, URL: url}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxLength+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is larger than %d bytes", url, maxLength)}
	}
	return data, nil
}

// policyFiles reads a file the signature policy names, relative to the
// configuration file: from the file system beside the operator's file;
// from the checkout (no link out of it) beside the checkout's; from the
// base revision beside the file as it holds it.
func (f *pinFlags) policyFiles(ctx context.Context, co *checkout.Checkout, at config.PolicyAt, cfgName string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		switch at {
		case config.AtOperator:
			p := name
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(f.configFile), name)
			}
			file, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			data, err := io.ReadAll(io.LimitReader(file, maxPolicyFile+1))
			if err == nil && len(data) > maxPolicyFile {
				err = fmt.Errorf("larger than %d MiB", maxPolicyFile>>20)
			}
			return data, err
		case config.AtBase:
			if path.IsAbs(name) {
				return nil, fmt.Errorf("a file of the revision is named by a relative path")
			}
			return co.FileAt(ctx, f.baseConfig, path.Join(path.Dir(cfgName), name))
		default:
			if path.IsAbs(name) {
				return nil, fmt.Errorf("a file of the checkout is named by a relative path")
			}
			data, _, err := co.ReadFile(path.Join(path.Dir(cfgName), name))
			return data, err
		}
	}
}
