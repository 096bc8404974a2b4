package modelstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
)

// An archive of several parts, pushed to a real MinIO server in one pass
// (hashed as it is uploaded, the parts in parallel), records the sha256 of
// the file and pulls back verified, byte for byte.
func TestPushHashesWhileUploadingToMinIO(t *testing.T) {
	srv := testenv.MinIO(t)
	ctx := context.Background()
	st, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.RootUser, SecretKey: srv.RootPassword})
	if err != nil {
		t.Fatal(err)
	}
	file, data := archive(t, 40<<20+12345) // three parts of 16 MiB
	sum := sha256.Sum256(data)
	ref := modelhub.Ref{Model: "ppocr-det", Version: "v1"}
	m, err := st.Push(ctx, ref, file, modelstore.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(data)) {
		t.Fatalf("recorded sha256 %s size %d; the file's is %x, %d", m.SHA256, m.Size, sum, len(data))
	}
	dir := t.TempDir()
	path, _, err := st.Pull(ctx, ref, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != dir || sha256.Sum256(got) != sum {
		t.Error("the pulled archive differs from the pushed one")
	}
}
