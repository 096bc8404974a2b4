// Package dataset renders the Dataset API: a SampleSet cache and the sync
// and warmup SampleJobs that fill it. Rendering is pure.
package dataset

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Spec is the Dataset API; its keys are the original API's field names.
type Spec struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Action    string `json:"action,omitempty"`
	// Partitions is the number of cache nodes (default 1).
	Partitions int32 `json:"partitions,omitempty"`
	// SourceURI is where the samples are stored, e.g. bos://paddleflow/imagenet/.
	SourceURI string `json:"source_uri"`
	// SourceSecret names the Secret with the storage backend's access keys.
	SourceSecret string `json:"source_secret,omitempty"`
	// SampleSet is the cache the data set goes into (default data-center).
	SampleSet string `json:"sampleset,omitempty"`
	// CacheSecret is the JuiceFS Secret the SampleSet mounts with (default data-center).
	CacheSecret string `json:"cache_secret,omitempty"`
}

// Defaults fills unset fields.
func (s *Spec) Defaults() {
	if s.Partitions == 0 {
		s.Partitions = 1
	}
	if s.SampleSet == "" {
		s.SampleSet = paddle.DefaultSampleSet
	}
	if s.CacheSecret == "" {
		s.CacheSecret = paddle.DataCenterSecret
	}
	if s.Action == "" {
		s.Action = paddle.ActionApply
	}
}

// Validate checks the spec; field names are the flag names users type.
func (s *Spec) Validate() error {
	if err := validate.Name("name", s.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", s.Namespace); err != nil {
		return err
	}
	if err := validate.Action("--action", s.Action); err != nil {
		return err
	}
	if err := validate.Name("--sampleset", s.SampleSet); err != nil {
		return err
	}
	if err := validate.Subdomain("--cache-secret", s.CacheSecret); err != nil {
		return err
	}
	if s.Action == paddle.ActionDelete {
		return nil
	}
	if s.Partitions < 1 {
		return exit.UsageErrorf("--partitions must be at least 1, not %d", s.Partitions)
	}
	if s.SourceURI == "" {
		return exit.UsageErrorf("--source-uri is required, e.g. bos://paddleflow/imagenet/ or s3://bucket/prefix/")
	}
	u, err := url.Parse(s.SourceURI)
	if err != nil || u.Scheme == "" || !strings.Contains(s.SourceURI, "://") {
		return exit.UsageErrorf("--source-uri %q has no scheme: write it as SCHEME://bucket/path/, e.g. bos://paddleflow/imagenet/", s.SourceURI)
	}
	if s.SourceSecret != "" {
		if err := validate.Subdomain("--source-secret", s.SourceSecret); err != nil {
			return err
		}
	}
	return nil
}

// Object names the spec renders.
func (s *Spec) SyncJobName() string   { return s.Name + "-sync" }
func (s *Spec) WarmupJobName() string { return s.Name + "-warmup" }
func (s *Spec) RmrJobName() string    { return s.Name + "-rmr" }

// MountPath is where training pods find this data set.
func (s *Spec) MountPath() string { return fmt.Sprintf("%s/%s/", paddle.DataMountPath, s.Name) }

func labels(s *Spec) map[string]any {
	return map[string]any{
		kube.LabelManagedBy: kube.ManagedByValue,
		paddle.LabelDataset: s.Name,
	}
}

func object(gvkAPIVersion, kind, name, ns string, lbls map[string]any, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvkAPIVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": ns, "labels": lbls},
		"spec":       spec,
	}}
}

// RenderSampleSet renders the cache. It carries no dataset label: several
// data sets share it.
func RenderSampleSet(s Spec) *unstructured.Unstructured {
	return object(paddle.SampleSetGVK.GroupVersion().String(), paddle.SampleSetGVK.Kind, s.SampleSet, s.Namespace,
		map[string]any{kube.LabelManagedBy: kube.ManagedByValue},
		map[string]any{
			"partitions": int64(s.Partitions),
			"noSync":     true,
			"secretRef":  map[string]any{"name": s.CacheSecret},
		})
}

