package modelstore_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
)

// tarGz writes a .tar.gz holding files in the order given (name, content
// pairs).
func tarGz(t *testing.T, files ...string) string {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for i := 0; i+1 < len(files); i += 2 {
		_ = tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(files[i+1]))
	}
	_ = tw.Close()
	_ = gz.Close()
	p := filepath.Join(t.TempDir(), "m.tar.gz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ServingConfig reads the client's configuration from the archive, or the
// server's when the archive holds no client, through a tag too.
func TestServingConfig(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	s := newStore(t, srv, srv.SecretKey, nil)
	for _, c := range []struct{ ref, archive string }{
		{"m:both", tarGz(t, "m/server/inference.pdiparams", strings.Repeat("w", 1<<16), "m/server/serving_server_conf.prototxt", "server",
			"m/client/serving_client_conf.prototxt", "client", "m/client/serving_client_conf.stream.prototxt", "stream")},
		{"m:server", tarGz(t, "m/server/serving_server_conf.prototxt", "server", "m/server/inference.pdmodel", "model")},
		{"m:none", tarGz(t, "m/inference.pdmodel", "model")},
	} {
		if _, err := s.Push(ctx, ref(c.ref), c.archive, modelstore.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Tag(ctx, ref("m:both"), "prod", false); err != nil {
		t.Fatal(err)
	}
	for ref_, want := range map[string]string{"m:both": "client", "m:prod": "client", "m:server": "server"} {
		b, m, err := s.ServingConfig(ctx, ref(ref_))
		if err != nil || string(b) != want || m == nil {
			t.Errorf("%s: %q %v, want %q", ref_, b, err, want)
		}
	}
	if _, _, err := s.ServingConfig(ctx, ref("m:none")); err == nil || exit.Code(err) != exit.Failed ||
		!strings.Contains(err.Error(), "model m:none: its archive holds no serving_client_conf.prototxt or serving_server_conf.prototxt") {
		t.Errorf("no configuration: %v", err)
	}
	if _, _, err := s.ServingConfig(ctx, ref("m:gone")); err == nil || !strings.Contains(err.Error(), "m:gone") {
		t.Errorf("no version: %v", err)
	}
}
