package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// DistributionBinary is where Debian's docker-registry package installs
// Distribution.
const DistributionBinary = "/usr/bin/docker-registry"

// Distribution is a real registry (Distribution, from Debian's
// docker-registry) on a loopback port, serving TLS with a certificate from a
// CA made for it, and requiring a password (htpasswd).
type Distribution struct {
	Host     string // 127.0.0.1:port
	CAFile   string // PEM of the CA that signed the server's certificate
	User     string
	Password string

	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	pool   *x509.CertPool
	logs   *os.File
}

// StartDistribution starts binary with its state under dir.
func StartDistribution(binary, dir string) (*Distribution, error) {
	d := &Distribution{User: "pinbot", Password: "correct-horse-battery-staple", dir: dir}
	certFile, keyFile, err := d.makeCerts()
	if err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(d.Password), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(d.User+":"+string(hash)+"\n"), 0o600); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		d.Host = fmt.Sprintf("127.0.0.1:%d", port)
		cfg := filepath.Join(dir, "config.yml")
		conf := fmt.Sprintf(`version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: %s}
  delete: {enabled: true}
http:
  addr: %s
  tls: {certificate: %s, key: %s}
auth:
  htpasswd: {realm: pinbot-test, path: %s}
`, filepath.Join(dir, "data"), d.Host, certFile, keyFile, htpasswd)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		if d.logs, err = os.Create(filepath.Join(dir, "registry.log")); err != nil {
			return nil, err
		}
		d.cmd = exec.Command(binary, "serve", cfg)
		d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
		if err := d.cmd.Start(); err != nil {
			return nil, err
		}
		if err := d.wait(); err == nil {
			return d, nil
		}
		d.Close()
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	return nil, fmt.Errorf("docker-registry did not come up: %s", logs)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// wait polls /v2/ until the registry asks for credentials.
func (d *Distribution) wait() error {
	c := &http.Client{Transport: d.Transport(), Timeout: time.Second}
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.exited) }()
	for i := 0; i < 100; i++ {
		select {
		case <-d.exited:
			return errors.New("docker-registry exited")
		default:
		}
		resp, err := c.Get("https://" + d.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("timed out")
}

// Close stops the registry.
func (d *Distribution) Close() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Kill()
		if d.exited != nil {
			<-d.exited
		}
	}
	if d.logs != nil {
		d.logs.Close()
	}
}

// Transport trusts the registry's CA.
func (d *Distribution) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: d.pool, MinVersion: tls.VersionTLS12}
	return tr
}

// Push stores generation of ref (as written) at HOST/m/<registry>/<repo>:<tag>,
// as an index of two platforms when index is set, and returns its digest.
func (d *Distribution) Push(ref string, generation int, index bool) (string, error) {
	target, err := mirrorTarget(d.Host, ref)
	if err != nil {
		return "", err
	}
	return write(target, ref, generation, index,
		remote.WithTransport(d.Transport()), remote.WithAuth(&authn.Basic{Username: d.User, Password: d.Password}))
}

// PushPlatforms stores generation of ref as an index of exactly the given
// platforms (none: a single linux/amd64 image) and returns its digest.
func (d *Distribution) PushPlatforms(ref string, generation int, platforms ...string) (string, error) {
	target, err := mirrorTarget(d.Host, ref)
	if err != nil {
		return "", err
	}
	return writePlatforms(target, ref, generation, platforms,
		remote.WithTransport(d.Transport()), remote.WithAuth(&authn.Basic{Username: d.User, Password: d.Password}))
}

// Delete removes the manifest of ref's digest ("nginx:1.25@sha256:..."), as
// an upstream rebuild that deletes the old image does.
func (d *Distribution) Delete(ref string) error {
	tagRef, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return fmt.Errorf("%s: name the digest to delete", ref)
	}
	target, err := mirrorTarget(d.Host, tagRef)
	if err != nil {
		return err
	}
	return remote.Delete(target.Context().Digest(digest),
		remote.WithTransport(d.Transport()), remote.WithAuth(&authn.Basic{Username: d.User, Password: d.Password}))
}

// WriteDockerConfig writes a docker config.json in dir that logs in to the
// registry with password.
func (d *Distribution) WriteDockerConfig(dir, password string) error {
	auth := base64.StdEncoding.EncodeToString([]byte(d.User + ":" + password))
	data, err := json.Marshal(map[string]any{"auths": map[string]any{d.Host: map[string]string{"auth": auth}}})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600)
}

// makeCerts makes a CA and a server certificate for 127.0.0.1 and localhost.
func (d *Distribution) makeCerts() (certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pinbot test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return "", "", err
	}
	d.CAFile = filepath.Join(d.dir, "ca.pem")
	certFile, keyFile = filepath.Join(d.dir, "server.pem"), filepath.Join(d.dir, "server-key.pem")
	for file, block := range map[string]*pem.Block{
		d.CAFile: {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: srvDER},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			return "", "", err
		}
	}
	d.pool = x509.NewCertPool()
	d.pool.AddCert(ca)
	return certFile, keyFile, nil
}
