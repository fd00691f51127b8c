package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pinbot/pinbot/internal/report"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The GitHub Action (action.yml at the repository's root) is a thin shell
// around pinbot: these tests hold the two together.

type actionFile struct {
	Inputs  map[string]struct{ Default string } `yaml:"inputs"`
	Outputs map[string]struct{ Value string }   `yaml:"outputs"`
	Runs    struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID  string            `yaml:"id"`
			Run string            `yaml:"run"`
			Env map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func loadAction(t *testing.T) (*actionFile, string) {
	t.Helper()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a, string(data)
}

func TestActionInputsAndOutputs(t *testing.T) {
	a, raw := loadAction(t)
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q", a.Runs.Using)
	}
	for _, m := range regexp.MustCompile(`inputs\.([a-z-]+)`).FindAllStringSubmatch(raw, -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("action.yml uses inputs.%s, which it does not declare", m[1])
		}
	}
	// every output is one pinbot writes to $GITHUB_OUTPUT
	var b bytes.Buffer
	rep := &report.Report{PullRequest: &report.PullRequest{Action: "opened", Number: 1, URL: "u"}}
	if err := report.WriteOutputs(&b, rep); err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		k, _, _ := strings.Cut(line, "=")
		written[k] = true
	}
	written["matrix"] = strings.Contains(raw, `echo "matrix=$matrix" >> "$GITHUB_OUTPUT"`) // the step writes it for repos
	for name, o := range a.Outputs {
		m := regexp.MustCompile(`^\$\{\{ steps\.pinbot\.outputs\.([a-z-]+) \}\}$`).FindStringSubmatch(o.Value)
		if m == nil || !written[m[1]] {
			t.Errorf("output %s = %q: pinbot writes no such step output (it writes %v)", name, o.Value, written)
		}
	}
	// every output the Action's page names is one a workflow can read
	page, err := os.ReadFile("../../docs/action.md")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^Outputs: (.*)$`).FindStringSubmatch(string(page)); m == nil {
		t.Error("docs/action.md has no Outputs line")
	} else {
		for _, o := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(m[1], -1) {
			if _, ok := a.Outputs[o[1]]; !ok {
				t.Errorf("docs/action.md names the output %s, which action.yml does not declare", o[1])
			}
		}
	}
	if a.Inputs["command"].Default != "pr" || a.Inputs["token"].Default != "${{ github.token }}" {
		t.Errorf("defaults: command %q, token %q", a.Inputs["command"].Default, a.Inputs["token"].Default)
	}
}

// TestActionRunsPinbot runs the action's script with a stand-in for the
// binary that records its arguments, then checks pinbot accepts them.
func TestActionRunsPinbot(t *testing.T) {
	a, _ := loadAction(t)
	var script string
	var env map[string]string
	for _, s := range a.Runs.Steps {
		if s.ID == "pinbot" {
			script, env = s.Run, s.Env
		}
	}
	if script == "" {
		t.Fatal("no step with id pinbot")
	}
	tmp := t.TempDir()
	argsFile := filepath.Join(tmp, "args")
	stub := "#!/bin/bash\nprintf '%s\\n' \"$@\" > " + argsFile + "\nif [ \"$1\" = repos ]; then echo '{\"include\":[]}'; fi\n"
	if err := os.MkdirAll(filepath.Join(tmp, "pinbot-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "pinbot-bin", "pinbot"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	outputs := filepath.Join(tmp, "outputs")
	inputs := func(over map[string]string) []string {
		vals := map[string]string{"command": "pr", "paths": ".", "pull-policy": "IfNotPresent", "config": "",
			"branch": "pinbot/digests", "labels": "", "offline": "false", "base": "", "token": "t", "args": "", "app-id": "", "app-private-key": ""}
		for k, v := range over {
			vals[k] = v
		}
		out := []string{"RUNNER_TEMP=" + tmp, "PATH=" + os.Getenv("PATH"), "GITHUB_OUTPUT=" + outputs}
		for k, v := range env {
			in := regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`).FindStringSubmatch(v)
			if in == nil {
				t.Fatalf("env %s = %q: want an input", k, v)
			}
			out = append(out, k+"="+vals[in[1]])
		}
		return out
	}
	for _, tc := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"labels": "dependencies, docker images\npinbot", "args": "--reviewer alice --draft", "paths": "deploy\ncharts"},
			"pr --branch pinbot/digests --output github --pull-policy IfNotPresent --label dependencies --label docker images --label pinbot --reviewer alice --draft -- deploy charts"},
		{map[string]string{"command": "check", "offline": "true", "config": "ci/pinbot.yaml"},
			"pin --check --output github --pull-policy IfNotPresent --config ci/pinbot.yaml --offline -- ."},
		{map[string]string{"command": "check", "base": "0123abc"},
			"pin --check --output github --pull-policy IfNotPresent --base-config 0123abc -- ."},
		{map[string]string{"command": "check", "base": "0123abc", "signatures": "enforce"},
			"pin --check --output github --pull-policy IfNotPresent --signatures enforce --base-config 0123abc -- ."},
		{map[string]string{"command": "pr", "base": "0123abc"},
			"pr --branch pinbot/digests --output github --pull-policy IfNotPresent -- ."},
		{map[string]string{"command": "pin", "pull-policy": "keep", "paths": "*.yaml"},
			"pin --output github --pull-policy keep -- *.yaml"},
		{map[string]string{"command": "repos", "args": "--owner acme --match acme/svc-*"},
			"repos --owner acme --match acme/svc-*"},
	} {
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = tmp // a workspace that is no git repository: nothing to fetch from
		cmd.Env = inputs(tc.inputs)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", tc.inputs, err, out)
		}
		data, _ := os.ReadFile(argsFile)
		args := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if got := strings.Join(args, " "); got != tc.want {
			t.Errorf("%v:\ngot  %s\nwant %s", tc.inputs, got, tc.want)
		}
		// pinbot itself accepts them
		root := newRootCmd()
		sub, rest, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.ParseFlags(rest); err != nil {
			t.Errorf("pinbot rejects the action's arguments %q: %v", args, err)
		}
	}
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = inputs(map[string]string{"command": "bogus"})
	if data, _ := os.ReadFile(outputs); !strings.Contains(string(data), `matrix={"include":[]}`) {
		t.Errorf("repos wrote no matrix output: %q", data)
	}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "::error title=pinbot::command must be pr, pin, check, repos or install") {
		t.Errorf("a bad command: %v %s", err, out)
	}
}

// TestActionScriptsPassShellcheck lints the action's shell. .ci/run installs
// shellcheck and sets PINBOT_REQUIRE_SHELLCHECK.
func TestActionScriptsPassShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("PINBOT_REQUIRE_SHELLCHECK") != "" {
			t.Fatal("shellcheck not installed")
		}
		t.Skip("shellcheck not installed; .ci/run installs it")
	}
	if out, err := exec.Command(sc, "../../action/install.sh").CombinedOutput(); err != nil {
		t.Errorf("action/install.sh: shellcheck: %v\n%s", err, out)
	}
	a, _ := loadAction(t)
	for i, s := range a.Runs.Steps {
		if s.Run == "" {
			continue
		}
		f := filepath.Join(t.TempDir(), "step.sh")
		if err := os.WriteFile(f, []byte("#!/bin/bash\n"+s.Run), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sc, f).CombinedOutput(); err != nil {
			t.Errorf("step %d: shellcheck: %v\n%s", i, err, out)
		}
	}
}
