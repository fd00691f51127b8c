package rewrite

import (
	"bytes"
	"path/filepath"
	"reflect"
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
	f.Fuzz(func(t *testing.T, data []byte, format int) {
		if format < int(FormatManifest) || format > int(FormatKustomization) {
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

// FuzzRewriteDockerfile: whatever the bytes, pinning a Dockerfile only adds
// digests to lines, and a second run changes nothing.
func FuzzRewriteDockerfile(f *testing.F) {
	ar, err := txtar.ParseFile("testdata/golden/dockerfile.txtar")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ar.Files[0].Data)
	f.Add([]byte("FROM a AS b\nCOPY --from=b / /\nFROM b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Scan("Dockerfile", FormatDockerfile, data)
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
		file2, err := Scan("Dockerfile", FormatDockerfile, out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		again, _, err := file2.Rewrite(fakeResolve, PolicyIfNotPresent)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second run changed the file (err %v):\nin:   %q\nout:  %q\nout2: %q", err, data, out, again)
		}
	})
}
