package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestActionInstall runs action/install.sh against a stand-in for GitHub's
// release downloads and API: the release binary of the Action's ref is
// installed when its checksum matches, a mismatch fails, and a ref with no
// release asks for a build from source (exit 3).
func TestActionInstall(t *testing.T) {
	binary := []byte("#!/bin/sh\necho pinbot v1.4.2\n")
	sum := sha256.Sum256(binary)
	good := hex.EncodeToString(sum[:])
	var checksum atomic.Value // the checksums.txt served
	checksum.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/repos/pinbot/pinbot/releases":
			w.Write([]byte(`[{"tag_name": "v1.4.2"}, {"tag_name": "v1.10.0-rc1"}, {"tag_name": "v1.3.9"}, {"tag_name": "v2.0.0"}, {"tag_name":"v1.4.10"}]`))
		case "/pinbot/pinbot/releases/download/v1.4.10/pinbot_v1.4.10_linux_arm64",
			"/pinbot/pinbot/releases/download/v1.4.2/pinbot_v1.4.2_linux_amd64",
			"/pinbot/pinbot/releases/download/v1.4.2/pinbot_v1.4.2_windows_amd64.exe":
			w.Write(binary)
		case "/pinbot/pinbot/releases/download/v1.4.2/checksums.txt", "/pinbot/pinbot/releases/download/v1.4.10/checksums.txt":
			w.Write([]byte(checksum.Load().(string)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	run := func(ref, osName, arch string) (int, string, string) {
		dir := t.TempDir()
		cmd := exec.Command("bash", "../../action/install.sh")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PINBOT_ACTION_REF=" + ref, "PINBOT_ACTION_REPOSITORY=pinbot/pinbot",
			"PINBOT_SERVER_URL=" + srv.URL, "PINBOT_API_URL=" + srv.URL + "/api", "PINBOT_BIN_DIR=" + dir,
			"RUNNER_OS=" + osName, "RUNNER_ARCH=" + arch}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out), dir
	}

	checksum.Store(good + "  pinbot_v1.4.2_linux_amd64\n" + good + "  pinbot_v1.4.2_windows_amd64.exe\n" + good + "  pinbot_v1.4.10_linux_arm64\n")
	for _, tc := range []struct{ ref, os, arch, file string }{
		{"v1.4.2", "Linux", "X64", "pinbot"},
		{"v1.4.2", "Windows", "X64", "pinbot.exe"},
		{"v1", "Linux", "ARM64", "pinbot"}, // the newest v1.Y.Z: v1.4.10, not v1.4.2 nor v2
	} {
		code, out, dir := run(tc.ref, tc.os, tc.arch)
		if code != 0 {
			t.Fatalf("%s %s/%s: exit %d\n%s", tc.ref, tc.os, tc.arch, code, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil || string(data) != string(binary) {
			t.Errorf("%s %s/%s: installed %q, %v", tc.ref, tc.os, tc.arch, data, err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, tc.file)); fi == nil || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("%s: not executable", tc.ref)
		}
	}

	// No release: a branch, a commit, a fork's tag without assets, a runner
	// pinbot ships no binary for. Exit 3: build from source.
	for _, tc := range []struct{ ref, os, arch string }{
		{"main", "Linux", "X64"}, {"3f2c1ab", "Linux", "X64"}, {"v9.9.9", "Linux", "X64"}, {"v7", "Linux", "X64"},
		{"v1.4.2", "Linux", "ARM"}, {"v1.4.2", "FreeBSD", "X64"},
	} {
		if code, out, dir := run(tc.ref, tc.os, tc.arch); code != 3 {
			t.Errorf("%s %s/%s: exit %d, want 3 (build from source)\n%s", tc.ref, tc.os, tc.arch, code, out)
		} else if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: installed something: %v", tc.ref, entries)
		}
	}

	// A checksum that does not match fails, and installs nothing; so does a
	// checksums.txt that does not list the binary.
	for _, cs := range []string{strings.Repeat("0", 64) + "  pinbot_v1.4.2_linux_amd64\n", good + "  pinbot_v1.4.2_darwin_amd64\n"} {
		checksum.Store(cs)
		code, out, dir := run("v1.4.2", "Linux", "X64")
		if code != 1 || !strings.Contains(out, "::error title=pinbot::") {
			t.Errorf("checksums %q: exit %d, want 1 with an error\n%s", cs, code, out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("checksums %q: installed %v", cs, entries)
		}
	}
}