// RenderSyncJob renders the SampleJob that copies the source into the cache.
func RenderSyncJob(s Spec) *unstructured.Unstructured {
	spec := map[string]any{
		"type":         "sync",
		"sampleSetRef": map[string]any{"name": s.SampleSet},
		"syncOptions":  map[string]any{"source": s.SourceURI, "destination": s.Name},
	}
	if s.SourceSecret != "" {
		spec["secretRef"] = map[string]any{"name": s.SourceSecret}
	}
	return object(paddle.SampleJobGVK.GroupVersion().String(), paddle.SampleJobGVK.Kind, s.SyncJobName(), s.Namespace, labels(&s), spec)
}

// RenderWarmupJob renders the SampleJob that loads the data set into the cache nodes.
func RenderWarmupJob(s Spec) *unstructured.Unstructured {
	return object(paddle.SampleJobGVK.GroupVersion().String(), paddle.SampleJobGVK.Kind, s.WarmupJobName(), s.Namespace, labels(&s),
		map[string]any{
			"type":          "warmup",
			"sampleSetRef":  map[string]any{"name": s.SampleSet},
			"warmupOptions": map[string]any{"paths": []any{s.Name}, "partitions": int64(s.Partitions)},
		})
}

// RenderRmrJob renders the SampleJob that removes the data set from the cache.
func RenderRmrJob(s Spec) *unstructured.Unstructured {
	return object(paddle.SampleJobGVK.GroupVersion().String(), paddle.SampleJobGVK.Kind, s.RmrJobName(), s.Namespace, labels(&s),
		map[string]any{
			"type":         "rmr",
			"sampleSetRef": map[string]any{"name": s.SampleSet},
			"rmrOptions":   map[string]any{"paths": []any{s.Name}},
		})
}

// Render returns every object a create or apply makes, in apply order:
// the SampleSet, the sync SampleJob, the warmup SampleJob.
func Render(s Spec) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{RenderSampleSet(s), RenderSyncJob(s), RenderWarmupJob(s)}
}

// SampleSetCondition waits for a SampleSet to be Ready; PartialReady and the
// steps before it are progress, SyncFailed is failure.
func SampleSetCondition() kube.Condition {
	return kube.PhaseIn(paddle.SampleSetSuccess, paddle.SampleSetFailure, CacheProgress)
}

// SampleJobCondition waits for a SampleJob to succeed.
func SampleJobCondition() kube.Condition {
	return kube.PhaseIn(paddle.SampleJobSuccess, paddle.SampleJobFailure, nil)
}

// CacheProgress summarises a SampleSet's cacheStatus, e.g. "cached 1.2GiB of 3.0GiB (40%)".
func CacheProgress(obj *unstructured.Unstructured) string {
	total, _, _ := unstructured.NestedString(obj.Object, "status", "cacheStatus", "totalSize")
	cached, _, _ := unstructured.NestedString(obj.Object, "status", "cacheStatus", "cachedSize")
	pct := CachedPercent(obj)
	if total == "" && cached == "" {
		return ""
	}
	s := fmt.Sprintf("cached %s of %s", orDash(cached), orDash(total))
	if pct != "" {
		s += " (" + pct + ")"
	}
	if msg, _, _ := unstructured.NestedString(obj.Object, "status", "cacheStatus", "errorMassage"); msg != "" {
		s += ": " + msg
	}
	return s
}

// CachedPercent returns the cached share of the data set, from the byte
// sizes paddle-operator reports, or "" when they are not known.
func CachedPercent(obj *unstructured.Unstructured) string {
	total, _, _ := unstructured.NestedString(obj.Object, "status", "cacheStatus", "totalSize")
	cached, _, _ := unstructured.NestedString(obj.Object, "status", "cacheStatus", "cachedSize")
	t, ok1 := parseSize(total)
	c, ok2 := parseSize(cached)
	if !ok1 || !ok2 || t == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", 100*c/t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
