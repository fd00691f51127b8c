package pin

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

const (
	benchFiles = 2000
	benchRefs  = 300
)

// benchTree writes benchFiles Deployments naming benchRefs unique
// references (three containers each, so every reference appears ~20 times)
// and returns the root and the references.
func benchTree(b *testing.B) (string, []string) {
	b.Helper()
	root := b.TempDir()
	refs := make([]string, benchRefs)
	for i := range refs {
		switch i % 3 {
		case 0:
			refs[i] = fmt.Sprintf("team%d/service-%d:v1.%d", i%7, i, i%5)
		case 1:
			refs[i] = fmt.Sprintf("ghcr.io/acme/app-%d:2.%d", i, i%9)
		default:
			refs[i] = fmt.Sprintf("quay.io/org/tool-%d:latest", i)
		}
	}
	for f := 0; f < benchFiles; f++ {
		var sb strings.Builder
		fmt.Fprintf(&sb, "# service %d\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-%d\n  labels: {app: svc-%d}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n", f, f, f)
		for c := 0; c < 3; c++ {
			ref := refs[(f*3+c)%benchRefs]
			fmt.Fprintf(&sb, "      - name: c%d\n        image: %s\n        ports:\n        - containerPort: %d\n        resources: {limits: {cpu: 100m}}\n", c, ref, 8000+c)
		}
		dir := filepath.Join(root, fmt.Sprintf("svc%02d", f%40))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("deploy-%d.yaml", f)), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root, refs
}

func reportRates(b *testing.B, sites int) {
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(benchFiles/secs, "files/s")
	b.ReportMetric(benchRefs/secs, "refs/s")
	b.ReportMetric(float64(sites)/secs, "sites/s")
}

// BenchmarkPin is the whole pipeline: walk, parse, resolve each unique
// reference once against an in-process registry over loopback, plan and
// splice (nothing is written).
func BenchmarkPin(b *testing.B) {
	root, refs := benchTree(b)
	reg := registrytest.Start()
	defer reg.Close()
	for _, r := range refs {
		if _, err := reg.Push(r, 0); err != nil {
			b.Fatal(err)
		}
	}
	co, err := checkout.Open(root, false)
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	var mirrors []resolve.Mirror
	for _, h := range []string{"docker.io", "ghcr.io", "quay.io"} {
		mirrors = append(mirrors, resolve.Mirror{From: h, To: reg.Host + "/" + registrytest.Prefix + "/" + h})
	}
	defer LimitMemory()() // as cmd/pinbot runs
	b.ReportAllocs()
	b.ResetTimer()
	sites := 0
	for i := 0; i < b.N; i++ {
		r, err := resolve.New(resolve.Options{Mirrors: mirrors, Insecure: []string{reg.Host}, Jobs: 16, Keychain: authn.NewMultiKeychain()})
		if err != nil {
			b.Fatal(err)
		}
		out, err := Run(context.Background(), co, r, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if c := out.Report.Counts(); c["pinned"] != benchFiles*3 || len(out.Changes) != benchFiles {
			b.Fatalf("counts %v, %d changes", c, len(out.Changes))
		}
		sites = len(out.Report.Entries)
	}
	reportRates(b, sites)
}

// memResolver answers from memory, each tag as it is asked, as the
// registry resolver streams its answers.
type memResolver map[string]resolve.Result

func (memResolver) Exists(context.Context, []name.Digest) map[string]error { return nil }
func (memResolver) Inspect(context.Context, []resolve.Subject, resolve.InspectOptions) map[string]resolve.Inspection {
	return nil
}
func (memResolver) Stats() resolve.Stats                                { return resolve.Stats{} }
func (memResolver) Private(context.Context, []name.Tag) map[string]bool { return nil }
func (memResolver) Facts(context.Context, []name.Digest) map[string]resolve.Facts {
	return nil
}

func (m memResolver) Resolve(ctx context.Context, tags []name.Tag) map[string]resolve.Result {
	out := map[string]resolve.Result{}
	for _, t := range tags {
		out[t.Name()] = m[t.Name()]
	}
	return out
}

// BenchmarkScanRewrite is the pipeline without the network: a resolver
// that answers from memory. MB/s is of YAML read, scanned and spliced.
func BenchmarkScanRewrite(b *testing.B) {
	root, refs := benchTree(b)
	size := int64(0)
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	b.SetBytes(size)
	table := map[string]resolve.Result{}
	for i, r := range refs {
		t, err := name.NewTag(r)
		if err != nil {
			b.Fatal(err)
		}
		table[t.Name()] = resolve.Result{Digest: fmt.Sprintf("sha256:%064x", i+1)}
	}
	co, err := checkout.Open(root, false)
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	defer LimitMemory()() // as cmd/pinbot runs
	b.ReportAllocs()
	b.ResetTimer()
	sites := 0
	for i := 0; i < b.N; i++ {
		out, err := Run(context.Background(), co, memResolver(table), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Changes) != benchFiles {
			b.Fatalf("%d changes", len(out.Changes))
		}
		sites = len(out.Report.Entries)
	}
	reportRates(b, sites)
}

// digestResolver answers every tag with a digest made from its name.
type digestResolver struct{ noChecks }

func (digestResolver) answer(t name.Tag) resolve.Result {
	return resolve.Result{Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(t.Name())))}
}

