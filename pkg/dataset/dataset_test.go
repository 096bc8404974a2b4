package dataset

import (
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/internal/golden"
)

func spec() Spec {
	s := Spec{Name: "icdar2015", Namespace: "kubeflow", SourceURI: "bos://paddleflow-public.hkg.bcebos.com/icdar2015/", SourceSecret: "icdar2015"}
	s.Defaults()
	return s
}

func TestRenderGolden(t *testing.T) {
	golden.AssertObjects(t, "testdata/icdar2015.golden.yaml", Render(spec()))
	s := spec()
	s.Partitions, s.SampleSet, s.SourceSecret = 3, "imagenet-cache", ""
	golden.AssertObjects(t, "testdata/partitions-no-secret.golden.yaml", Render(s))
	golden.AssertObjects(t, "testdata/rmr.golden.yaml", []*unstructured.Unstructured{RenderRmrJob(s)})
}

func TestRenderIsDeterministic(t *testing.T) {
	a := golden.YAML(t, Render(spec()))
	b := golden.YAML(t, Render(spec()))
	if string(a) != string(b) {
		t.Fatal("two renders of one spec differ")
	}
}

func TestDefaults(t *testing.T) {
	var s Spec
	s.Defaults()
	if s.Partitions != 1 || s.SampleSet != "data-center" || s.CacheSecret != "data-center" || s.Action != "apply" {
		t.Errorf("defaults = %+v", s)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Spec)
		wantErr string
	}{
		{"ok", func(*Spec) {}, ""},
		{"bad name", func(s *Spec) { s.Name = "ICDAR_2015" }, `name "ICDAR_2015" is not a valid name`},
		{"partitions", func(s *Spec) { s.Partitions = 0 }, "--partitions must be at least 1"},
		{"no scheme", func(s *Spec) { s.SourceURI = "paddleflow/icdar2015/" }, "--source-uri \"paddleflow/icdar2015/\" has no scheme"},
		{"no uri", func(s *Spec) { s.SourceURI = "" }, "--source-uri is required"},
		{"action", func(s *Spec) { s.Action = "upsert" }, `unknown action "upsert"`},
		{"secret", func(s *Spec) { s.SourceSecret = "Bad Secret" }, "--source-secret"},
		{"namespace", func(s *Spec) { s.Namespace = "" }, "--namespace is required"},
		{"delete needs no uri", func(s *Spec) { s.Action, s.SourceURI = "delete", "" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := spec()
			c.mutate(&s)
			err := s.Validate()
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
			}
			if code := exit.Code(err); code != exit.Usage {
				t.Errorf("exit code %d, want 2", code)
			}
		})
	}
}

func TestCacheProgress(t *testing.T) {
	ss := RenderSampleSet(spec())
	ss.Object["status"] = map[string]any{"phase": "PartialReady", "cacheStatus": map[string]any{"totalSize": "2 GiB", "cachedSize": "512 MiB"}}
	if got := CacheProgress(ss); got != "cached 512 MiB of 2 GiB (25%)" {
		t.Errorf("CacheProgress = %q", got)
	}
	// The operator spells the field errorMassage.
	ss.Object["status"].(map[string]any)["cacheStatus"].(map[string]any)["errorMassage"] = "disk full"
	if got := CacheProgress(ss); got != "cached 512 MiB of 2 GiB (25%): disk full" {
		t.Errorf("CacheProgress with an error = %q", got)
	}
	// PartialReady is progress, not failure.
	done, _, err := SampleSetCondition().Check(ss)
	if done || err != nil {
		t.Errorf("PartialReady: done=%v err=%v, want in progress", done, err)
	}
	ss.Object["status"].(map[string]any)["phase"] = "SyncFailed"
	if _, _, err := SampleSetCondition().Check(ss); err == nil || !strings.HasSuffix(err.Error(), "failed: phase SyncFailed: disk full") {
		t.Errorf("SyncFailed: err %v, want the failure with errorMassage's words", err)
	}
	// A failed SampleJob's reason is in its events; its jobName is the
	// runtime server's job, not a Kubernetes Job.
	sj := RenderSyncJob(spec())
	sj.Object["status"] = map[string]any{"phase": "Failed", "jobName": "0f8e4a3c-5b1d-4c2e-9a7f-6d3b2e1c0a98"}
	_, _, err = SampleJobCondition().Check(sj)
	if err == nil || !strings.Contains(err.Error(), "its Warning events say why: kubectl describe samplejobs.batch.paddlepaddle.org icdar2015-sync -n "+sj.GetNamespace()) ||
		strings.Contains(err.Error(), "0f8e4a3c") {
		t.Errorf("failed SampleJob: err %v, want its events pointed at", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]float64{"1024": 1024, "1 KiB": 1024, "1.5GiB": 1.5 * (1 << 30), "2 GB": 2e9, "3M": 3 << 20} {
		if got, ok := parseSize(in); !ok || got != want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := parseSize("lots"); ok {
		t.Error("parseSize accepted junk")
	}
}
