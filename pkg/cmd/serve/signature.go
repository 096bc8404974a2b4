package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// request builds the body sent to revision rev of the service obj: the
// user's whole request as it is, or their feeds typed and shaped by the
// model's signature.
func (o *PredictOptions) request(ctx context.Context, obj *unstructured.Unstructured, rev string) error {
	if o.input != nil && serve.IsRequest(o.raw) {
		o.Body = o.raw
		return nil
	}
	sig, err := o.signature(ctx, obj, rev)
	if err != nil {
		return err
	}
	var req *serve.Request
	if o.image != nil {
		req, err = sig.ImageRequest(o.image, o.Fetch)
	} else {
		req, err = sig.Request(o.inputName, o.input, o.Fetch)
	}
	if err != nil {
		return exit.UsageErrorf("%v", err)
	}
	o.Body, err = json.Marshal(req)
	return err
}

// readClientConfig reads --client-config: the file, or the file of
// ServingConfigFiles in the directory.
func (o *PredictOptions) readClientConfig() (*serve.Signature, error) {
	p := o.ClientConfig
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		for _, name := range modelstore.ServingConfigFiles {
			if _, err := os.Stat(filepath.Join(p, name)); err == nil {
				p = filepath.Join(p, name)
				break
			}
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, exit.UsageErrorf("--client-config: %v", err)
	}
	sig, err := serve.ParseSignature(string(b))
	if err != nil {
		return nil, exit.UsageErrorf("--client-config %s: %v", p, err)
	}
	return sig, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// signature returns the feeds and fetch variables of the model version
// revision rev serves: from --client-config, or from the version's
// archive in the model center, read with the service's Secret and kept in
// the cache by the archive's sha256.
func (o *PredictOptions) signature(ctx context.Context, obj *unstructured.Unstructured, rev string) (*serve.Signature, error) {
	if o.ClientConfig != "" {
		return o.readClientConfig()
	}
	specs, err := serve.RevisionSpecs(obj)
	if err != nil {
		return nil, err
	}
	spec, ok := specs[rev]
	if !ok {
		return nil, exit.FailedErrorf("service %s records no model for revision %s, so its feeds are unknown: give the model's serving_client_conf.prototxt with --client-config, or the whole request (\"tensor\" and \"fetch_var_names\") with -f", o.Name, rev)
	}
	ref := modelhub.Ref{Model: spec.ModelName, Version: spec.ModelVersion}
	o.S3.Endpoint, o.S3.Secret, o.S3.Namespace = spec.Endpoint, spec.Secret, o.Namespace
	var store *modelstore.Store
	closeStore, err := o.S3.Open(ctx, &store)
	if err != nil {
		return nil, fmt.Errorf("read the feeds of model %s from the model center (or give --client-config): %w", ref, err)
	}
	defer closeStore()
	m, err := store.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("read the feeds of model %s: %w", ref, err)
	}
	cache := ""
	if dir := o.cacheDir(); dir != "" && sha256Hex.MatchString(m.SHA256) {
		cache = filepath.Join(dir, m.SHA256+".prototxt")
		if b, err := os.ReadFile(cache); err == nil {
			if sig, err := serve.ParseSignature(string(b)); err == nil {
				return sig, nil
			}
		}
	}
	b, _, err := store.ServingConfig(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("read the feeds of model %s: %w", ref, err)
	}
	sig, err := serve.ParseSignature(string(b))
	if err != nil {
		return nil, exit.FailedErrorf("model %s: its serving configuration: %v", ref, err)
	}
	if cache != "" && os.MkdirAll(filepath.Dir(cache), 0o755) == nil {
		if tmp, err := os.CreateTemp(filepath.Dir(cache), ".*.partial"); err == nil {
			_, werr := tmp.Write(b)
			if cerr := tmp.Close(); werr == nil && cerr == nil {
				_ = os.Rename(tmp.Name(), cache)
			}
			_ = os.Remove(tmp.Name())
		}
	}
	return sig, nil
}

func (o *PredictOptions) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "paddlex", "serving-config")
}
