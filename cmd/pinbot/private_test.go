package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pinbot/pinbot/internal/registrytest"
)

// dockerConfig writes a docker config lending user:password to host, and
// points DOCKER_CONFIG at it.
func dockerConfig(t *testing.T, host, user, password string) {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := `{"auths": {"` + host + `": {"auth": "` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", dir)
	t.Setenv("GITHUB_TOKEN", "")
}

const privatePod = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: private
    image: acme/private:1
    imagePullPolicy: Always
  - name: public
    image: quay.io/acme/public:1
    imagePullPolicy: Always
`

// TestAlwaysOnAPrivateImageStays: a container that pulls Always an image
// its registry refuses without credentials keeps Always (the pull may be
// the cluster's credential check), and says so; on a public image, Always
// becomes IfNotPresent as ever. Wrong credentials and none read apart.
func TestAlwaysOnAPrivateImageStays(t *testing.T) {
	private := registrytest.StartWith(registrytest.Options{Auth: registrytest.Basic, User: "ci", Password: "s3cret"})
	defer private.Close()
	public := registrytest.Start()
	defer public.Close()
	dPrivate, err := private.Push("acme/private:1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := public.Push("quay.io/acme/public:1", 0); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--insecure-registry", private.Host, "--insecure-registry", public.Host,
		"--mirror", "docker.io=" + private.Host + "/" + registrytest.Prefix + "/docker.io",
		"--mirror", "quay.io=" + public.Host + "/" + registrytest.Prefix + "/quay.io"}
	pin := func(t *testing.T) (string, string, string, int) {
		dir := t.TempDir()
		pod := filepath.Join(dir, "pod.yaml")
		if err := os.WriteFile(pod, []byte(privatePod), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{"pin"}, flags...), pod), &stdout, &stderr)
		data, _ := os.ReadFile(pod)
		return string(data), stdout.String(), stderr.String(), code
	}

	t.Run("credentials", func(t *testing.T) {
		dockerConfig(t, private.Host, "ci", "s3cret")
		data, out, errs, code := pin(t)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		if !strings.Contains(data, "image: acme/private:1@"+dPrivate+"\n    imagePullPolicy: Always\n") {
			t.Errorf("the private image's Always did not stay:\n%s", data)
		}
		if !regexp.MustCompile(`image: quay.io/acme/public:1@sha256:[0-9a-f]{64}\n    imagePullPolicy: IfNotPresent\n`).MatchString(data) {
			t.Errorf("the public image's Always did not become IfNotPresent:\n%s", data)
		}
		if !strings.Contains(out, "kept Always (a private image: the pull checks credentials)") {
			t.Errorf("the report does not say why Always stayed:\n%s", out)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		dockerConfig(t, private.Host, "ci", "wrong")
		data, out, errs, code := pin(t)
		if code != exitFailure || !strings.Contains(errs, "credentials for "+private.Host+" were found") || !strings.Contains(errs, "and refused") {
			t.Errorf("exit %d\n%s%s", code, out, errs)
		}
		if strings.Contains(errs, "GITHUB_TOKEN") || strings.Contains(errs, "wrong") {
			t.Errorf("a hint that does not apply, or the password:\n%s", errs)
		}
		if strings.Contains(data, "acme/private:1@") {
			t.Errorf("pinned without its registry's answer:\n%s", data)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		dockerConfig(t, "other.example.com", "ci", "s3cret")
		_, out, errs, code := pin(t)
		if code != exitFailure || !strings.Contains(errs, "no credentials for "+private.Host+": log in (docker login "+private.Host+")") {
			t.Errorf("exit %d\n%s%s", code, out, errs)
		}
	})
}
