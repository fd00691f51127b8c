package rewrite

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// FuzzRewriteYAML: whatever the bytes, pinning never fails to splice, keeps
// valid YAML valid and meaning the same but for digests and added fields,
// and a second run changes nothing. The golden inputs seed it.
func FuzzRewriteYAML(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	for _, p := range files {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name != "want" && file.Name != "sites" && Detect(file.Name) != FormatDockerfile {
				f.Add(file.Data, int(Detect(file.Name)))
			}
		}
	}
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: a, name: b}]"), int(FormatManifest))
	// aliases every which way, and deep nesting: the walk stays linear
	for _, shape := range []string{"sequence", "merge", "list"} {
		f.Add([]byte(aliasBomb(shape, 6, 5)), int(FormatManifest))
	}
	f.Add([]byte("services:\n  a: &a {image: x, <<: *a}\n"), int(FormatCompose))
	f.Add([]byte("apiVersion: v1\nkind: X\nspec: "+strings.Repeat("[", 200)+"{image: a}"+strings.Repeat("]", 200)+"\n"), int(FormatManifest))
	f.Add([]byte("apiVersion: v1\nkind: X\nspec:\n"+strings.Repeat("  ", 1)+strings.Repeat("- ", 300)+"image: a:1\n"), int(FormatManifest))
	f.Add([]byte("jobs:\n  a:\n    container: &c {image: x:1}\n    services: {b: *c, c: *c}\n"), int(FormatWorkflow))
	f.Add([]byte("image: {registry: docker.io, repository: a/b, tag: '1', digest: \"\", pullPolicy: Always}\nx: {image: c:1}\n"), int(FormatHelmValues))
	f.Add([]byte("global: {imageRegistry: r.io}\ns:\n  image:\n    repository: a\n    tag: \"2\"\n"), int(FormatHelmValues))
	f.Add([]byte("image: ruby:3\ndefault: {services: [{name: x:1}]}\njob: {image: {name: y:2}}\n"), int(FormatGitLab))
	f.Add([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: a\n          tag: \"1\"\n      valuesObject: {image: {repository: b, tag: \"2\"}}\n    kustomize: {images: [x=y:1]}\n"), int(FormatManifest))
	f.Fuzz(func(t *testing.T, data []byte, format int) {
		if fd := finderOf(Format(format)); fd == nil || fd.lang != langYAML {
			format = int(FormatManifest)
		}
		file, err := Scan("fuzz.yaml", Format(format), data)
		if err != nil {
			return // not YAML: left alone
		}
		out, _, err := file.Rewrite(fakeResolve, PolicyIfNotPresent)
		if err != nil {
			t.Fatalf("splicing failed: %v\n%q", err, data)
		}
		before, errBefore := decodeAll(data)
		after, errAfter := decodeAll(out)
		if errBefore == nil && errAfter != nil {
			t.Fatalf("valid YAML became invalid: %v\nin:  %q\nout: %q", errAfter, data, out)
		}
		if errBefore == nil && !reflect.DeepEqual(before, after) {
			t.Fatalf("meaning changed:\nin:  %q\nout: %q\n%v\n%v", data, out, before, after)
		}
		file2, err := Scan("fuzz.yaml", Format(format), out)
		if err != nil {
			t.Fatalf("output does not scan: %v\n%q", err, out)
		}
		again, _, err := file2.Rewrite(fakeResolve, PolicyIfNotPresent)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second run changed the file (err %v):\nin:   %q\nout:  %q\nout2: %q", err, data, out, again)
		}
	})
}

func decodeAll(b []byte) ([]any, error) {
	var docs []any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var v any
		err := dec.Decode(&v)
		if err != nil {
			if err.Error() == "EOF" {
				return docs, nil
			}
			return nil, err
		}
		docs = append(docs, scrub(v))
	}
}

