// Command bench measures pinbot against a registry a network delay away:
//
//	go run ./internal/bench [-files 2000] [-refs 300] [-delay 50ms] [-registry auto|distribution|inprocess] [-runs 3] [-dir DIR]
//	go run ./internal/bench -large 450000 [...]   one 32 MiB manifest: pin --diff and pin
//
// Each step runs -runs times (pin on a fresh copy of the tree each time) and
// the median wall time is shown, with pinbot's kernel CPU time: writing a
// file is mostly the kernel's work. -dir puts the tree and the registry's
// storage on another filesystem.
//
// It starts a real registry (Debian's docker-registry, Distribution, when
// installed, with TLS and htpasswd auth; else go-containerregistry's
// in-process one) behind a proxy that holds every request for -delay and
// counts them by kind, pushes -refs images (each in its own repository),
// writes -files Deployments naming them, builds pinbot and runs it as a
// process: pin, then pin --check, then pin --offline --check (the scan with no
// network); and pin --signatures audit, which judges the signatures of
// every digest it writes. It prints wall times, requests by kind, pinbot's peak
// RSS, and the ratio of the wall time to the bound the network allows:
// ceil(refs / 16 per registry) x delay, plus one ping.
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pinbot/pinbot/internal/registrytest"
)

func main() {
	files := flag.Int("files", 2000, "Deployments to write")
	refs := flag.Int("refs", 300, "unique references, each in its own repository")
	delay := flag.Duration("delay", 50*time.Millisecond, "the time the proxy holds every request")
	which := flag.String("registry", "auto", "auto (Distribution when installed), distribution or inprocess")
	keep := flag.Bool("keep", false, "keep the work directory")
	runs := flag.Int("runs", 3, "runs of each step; the median wall time is shown")
	dir := flag.String("dir", "", "where the work directory (the tree, the registry's storage) goes (default: the system's temporary directory)")
	large := flag.Int("large", 0, "instead: one manifest of this many documents (450000 makes 32 MiB), for pin and pin --diff's peak memory")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	}
	if err := run(*files, *refs, *delay, *which, *dir, *runs, *keep, *large); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(nfiles, nrefs int, delay time.Duration, which, dir string, runs int, keep bool, large int) error {
	work, err := os.MkdirTemp(dir, "pinbot-bench")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	}

	// The registry, and the proxy a network delay away.
	const distBin = "/usr/bin/docker-registry"
	if which == "auto" {
		which = "inprocess"
		if _, err := os.Stat(distBin); err == nil {
			which = "distribution"
		}
	}
	var push func(ref string) error
	var proxy *registrytest.Proxy
	env := append(os.Environ(), "HOME="+work, "DOCKER_CONFIG="+filepath.Join(work, "docker"), "GITHUB_TOKEN=")
	switch which {
	case "distribution":
		if err := os.MkdirAll(filepath.Join(work, "registry"), 0o700); err != nil {
			return err
		}
		d, err := registrytest.StartDistribution(distBin, filepath.Join(work, "registry"))
		if err != nil {
			return err
		}
		defer d.Close()
		push = func(ref string) error { _, err := d.Push(ref, 0, false); return err }
		if proxy, err = registrytest.StartProxy("https://"+d.Host, d.Transport(), delay); err != nil {
			return err
		}
		if err := dockerConfig(filepath.Join(work, "docker"), proxy.Host, d.User, d.Password); err != nil {
			return err
		}
	case "inprocess":
		reg := registrytest.Start()
		defer reg.Close()
		push = func(ref string) error { _, err := reg.Push(ref, 0); return err }
		if proxy, err = registrytest.StartProxy("http://"+reg.Host, nil, delay); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-registry %q: want auto, distribution or inprocess", which)
	}
	defer proxy.Close()

	// The references and the tree.
	refs := make([]string, nrefs)
	for i := range refs {
		refs[i] = fmt.Sprintf("bench/service-%d:v1.%d", i, i%7)
		if large > 0 { // short: 450,000 documents fit in 32 MiB
			refs[i] = fmt.Sprintf("b/s%d:1", i)
		}
		if err := push(refs[i]); err != nil {
			return fmt.Errorf("pushing %s: %w", refs[i], err)
		}
	}
	tree := filepath.Join(work, "tree")
	write := func() (int, error) { return writeTree(tree, nfiles, refs) }
	if large > 0 {
		nfiles = 1
		write = func() (int, error) { return writeLarge(tree, large, refs) }
	}
	size, err := write()
	if err != nil {
		return err
	}

	bin := filepath.Join(work, "pinbot")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pinbot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building pinbot (run from the repository's root): %w", err)
	}
	flags := []string{"--mirror", "docker.io=" + proxy.Host + "/" + registrytest.Prefix + "/docker.io", "--insecure-registry", proxy.Host}

	fmt.Printf("pinbot against %s behind a proxy adding %v to every request\n", which, delay)
	fmt.Printf("tree: %d files, %.1f MB, %d unique references in %d repositories\n\n", nfiles, float64(size)/1e6, nrefs, nrefs)
	bound := time.Duration(math.Ceil(float64(nrefs)/16))*delay + delay
	type step struct {
		name string
		args []string
		want int
	}
	steps := []step{
		// the gate over a tree not pinned yet (the others run on the tree the
		// steps before pinned)
		{"pin --check (unpinned)", append([]string{"pin", "--check"}, flags...), 1},
		{"pin", append([]string{"pin"}, flags...), 0},
		// every digest written judged: the signature requests, counted
		{"pin --signatures audit", append([]string{"pin", "--signatures", "audit"}, flags...), 0},
		{"pin --check", append([]string{"pin", "--check"}, flags...), 0},
		{"pin --offline --check", []string{"pin", "--offline", "--check"}, -1},
	}
	if large > 0 {
		steps = []step{
			{"pin --diff", append([]string{"pin", "--diff"}, flags...), 0},
			{"pin", append([]string{"pin"}, flags...), 0},
		}
	}
	for _, step := range steps {
		var walls, syss []time.Duration
		var rss float64
		var requests string
		for r := 0; r < runs; r++ {
			if !slices.Contains(step.args, "--check") && !strings.HasSuffix(step.name, "--diff") { // each run pins the tree as written
				if err := os.RemoveAll(tree); err != nil {
					return err
				}
				if _, err := write(); err != nil {
					return err
				}
			}
			proxy.Reset()
			cmd := exec.Command(bin, step.args...)
			cmd.Dir, cmd.Env = tree, env
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if strings.HasSuffix(step.name, "--diff") {
				cmd.Stdout = &counter{} // the diff is counted, not kept
			}
			start := time.Now()
			err := cmd.Run()
			wall := time.Since(start)
			code := cmd.ProcessState.ExitCode()
			if step.want >= 0 && code != step.want {
				return fmt.Errorf("%s exited %d (%v):\n%s", step.name, code, err, tail(out.String()))
			}
			peak, kernel := usage(cmd.ProcessState)
			rss = max(rss, peak)
			walls = append(walls, wall)
			syss = append(syss, kernel)
			requests = proxy.Summary()
		}
		wall := median(walls)
		fmt.Printf("%-22s %7.2fs  peak RSS %4.0f MB  kernel CPU %4.2fs", step.name, wall.Seconds(), rss, median(syss).Seconds())
		if step.want >= 0 {
			fmt.Printf("  %.2fx the bound (%.2fs)\n%24srequests: %s\n", wall.Seconds()/bound.Seconds(), bound.Seconds(), "", requests)
		} else {
			// the tree as this step read it: pinned by the steps before
			read, err := treeSize(tree)
			if err != nil {
				return err
			}
			fmt.Printf("  %.0f MB/s of YAML (%.1f MB) scanned\n", float64(read)/1e6/wall.Seconds(), float64(read)/1e6)
		}
	}
	return nil
}

