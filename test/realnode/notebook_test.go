//go:build linux

package realnode

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// notebookImage is the stand-in notebook image: Debian's python3 (the
// hub's language, for the spawn hook) and the real paddlex binary, as
// images/notebook puts it into the notebook image with PaddlePaddle.
const notebookImage = "registry.paddlex.test/notebook:latest"

// spawnDriver runs the hub's paddlex-tenants configuration the way
// JupyterHub's configuration file does (exec with `c` in its globals) and
// calls the pre-spawn hook it sets with a stand-in KubeSpawner for each
// user named on the command line, printing what the hook set, or its
// refusal, as one JSON line per user.
const spawnDriver = `
import asyncio, json, logging, sys, types

c = types.SimpleNamespace(KubeSpawner=types.SimpleNamespace())
exec(open("/srv/paddlex-tenants.py").read(), {"c": c})
hook = c.KubeSpawner.pre_spawn_hook

class Spawner:
    def __init__(self, user):
        self.user = types.SimpleNamespace(name=user)
        self.namespace = "jhub"
        self.service_account = None
        self.automount_service_account_token = False
        self.hub_connect_url = None
        self.log = logging.getLogger("spawner")

for user in sys.argv[1:]:
    s = Spawner(user)
    try:
        asyncio.run(hook(s))
        print(json.dumps({"user": user, "namespace": s.namespace, "serviceAccount": s.service_account,
                          "automount": s.automount_service_account_token, "hubURL": s.hub_connect_url}))
    except Exception as e:
        print(json.dumps({"user": user, "refused": type(e).__name__ + ": " + str(e)}))
`

