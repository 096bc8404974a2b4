// Package dataset renders the Dataset API: a SampleSet cache and the sync
// and warmup SampleJobs that fill it. Rendering is pure.
package dataset

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	if err := validate.AtMost("--partitions", s.Partitions, validate.MaxReplicas); err != nil {
		return err
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

func labels(s *Spec) map[string]string {
	return map[string]string{
		kube.LabelManagedBy: kube.ManagedByValue,
		paddle.LabelDataset: s.Name,
	}
}

// RenderSampleSet renders the cache. It carries no dataset label: several
// data sets share it.
func RenderSampleSet(s Spec) *unstructured.Unstructured {
	return kube.ToUnstructured(&paddle.SampleSet{
		TypeMeta: kube.TypeMeta(paddle.SampleSetGVK),
		ObjectMeta: metav1.ObjectMeta{Name: s.SampleSet, Namespace: s.Namespace,
			Labels: map[string]string{kube.LabelManagedBy: kube.ManagedByValue}},
		Spec: paddle.SampleSetSpec{
			Partitions: s.Partitions,
			NoSync:     true,
			SecretRef:  &paddle.SecretRef{Name: s.CacheSecret},
		},
	})
}

func sampleJob(s *Spec, name string, spec paddle.SampleJobSpec) *unstructured.Unstructured {
	spec.SampleSetRef = &paddle.LocalRef{Name: s.SampleSet}
	return kube.ToUnstructured(&paddle.SampleJob{
		TypeMeta:   kube.TypeMeta(paddle.SampleJobGVK),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: labels(s)},
		Spec:       spec,
	})
}

// RenderSyncJob renders the SampleJob that copies the source into the cache.
func RenderSyncJob(s Spec) *unstructured.Unstructured {
	spec := paddle.SampleJobSpec{
		Type:        paddle.SampleJobSync,
		SyncOptions: &paddle.SyncOptions{Source: s.SourceURI, Destination: s.Name},
	}
	if s.SourceSecret != "" {
		spec.SecretRef = &paddle.SecretRef{Name: s.SourceSecret}
	}
	return sampleJob(&s, s.SyncJobName(), spec)
}

// RenderWarmupJob renders the SampleJob that loads the data set into the cache nodes.
func RenderWarmupJob(s Spec) *unstructured.Unstructured {
	return sampleJob(&s, s.WarmupJobName(), paddle.SampleJobSpec{
		Type:          paddle.SampleJobWarmup,
		WarmupOptions: &paddle.WarmupOptions{Paths: []string{s.Name}, Partitions: s.Partitions},
	})
}

// RenderRmrJob renders the SampleJob that removes the data set from the cache.
func RenderRmrJob(s Spec) *unstructured.Unstructured {
	return sampleJob(&s, s.RmrJobName(), paddle.SampleJobSpec{
		Type:       paddle.SampleJobRmr,
		RmrOptions: &paddle.PathOptions{Paths: []string{s.Name}},
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
	return kube.Phases{Success: paddle.SampleSetSuccess, Failure: paddle.SampleSetFailure, Detail: CacheProgress,
		Message: func(obj *unstructured.Unstructured) string {
			set, err := SampleSetOf(obj)
			if err != nil {
				return ""
			}
			return set.Status.CacheStatus.ErrorMessage
		}}.Condition()
}

// SampleJobCondition waits for a SampleJob to succeed.
func SampleJobCondition() kube.Condition {
	return kube.Phases{Success: paddle.SampleJobSuccess, Failure: paddle.SampleJobFailure, Message: SampleJobFailure}.Condition()
}

// SampleJobFailure says where a failed SampleJob's reason is: paddle-operator
// records it as a Warning event of the SampleJob (ErrorDoSyncJob, ...), which
// the wait reports as it comes. Its status.jobName names the job it posted to
// the SampleSet's runtime server, not a Kubernetes Job.
func SampleJobFailure(obj *unstructured.Unstructured) string {
	return fmt.Sprintf("its Warning events say why: kubectl describe samplejobs.batch.paddlepaddle.org %s -n %s", obj.GetName(), obj.GetNamespace())
}

// SampleSetOf reads a SampleSet through its type.
func SampleSetOf(obj *unstructured.Unstructured) (*paddle.SampleSet, error) {
	set := &paddle.SampleSet{}
	return set, kube.FromUnstructured(obj, set)
}

// SampleJobOf reads a SampleJob through its type.
func SampleJobOf(obj *unstructured.Unstructured) (*paddle.SampleJob, error) {
	job := &paddle.SampleJob{}
	return job, kube.FromUnstructured(obj, job)
}

// Read reads a SampleSet for summaries (get, describe, wait lines), which
// show what they can of one whose status does not fit the type rather than
// fail on it.
func Read(obj *unstructured.Unstructured) *paddle.SampleSet {
	set, _ := SampleSetOf(obj)
	return set
}

// CacheProgress summarises a SampleSet's cacheStatus, e.g. "cached 1.2GiB of 3.0GiB (40%)".
func CacheProgress(obj *unstructured.Unstructured) string {
	cs := Read(obj).Status.CacheStatus
	if cs.TotalSize == "" && cs.CachedSize == "" {
		return ""
	}
	s := fmt.Sprintf("cached %s of %s", orDash(cs.CachedSize), orDash(cs.TotalSize))
	if pct := CachedPercent(cs); pct != "" {
		s += " (" + pct + ")"
	}
	if cs.ErrorMessage != "" {
		s += ": " + cs.ErrorMessage
	}
	return s
}

// CachedPercent returns the cached share of the data set, from the byte
// sizes paddle-operator reports, or "" when they are not known.
func CachedPercent(cs paddle.CacheStatus) string {
	t, ok1 := parseSize(cs.TotalSize)
	c, ok2 := parseSize(cs.CachedSize)
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