// treeSize is the bytes of the files under root.
func treeSize(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// writeTree writes files Deployments of three containers each, naming refs
// in turn, and returns the bytes written.
func writeTree(root string, files int, refs []string) (int, error) {
	total := 0
	for f := 0; f < files; f++ {
		var b strings.Builder
		fmt.Fprintf(&b, "# service %d\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-%d\n  labels: {app: svc-%d}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n", f, f, f)
		for c := 0; c < 3; c++ {
			fmt.Fprintf(&b, "      - name: c%d\n        image: %s\n        ports:\n        - containerPort: %d\n        resources: {limits: {cpu: 100m}}\n", c, refs[(f*3+c)%len(refs)], 8000+c)
		}
		dir := filepath.Join(root, fmt.Sprintf("svc%02d", f%40))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("deploy-%d.yaml", f)), []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
		total += b.Len()
	}
	return total, nil
}

// writeLarge writes one manifest of docs Pods, naming refs in turn, and
// returns the bytes written.
func writeLarge(root string, docs int, refs []string) (int, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return 0, err
	}
	var b strings.Builder
	for d := 0; d < docs; d++ {
		fmt.Fprintf(&b, "---\nkind: Pod\napiVersion: v1\nspec:\n containers:\n - image: %s\n", refs[d%len(refs)])
	}
	return b.Len(), os.WriteFile(filepath.Join(root, "all.yaml"), []byte(b.String()), 0o644)
}

// counter counts what is written to it, and keeps none of it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// dockerConfig logs in to host in a docker config.json under dir.
func dockerConfig(dir, host, user, password string) error {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	data, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600)
}

// median is the middle of ds (the upper one of two).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// tail is the end of a failed run's output.
func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}
