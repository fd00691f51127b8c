package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pinbot/pinbot/internal/registrytest"
)

const hostilePod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: nginx:1.25\n"

// TestEditDuringRunIsKept: a file edited while pinbot waits for the registry
// keeps the edit; pinbot names it and exits 3.
func TestEditDuringRunIsKept(t *testing.T) {
	reg := registrytest.Start()
	defer reg.Close()
	if _, err := reg.Push("nginx:1.25", 0); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pod := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(pod, []byte(hostilePod), 0o644); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(hostilePod, "name: a", "name: edited-by-a-human", 1)
	var once sync.Once
	reg.OnManifest(func(*http.Request) {
		once.Do(func() {
			if err := os.WriteFile(pod, []byte(edited), 0o644); err != nil {
				t.Error(err)
			}
		})
	})
	args := append([]string{"pin", pod}, reg.Flags()...)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, stdout.String(), stderr.String())
	}
	if data, _ := os.ReadFile(pod); string(data) != edited {
		t.Errorf("the human's edit was lost:\n%s", data)
	}
	if !strings.Contains(stderr.String(), "pod.yaml: not written: changed since pinbot read it") {
		t.Errorf("stderr does not name the file:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String(), "1 file changed") {
		t.Errorf("the report claims the file changed:\n%s", stdout.String())
	}
}

// TestSignalEndsRun: SIGINT and SIGTERM end a run that waits on a registry
// within a second, with the shell's codes (130, 143), changing nothing.
func TestSignalEndsRun(t *testing.T) {
	bin, err := exec.LookPath("pinbot") // the test binary, as testscript installs it
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			connected := make(chan struct{}, 16)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					connected <- struct{}{}
					defer c.Close() // never answers
				}
			}()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte(hostilePod), 0o644); err != nil {
				t.Fatal(err)
			}
			host := ln.Addr().String()
			cmd := exec.Command(bin, "pin", "--timeout", "1m", "--insecure-registry", host, "--mirror", "docker.io="+host+"/m", ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-connected:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("pinbot never asked the registry")
			}
			sent := time.Now()
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			took := time.Since(sent)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Errorf("exit %v, want %d\n%s", err, 128+int(sig), out.String())
			}
			if took > 2*time.Second {
				t.Errorf("took %v to stop", took)
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "pod.yaml")); string(data) != hostilePod {
				t.Errorf("an interrupted run changed the file:\n%s", data)
			}
		})
	}
}
