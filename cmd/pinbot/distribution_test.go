package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestDistribution runs testdata/distribution against a real registry:
// Debian's docker-registry (Distribution) on a loopback port, with TLS from a
// CA the test makes and htpasswd auth. Each script gets $DIST (host:port),
// SSL_CERT_FILE trusting the CA, DOCKER_CONFIG holding the password, and:
//
//	dist-push [-index] REF...  store REF under $DIST/m/<registry>/<repository>
//	dist-move REF...           point REF's tag at a new image
//
// (both set $D_<ref> to the digest pushed: $D_nginx_1_25 for nginx:1.25)
//
//	dist-login PASSWORD        rewrite the docker config with another password
//
// .ci/run installs docker-registry and sets PINBOT_REQUIRE_DISTRIBUTION=1, so
// CI fails rather than skips when it is missing.
func TestDistribution(t *testing.T) {
	if _, err := os.Stat(registrytest.DistributionBinary); err != nil {
		if os.Getenv("PINBOT_REQUIRE_DISTRIBUTION") != "" {
			t.Fatalf("%s: %v (apt-get install docker-registry)", registrytest.DistributionBinary, err)
		}
		t.Skipf("%s not installed (apt-get install docker-registry); .ci/run installs it", registrytest.DistributionBinary)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/distribution",
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			dir, err := os.MkdirTemp("", "pinbot-distribution")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(dir) })
			d, err := registrytest.StartDistribution(registrytest.DistributionBinary, dir)
			if err != nil {
				return err
			}
			env.Defer(d.Close)
			env.Values["dist"] = d
			env.Values["generations"] = map[string]int{}
			dockerDir := filepath.Join(dir, "docker")
			if err := d.WriteDockerConfig(dockerDir, d.Password); err != nil {
				return err
			}
			env.Setenv("DIST", d.Host)
			env.Setenv("SSL_CERT_FILE", d.CAFile)
			env.Setenv("DOCKER_CONFIG", dockerDir)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("GITHUB_TOKEN", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"dist-push": func(ts *testscript.TestScript, neg bool, args []string) {
				d := ts.Value("dist").(*registrytest.Distribution)
				platforms, refs := pushArgs(args)
				for _, ref := range refs {
					digest, err := d.PushPlatforms(ref, 0, platforms...)
					ts.Check(err)
					ts.Setenv(digestVar(ref), digest)
				}
			},
			"dist-delete": func(ts *testscript.TestScript, neg bool, args []string) {
				d := ts.Value("dist").(*registrytest.Distribution)
				for _, ref := range args {
					ts.Check(d.Delete(ref))
				}
			},
			"dist-move": func(ts *testscript.TestScript, neg bool, args []string) {
				d := ts.Value("dist").(*registrytest.Distribution)
				gens := ts.Value("generations").(map[string]int)
				for _, ref := range args {
					gens[ref]++
					digest, err := d.Push(ref, gens[ref], false)
					ts.Check(err)
					ts.Setenv(digestVar(ref), digest)
				}
			},
			"dist-login": func(ts *testscript.TestScript, neg bool, args []string) {
				d := ts.Value("dist").(*registrytest.Distribution)
				if len(args) != 1 {
					ts.Fatalf("usage: dist-login PASSWORD")
				}
				ts.Check(d.WriteDockerConfig(ts.Getenv("DOCKER_CONFIG"), args[0]))
			},
			"status": scriptStatus,
		},
	})
}
