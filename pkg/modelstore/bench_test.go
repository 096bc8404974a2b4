package modelstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
)

// BenchmarkPushPullVsMinIO pushes and pulls a 1 GiB archive through the
// model center against a real MinIO server on loopback, and puts and gets
// the same file with minio-go's own FPutObject and FGetObject on the same
// server in the same run, taking turns. It reports each as a ratio of
// minio-go's time to the model center's: the model center also hashes
// every byte (sha256 on push, checked on pull) and writes the version's
// record, and the target is at least 0.8x.
func BenchmarkPushPullVsMinIO(b *testing.B) {
	const rounds = 2
	size := int64(1 << 30)
	if s := os.Getenv("PADDLEX_BENCH_ARCHIVE_MIB"); s != "" {
		var mib int64
		if _, err := fmt.Sscan(s, &mib); err != nil || mib <= 0 {
			b.Fatalf("PADDLEX_BENCH_ARCHIVE_MIB=%q: want a positive number of MiB", s)
		}
		size = mib << 20
	}
	srv := testenv.MinIO(b)
	ctx := context.Background()
	st, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.RootUser, SecretKey: srv.RootPassword})
	if err != nil {
		b.Fatal(err)
	}
	mc, err := minio.New(srv.Endpoint[len("http://"):], &minio.Options{Creds: credentials.NewStaticV4(srv.RootUser, srv.RootPassword, "")})
	if err != nil {
		b.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "plain", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "model.tar.gz")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	// Each operation starts with the page cache's dirty pages written
	// out (sync), so none pays for the one before it, and the two sides
	// take turns going first.
	timed := func(total *time.Duration, op func() error) {
		b.StopTimer()
		syscall.Sync()
		b.StartTimer()
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		*total += time.Since(start)
	}
	var push, put, pull, get time.Duration
	b.ResetTimer()
	for i := 0; i < b.N*rounds; i++ {
		ref := modelhub.Ref{Model: "bench", Version: fmt.Sprintf("v%d", i)}
		key := fmt.Sprintf("plain-%d.tar.gz", i)
		out := filepath.Join(dir, "out")
		ops := []func(){
			func() {
				timed(&put, func() error {
					_, err := mc.FPutObject(ctx, "plain", key, file, minio.PutObjectOptions{ContentType: "application/gzip"})
					return err
				})
			},
			func() {
				timed(&push, func() error { _, err := st.Push(ctx, ref, file, modelstore.PushOptions{}); return err })
			},
		}
		gets := []func(){
			func() {
				timed(&get, func() error {
					return mc.FGetObject(ctx, "plain", key, filepath.Join(out, "plain.tar.gz"), minio.GetObjectOptions{})
				})
			},
			func() {
				timed(&pull, func() error { _, _, err := st.Pull(ctx, ref, out); return err })
			},
		}
		if i%2 == 1 {
			ops[0], ops[1] = ops[1], ops[0]
			gets[0], gets[1] = gets[1], gets[0]
		}
		for _, op := range append(ops, gets...) {
			op()
		}
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	mib := float64(size) / (1 << 20) * float64(b.N*rounds)
	b.ReportMetric(put.Seconds()/push.Seconds(), "push/minio-put-speed")
	b.ReportMetric(get.Seconds()/pull.Seconds(), "pull/minio-get-speed")
	b.Logf("%d MiB archive, %d run(s): push %.0f MiB/s, minio-go put %.0f MiB/s (%.2fx); pull %.0f MiB/s, minio-go get %.0f MiB/s (%.2fx); target >= 0.8x",
		size>>20, b.N*rounds, mib/push.Seconds(), mib/put.Seconds(), put.Seconds()/push.Seconds(),
		mib/pull.Seconds(), mib/get.Seconds(), get.Seconds()/pull.Seconds())
}
