package kube_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// counted is a client set whose requests are counted.
type counted struct {
	dyn      dynamic.Interface
	cs       kubernetes.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	requests atomic.Int64
}

func newCounted(b *testing.B, e *testenv.Env) *counted {
	c := &counted{}
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limit: measure the engine, not the limiter
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) { c.requests.Add(1); return rt.RoundTrip(r) })
	})
	var err error
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		b.Fatal(err)
	}
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		b.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		b.Fatal(err)
	}
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return c
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func objects(ns, kind string, n int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, n)
	for i := range out {
		if kind == "ConfigMap" {
			out[i] = configMap(ns, fmt.Sprintf("cm-%04d", i), "v")
		} else {
			out[i] = paddleJob(ns, fmt.Sprintf("pj-%04d", i))
		}
	}
	return out
}

func gvr(c *counted, gvk schema.GroupVersionKind) schema.GroupVersionResource {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		panic(err)
	}
	return m.Resource
}

type approach struct {
	name string
	run  func(b *testing.B, e *testenv.Env, c *counted, objs []*unstructured.Unstructured) error
}

var approaches = []approach{
	{"paddlex engine", func(b *testing.B, e *testenv.Env, c *counted, objs []*unstructured.Unstructured) error {
		k := &kube.Client{Dynamic: c.dyn, Clientset: c.cs, Mapper: c.mapper}
		_, err := k.Apply(context.Background(), objs, kube.ApplyOptions{})
		return err
	}},
	{"parallel SSA loop (16 workers)", func(b *testing.B, e *testenv.Env, c *counted, objs []*unstructured.Unstructured) error {
		res := gvr(c, objs[0].GroupVersionKind())
		work := make(chan *unstructured.Unstructured)
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for o := range work {
					if _, err := c.dyn.Resource(res).Namespace(o.GetNamespace()).Apply(context.Background(), o.GetName(), o,
						metav1.ApplyOptions{FieldManager: "loop"}); err != nil {
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		for _, o := range objs {
			work <- o
		}
		close(work)
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			return err
		}
		return nil
	}},
	{"sequential create, patch on conflict", func(b *testing.B, e *testenv.Env, c *counted, objs []*unstructured.Unstructured) error {
		res := gvr(c, objs[0].GroupVersionKind())
		for _, o := range objs {
			ri := c.dyn.Resource(res).Namespace(o.GetNamespace())
			_, err := ri.Create(context.Background(), o, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				data, _ := o.MarshalJSON()
				_, err = ri.Patch(context.Background(), o.GetName(), types.MergePatchType, data, metav1.PatchOptions{})
			}
			if err != nil {
				return err
			}
		}
		return nil
	}},
	{"kubectl apply --server-side", func(b *testing.B, e *testenv.Env, c *counted, objs []*unstructured.Unstructured) error {
		path := filepath.Join(b.TempDir(), "objs.yaml")
		var sb strings.Builder
		for _, o := range objs {
			y, _ := yaml.Marshal(o.Object)
			sb.WriteString("---\n")
			sb.Write(y)
		}
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			return err
		}
		out, err := exec.Command("kubectl", "--kubeconfig", e.Kubeconfig, "apply", "--server-side", "-f", path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}},
}

// BenchmarkApply compares paddlex's engine with a raw parallel server-side
// apply loop (the practical limit), the original sequential create-or-patch,
// and kubectl, on the same real API server. Run it with `make bench`.
func BenchmarkApply(b *testing.B) {
	e := testenv.Get(b)
	_, kubectlErr := exec.LookPath("kubectl")
	for _, kind := range []string{"ConfigMap", "PaddleJob"} {
		for _, n := range []int{50, 200, 1000} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				times := map[string]time.Duration{}
				var report []string
				for _, a := range approaches {
					if strings.HasPrefix(a.name, "kubectl") && kubectlErr != nil {
						continue
					}
					var total time.Duration
					var reqs int64
					for i := 0; i < b.N; i++ {
						c := newCounted(b, e)
						ns := e.Namespace(b)
						objs := objects(ns, kind, n)
						gvr(c, objs[0].GroupVersionKind()) // discovery is not what is measured
						c.requests.Store(0)
						start := time.Now()
						if err := a.run(b, e, c, objs); err != nil {
							b.Fatalf("%s: %v", a.name, err)
						}
						total += time.Since(start)
						reqs += c.requests.Load()
					}
					avg := total / time.Duration(b.N)
					times[a.name] = avg
					reqText := fmt.Sprintf("%d requests", reqs/int64(b.N))
					if strings.HasPrefix(a.name, "kubectl") {
						reqText = "requests not counted"
					}
					report = append(report, fmt.Sprintf("  %-38s %9s  %s", a.name, avg.Round(time.Millisecond), reqText))
				}
				engine := times["paddlex engine"]
				ratio := func(name string) float64 { return float64(times[name]) / float64(engine) }
				b.ReportMetric(float64(engine.Milliseconds()), "engine-ms")
				b.ReportMetric(float64(engine)/float64(times["parallel SSA loop (16 workers)"]), "x-of-parallel-loop")
				b.ReportMetric(ratio("sequential create, patch on conflict"), "x-faster-than-sequential")
				if t, ok := times["kubectl apply --server-side"]; ok {
					b.ReportMetric(float64(t)/float64(engine), "x-faster-than-kubectl")
				}
				fmt.Printf("\n%s × %d\n%s\n", kind, n, strings.Join(report, "\n"))
				fmt.Printf("  engine / parallel loop: %.2f× (target ≤ 1.3×); sequential / engine: %.1f× (target ≥ 2×)",
					float64(engine)/float64(times["parallel SSA loop (16 workers)"]), ratio("sequential create, patch on conflict"))
				if t, ok := times["kubectl apply --server-side"]; ok {
					fmt.Printf("; kubectl / engine: %.1f× (target ≥ 15×)", float64(t)/float64(engine))
				}
				fmt.Println()
			})
		}
	}
}