// FuzzRewriteLines: a chart template or a dev container configuration,
// whatever the bytes, only gains digests, and a second run changes nothing.
func FuzzRewriteLines(f *testing.F) {
	for _, name := range []string{"helm-template", "devcontainer"} {
		ar, err := txtar.ParseFile("testdata/golden/" + name + ".txtar")
		if err != nil {
			f.Fatal(err)
		}
		format := FormatHelmTemplate
		if name == "devcontainer" {
			format = FormatDevcontainer
		}
		for _, file := range ar.Files {
			if file.Name != "want" && file.Name != "sites" && !strings.HasSuffix(file.Name, "Chart.yaml") {
				f.Add(file.Data, int(format))
			}
		}
	}
	f.Add([]byte("{\"image\": \"a:1\", /* c */ \"x\": [1,],}"), int(FormatDevcontainer))
	f.Add([]byte("  - image: 'a:1' # c\n    image: \"b:2\"\n{{/*\nimage: c:3\n*/}}\n"), int(FormatHelmTemplate))
	// deep nesting, around the bound and over it
	f.Add([]byte(`{"image": "a:1", "x": `+strings.Repeat("[", maxJSONDepth-1)+strings.Repeat("]", maxJSONDepth-1)+`}`), int(FormatDevcontainer))
	f.Add([]byte(`{"image": "a:1", "x": `+strings.Repeat(`{"a":`, maxJSONDepth+1)), int(FormatDevcontainer))
	f.Add([]byte(`{"image": "a:1", "x": "[[[[", /* [[[[ */ "y": [1]}`), int(FormatDevcontainer))
	f.Fuzz(func(t *testing.T, data []byte, format int) {
		if Format(format) != FormatDevcontainer {
			format = int(FormatHelmTemplate)
		}
		onlyDigestsAdded(t, "fuzz", Format(format), data)
	})
}

// FuzzRewriteDockerfile: whatever the bytes, pinning a Dockerfile only adds
// digests to lines, and a second run changes nothing.
func FuzzRewriteDockerfile(f *testing.F) {
	ar, err := txtar.ParseFile("testdata/golden/dockerfile.txtar")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ar.Files[0].Data)
	for _, s := range []string{
		"FROM a AS b\nCOPY --from=b / /\nFROM b\n",
		"# syntax=docker/dockerfile:1.7\n# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n  c:\\\n",
		"ARG BASE=alpine:3.20\nARG TAG\nFROM $BASE AS build\nFROM ${BASE}\nFROM golang:${TAG}\n",
		"FROM --platform=$BUILDPLATFORM golang:1.22@sha256:" + strings.Repeat("a", 64) + " AS b\nFROM scratch\nCOPY --from=b /x /x\n",
		"FROM node:20\nRUN --mount=type=cache,target=/root/.npm \\\n    --mount=from=busybox:1.36,source=/bin,target=/b \\\n    npm ci\n",
		"FROM ubuntu:24.04\nRUN <<EOF\napt-get update\nEOF\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx\n",
		"FROM alpine \\\n  AS x\nONBUILD FROM y\n",
		"\ufeffFROM a:1\r\nFROM b:2\r\n",
		"from A:1 as B\ncopy --from=B / /\n",
		"FROM a\n# comment\nFROM b # not a comment\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		onlyDigestsAdded(t, "Dockerfile", FormatDockerfile, data)
	})
}

// onlyDigestsAdded: pinning data (if it scans at all) never fails to
// splice, changes nothing but digests, and a second run changes nothing.
func onlyDigestsAdded(t *testing.T, name string, format Format, data []byte) {
	t.Helper()
	file, err := Scan(name, format, data)
	if err != nil {
		return
	}
	out, _, err := file.Rewrite(fakeResolve, PolicyIfNotPresent)
	if err != nil {
		t.Fatalf("splicing failed: %v\n%q", err, data)
	}
	if !bytes.Equal(digestRE.ReplaceAll(out, nil), digestRE.ReplaceAll(data, nil)) {
		t.Fatalf("more than digests changed:\nin:  %q\nout: %q", data, out)
	}
	file2, err := Scan(name, format, out)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%q", err, out)
	}
	again, _, err := file2.Rewrite(fakeResolve, PolicyIfNotPresent)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("second run changed the file (err %v):\nin:   %q\nout:  %q\nout2: %q", err, data, out, again)
	}
}