// spawned is one line of the driver's output.
type spawned struct {
	User           string `json:"user"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	Automount      bool   `json:"automount"`
	HubURL         string `json:"hubURL"`
	Refused        string `json:"refused"`
}

// notebookActsAsTheTenant proves, on the real node, that a tenant's
// notebook works in the tenant's namespace with the tenant's rights. The
// hub's spawn hook runs in real Python in a pod of jhub with the hub's
// service account and the install's RBAC (KubeSpawner and the hub are
// stand-ins: the driver above), and finds the tenant's namespace; the test
// then starts the notebook pod as the hub (impersonated) would, there, as
// the notebook account, and paddlex in it, with no kubeconfig, lists the
// tenant's model and training in the tenant's namespace and is refused in
// the platform's.
func notebookActsAsTheTenant(t *testing.T, e *testenv.Env, ns, email string) {
	t.Helper()
	ctx := context.Background()
	// What the full profile installs for tenants and their notebooks.
	for _, f := range []string{"tenants/tenants.yaml", "jupyterhub/namespace.yaml", "jupyterhub/notebooks.yaml"} {
		b, err := os.ReadFile("../../manifests/components/" + f)
		if err != nil {
			t.Fatal(err)
		}
		e.Apply(t, "", string(b))
	}
	hubSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: tenant.HubAccount, Namespace: tenant.HubNamespace}}
	if _, err := e.Clientset.CoreV1().ServiceAccounts(tenant.HubNamespace).Create(ctx, hubSA, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitServiceAccount(t, e, tenant.HubNamespace)

	paddlex := readFile(t, goBinary(t, "github.com/paddleflow/paddlex/cmd/paddlex", "paddlex"))
	layer, err := localcluster.Layer([]localcluster.File{
		{Path: "/srv/paddlex-tenants.py", Mode: 0o644, Content: []byte(install.NotebookSpawnConfig(true))},
		{Path: "/srv/spawn.py", Mode: 0o644, Content: []byte(spawnDriver)},
		{Path: "/usr/local/bin/paddlex", Mode: 0o755, Content: paddlex},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := localcluster.Image(pythonImage(t, e), []v1.Layer{layer}, v1.Config{Cmd: []string{"sh"}, Env: []string{"HOME=/tmp"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := localcluster.PushImage(ctx, notebookImage, img); err != nil {
		t.Fatal(err)
	}

	// The hook, as the hub runs it.
	// As the chart runs notebooks (user 1000), within Pod Security's restricted.
	restricted := paddle.ContainerSecurity()
	yes := true
	const stranger = "mallory@example.com"
	phase, log := runPodSpec(t, e, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "spawn-hook", Namespace: tenant.HubNamespace},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, ServiceAccountName: tenant.HubAccount,
			Containers: []corev1.Container{{Name: "hub", Image: notebookImage, Command: []string{"python3", "/srv/spawn.py", strings.ToUpper(email), stranger},
				SecurityContext: restricted}}},
	})
	if phase != corev1.PodSucceeded {
		t.Fatalf("the spawn hook's pod: %s\n%s", phase, log)
	}
	got := map[string]spawned{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var s spawned
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("the spawn hook printed %q: %v\n%s", line, err, log)
		}
		got[strings.ToLower(s.User)] = s
	}
	s := got[email]
	if s.Namespace != ns || s.ServiceAccount != tenant.NotebookAccount || !s.Automount || s.HubURL != "http://hub."+tenant.HubNamespace+".svc:8081" {
		t.Fatalf("the hook starts %s's notebook with %+v; want namespace %s, account %s, its token, the hub by its full name", email, s, ns, tenant.NotebookAccount)
	}
	if r := got[stranger].Refused; !strings.Contains(r, "PaddlexNoTenant") || !strings.Contains(r, "paddlex tenant add "+stranger) {
		t.Errorf("the hook lets %s, no tenant, start a notebook, or refuses unclearly: %+v", stranger, got[stranger])
	}
	t.Logf("spawn hook: %s", strings.TrimSpace(log))

	// A hub whose account lacks the install's ClusterRole is told so.
	phase, log = runPodSpec(t, e, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "spawn-hook-unbound", Namespace: tenant.HubNamespace},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, ServiceAccountName: "default", AutomountServiceAccountToken: &yes,
			Containers: []corev1.Container{{Name: "hub", Image: notebookImage, Command: []string{"python3", "/srv/spawn.py", email}, SecurityContext: restricted}}},
	})
	if phase != corev1.PodSucceeded || !strings.Contains(log, "PaddlexHubAccess") || !strings.Contains(log, "HTTP 403") ||
		!strings.Contains(log, "paddlex install --components jupyterhub") {
		t.Errorf("the hook without the hub's ClusterRole: %s\n%s", phase, log)
	}

	// The notebook, started by the hub where the hook said, runs paddlex
	// with the notebook account's token and no kubeconfig.
	hubCfg := rest.CopyConfig(e.Config)
	hubCfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + tenant.HubNamespace + ":" + tenant.HubAccount}
	asHub, err := kubernetes.NewForConfig(hubCfg)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jupyter-notebook", Namespace: s.Namespace,
			Labels: map[string]string{"component": "singleuser-server", "hub.jupyter.org/network-access-hub": "true"}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, ServiceAccountName: s.ServiceAccount, AutomountServiceAccountToken: &yes,
			Containers: []corev1.Container{{Name: "notebook", Image: notebookImage, SecurityContext: restricted, Command: []string{"sh", "-c", `
paddlex modelhub list ppocr-det; echo "exit $?"
paddlex train list; echo "exit $?"
paddlex modelhub list ppocr-det -n kubeflow 2>&1; echo "exit $?"
paddlex train list -n kubeflow 2>&1; echo "exit $?"`}}}},
	}
	if _, err := asHub.CoreV1().Pods(s.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("the hub may not start the notebook in %s: %v", s.Namespace, err)
	}
	phase, log = runPodSpec(t, e, pod)
	t.Logf("paddlex in the notebook:\n%s", log)
	parts := strings.Split(log, "\nexit ")
	if phase != corev1.PodSucceeded || len(parts) != 5 {
		t.Fatalf("the notebook pod: %s\n%s", phase, log)
	}
	if !strings.HasPrefix(parts[1], "0") || !strings.Contains(parts[0], "tenant") {
		t.Errorf("paddlex modelhub list in the notebook does not list the tenant's version:\n%s", parts[0])
	}
	if !strings.HasPrefix(parts[2], "0") || !strings.Contains(parts[1], "ppocr-det") {
		t.Errorf("paddlex train list in the notebook does not list the tenant's training:\n%s", parts[1])
	}
	for i, what := range map[int]string{3: "modelhub list -n kubeflow", 4: "train list -n kubeflow"} {
		if strings.HasPrefix(parts[i], "0") || !strings.Contains(strings.ToLower(parts[i-1]), "forbid") {
			t.Errorf("paddlex %s in the notebook was not refused by RBAC:\n%s", what, parts[i-1])
		}
	}
}
