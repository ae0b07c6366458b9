package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"
)

// writePEM writes one PEM block to dir/name and returns the path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return path
}

// testPKI makes a CA and a server certificate for 127.0.0.1 signed by it,
// and returns the CA file and the server's tls.Config.
func testPKI(t *testing.T) (string, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flask test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	pair, err := tls.X509KeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	require.NoError(t, err)
	return writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER), &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// TestNATSOverTLSWithNKey runs a NATS server that requires TLS and an NKey
// user, and connects through OpenBroker with the FLASK_NATS_* settings:
// with the CA and the seed it works; without the CA, or with another seed,
// start-up fails.
func TestNATSOverTLSWithNKey(t *testing.T) {
	caFile, tlsCfg := testPKI(t)
	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := user.PublicKey()
	require.NoError(t, err)
	seed, err := user.Seed()
	require.NoError(t, err)
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "user.nk")
	require.NoError(t, os.WriteFile(seedFile, seed, 0o600))

	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoLog: true, NoSigs: true,
		TLS: true, TLSConfig: tlsCfg, TLSTimeout: 2, Nkeys: []*server.NkeyUser{{Nkey: pub}},
	})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := "tls://" + ns.Addr().String()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	common := func(nc NATSConfig) Common {
		nc.URL, nc.Stream, nc.SubjectPrefix, nc.AckWait, nc.Replicas, nc.MaxAckPending = url, "FLASK_JOBS", "flask.jobs", 5*time.Second, 1, 100
		return Common{Broker: "nats", NATS: nc}
	}
	b, err := OpenBroker(t.Context(), common(NATSConfig{TLSCAFile: caFile, NKeyFile: seedFile}), "tls-test", log)
	require.NoError(t, err, "TLS verified against the CA, NKey accepted")
	require.NoError(t, b.Ping(t.Context()))
	require.NoError(t, b.Close())

	_, err = OpenBroker(t.Context(), common(NATSConfig{NKeyFile: seedFile}), "tls-test", log)
	require.Error(t, err, "a server certificate from an unknown CA is refused")

	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	otherSeed, err := other.Seed()
	require.NoError(t, err)
	otherFile := filepath.Join(dir, "other.nk")
	require.NoError(t, os.WriteFile(otherFile, otherSeed, 0o600))
	_, err = OpenBroker(t.Context(), common(NATSConfig{TLSCAFile: caFile, NKeyFile: otherFile}), "tls-test", log)
	require.Error(t, err, "an NKey the server does not know is refused")
}