// BenchmarkWaitLatency measures the time from a status flip to the wait
// returning (the original polled every 10 to 30 seconds).
func BenchmarkWaitLatency(b *testing.B) {
	e := testenv.Get(b)
	ns := e.Namespace(b)
	k := e.Kube()
	var lat, fromSend []time.Duration
	for i := 0; i < max(b.N, 20); i++ {
		job := paddleJob(ns, fmt.Sprintf("lat-%d", i))
		if _, err := k.Apply(context.Background(), []*unstructured.Unstructured{job}, kube.ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		var f [2]time.Time // the request sent; the server has committed the flip
		op := testenv.Background(b, func(bg *testenv.T) {
			// Give the wait time to list and start watching, as it has in
			// practice: jobs run for minutes.
			time.Sleep(150 * time.Millisecond)
			f[0] = time.Now()
			e.SetStatus(bg, kube.RefOf(job), map[string]any{"phase": "Completed"})
			f[1] = time.Now()
		})
		_, err := k.Wait(context.Background(), kube.RefOf(job), kube.PhaseIn(paddle.PaddleJobSuccess, paddle.PaddleJobFailure, nil))
		returned := time.Now()
		op.Wait()
		if err != nil || op.Failed() {
			b.Fatal(err)
		}
		lat = append(lat, returned.Sub(f[1]))
		fromSend = append(fromSend, returned.Sub(f[0]))
	}
	sort.Slice(fromSend, func(i, j int) bool { return fromSend[i] < fromSend[j] })
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
	fmt.Printf("\nwait latency over %d waits, from the status update's response to the wait returning: p50 %s, p95 %s, max %s;\n"+
		"from sending the status update: p50 %s, max %s (target ≤ 100ms)\n",
		len(lat), p50.Round(time.Microsecond), p95.Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond),
		fromSend[len(fromSend)/2].Round(time.Microsecond), fromSend[len(fromSend)-1].Round(time.Microsecond))
	b.ReportMetric(float64(fromSend[len(fromSend)-1].Microseconds())/1000, "max-from-send-ms")
}