func (d digestResolver) Resolve(_ context.Context, tags []name.Tag) map[string]resolve.Result {
	out := map[string]resolve.Result{}
	for _, t := range tags {
		out[t.Name()] = d.answer(t)
	}
	return out
}

// BenchmarkScanRewriteTree is BenchmarkScanRewrite on a tree of one's
// own, named by PINBOT_BENCH_TREE (nothing is written to it), every tag
// answered at once:
//
//	PINBOT_BENCH_TREE=../shared/corpus go test ./internal/pin -run '^$' -bench ScanRewriteTree
func BenchmarkScanRewriteTree(b *testing.B) {
	root := os.Getenv("PINBOT_BENCH_TREE")
	if root == "" {
		b.Skip("PINBOT_BENCH_TREE names no tree")
	}
	co, err := checkout.Open(root, false)
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	listing, err := co.Walk([]string{"."}, nil, "Chart.yaml")
	if err != nil {
		b.Fatal(err)
	}
	files := listing.Files
	read := func(p string) ([]byte, error) { data, _, err := co.ReadFile(p); return data, err }
	cx := rewrite.NewContext(withCharts(co, listing), read)
	size := int64(0)
	for _, f := range files {
		if cx.Detect(f) != rewrite.FormatNone {
			data, _ := read(f)
			size += int64(len(data))
		}
	}
	b.SetBytes(size)
	out, err := Run(context.Background(), co, digestResolver{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d files scanned (%d bytes), %d changed, %d sites", out.Report.Files, size, len(out.Changes), len(out.Report.Entries))
	defer LimitMemory()() // as cmd/pinbot runs
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(context.Background(), co, digestResolver{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.Report.Files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// peakRSS is the process's peak resident set size in MB (VmHWM), or 0 where
// /proc does not tell it.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkManyDocuments is one file at the size limit holding 450,000
// small documents, each naming an image: memory follows the largest
// document, not the file. Run it alone for a true peak-RSS-MB:
//
//	go test ./internal/pin -run '^$' -bench ManyDocuments -benchtime 1x
func BenchmarkManyDocuments(b *testing.B) {
	const docs, uniq = 450_000, 50
	var sb strings.Builder
	for i := 0; i < docs; i++ {
		fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: Pod\nspec: {containers: [{image: r%d:1}]}\n", i%uniq)
	}
	if sb.Len() > checkout.DefaultMaxFileSize {
		b.Fatalf("%d bytes is over the limit", sb.Len())
	}
	root := b.TempDir()
	if err := os.WriteFile(filepath.Join(root, "pods.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	size := sb.Len()
	sb = strings.Builder{}
	table := map[string]resolve.Result{}
	for i := 0; i < uniq; i++ {
		t, _ := name.NewTag(fmt.Sprintf("r%d:1", i))
		table[t.Name()] = resolve.Result{Digest: fmt.Sprintf("sha256:%064x", i+1)}
	}
	co, err := checkout.Open(root, false)
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	defer LimitMemory()() // as cmd/pinbot runs
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := Run(context.Background(), co, &fakeResolver{table: table}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if c := out.Report.Counts(); c["pinned"] != docs || len(out.Changes) != 1 {
			b.Fatalf("counts %v, %d changes, warnings %v", c, len(out.Changes), out.Report.Warnings)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
}

// BenchmarkCharts is the whole pipeline over the test charts (eleven, with
// their ci/ values), every tag answered at once: what judging charts by
// rendering them costs, reported per chart (each rendered twice untouched,
// once with markers and once with the edits, per values file).
func BenchmarkCharts(b *testing.B) {
	root := b.TempDir()
	copyTree(b, "testdata/charts", root)
	co, err := checkout.Open(root, false)
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	entries, _ := os.ReadDir(root)
	charts := len(entries)
	defer LimitMemory()()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := Run(context.Background(), co, anyResolver{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Changes) == 0 {
			b.Fatal("nothing pinned")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(charts), "ms/chart")
}
