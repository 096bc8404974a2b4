package localcluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"

	certutil "k8s.io/client-go/util/cert"
)

// NodeIP is the real node's address, on a link inside Isolate's network
// namespace: the kubelet needs a non-loopback InternalIP for logs, exec and
// port-forward through the API server, and the address exists nowhere else.
const NodeIP = "10.250.0.1"

// KubernetesServiceIP is the kubernetes Service's address, the first of
// ServiceCIDR: pods reach the API server there.
const KubernetesServiceIP = "10.96.0.1"

// writeAPIServerCerts writes into dir the files envtest would generate for
// the API server, the serving certificate and key (apiserver.crt,
// apiserver.key) and the service-account signing key (sa-signer.key, its
// public half sa-signer.crt), and returns the serving CA. Unlike envtest's,
// the serving certificate names the API server as pods reach it, by the
// kubernetes Service's address and names, so in-cluster clients verify it.
func writeAPIServerCerts(dir string, nodeIP string) ([]byte, error) {
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(nodeIP), net.ParseIP(KubernetesServiceIP)}
	names := []string{"localhost", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	chain, key, err := certutil.GenerateSelfSignedCertKey("kubernetes", ips, names)
	if err != nil {
		return nil, err
	}
	// The chain is the serving certificate, then its CA.
	serving, rest := pem.Decode(chain)
	if serving == nil {
		return nil, errors.New("generate the API server's certificate: no PEM")
	}
	if ca, _ := pem.Decode(rest); ca == nil {
		return nil, errors.New("generate the API server's certificate: no CA")
	}
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"apiserver.crt": chain,
		"apiserver.key": key,
		"sa-signer.key": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(sa)}),
		"sa-signer.crt": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return rest, nil
}
