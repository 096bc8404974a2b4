package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The training-operator's fixed names: its cert rotator keeps the webhook
// certificate in this Secret, injects the CA into this configuration, and
// its webhook server reads the certificate from this directory, which a
// Deployment would mount from the Secret.
const (
	operatorNamespace = "training-operator-system"
	webhookSecret     = "training-operator-webhook-cert"
	webhookConfig     = "validator.training-operator.kubeflow.org"
	certDir           = "/tmp/k8s-webhook-server/serving-certs"
)

// operator is a running training-operator process.
type operator struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startTrainingOperator runs the real Kubeflow training-operator, built by
// hack/testbin.sh, out of cluster against the local API server, with only
// its PaddleJob controller. Its certificate directory is fixed by the
// operator, so one runs per machine at a time.
func (e *Cluster) startTrainingOperator() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: webhookSecret, Namespace: operatorNamespace}}
	if _, err := cs.CoreV1().Secrets(operatorNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// One webhook that matches nothing and is ignored on failure: enough
	// for the rotator to inject its CA into.
	none := admissionregistrationv1.SideEffectClassNone
	ignore := admissionregistrationv1.Ignore
	path := "/validate-noop"
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookConfig},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "noop.training-operator.kubeflow.org",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: operatorNamespace, Name: "training-operator", Path: &path}},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"noop.paddlex.io"}, APIVersions: []string{"v1"}, Resources: []string{"noops"}}}},
			FailurePolicy:           &ignore,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// Certificates left by an earlier run belong to another Secret.
	if err := os.RemoveAll(certDir); err != nil {
		return err
	}

	// First start: the rotator fills the Secret, then waits for the files
	// a Deployment would mount from it.
	if err := e.startOperatorProcess(); err != nil {
		return err
	}
	var crt, key []byte
	for {
		s, err := cs.CoreV1().Secrets(operatorNamespace).Get(ctx, webhookSecret, metav1.GetOptions{})
		if err == nil && len(s.Data["tls.crt"]) > 0 && len(s.Data["tls.key"]) > 0 {
			crt, key = s.Data["tls.crt"], s.Data["tls.key"]
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cert rotator never filled Secret %s/%s", operatorNamespace, webhookSecret)
		case <-time.After(100 * time.Millisecond):
		}
	}
	e.op.stop()
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.crt"), crt, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.key"), key, 0o600); err != nil {
		return err
	}
	// Second start: the certificates are in place, so the controllers start.
	if err := e.startOperatorProcess(); err != nil {
		return err
	}
	for {
		b, _ := os.ReadFile(filepath.Join(e.Dir, "training-operator.log"))
		for _, line := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(line, []byte("Starting workers")) && bytes.Contains(line, []byte("paddlejob-controller")) {
				return nil
			}
		}
		select {
		case <-e.op.done:
			return fmt.Errorf("training-operator exited: %s; log:\n%s", e.op.cmd.ProcessState, e.Log("training-operator", 30))
		case <-ctx.Done():
			return fmt.Errorf("the training-operator's PaddleJob controller did not start within 90s; log:\n%s", e.Log("training-operator", 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *Cluster) startOperatorProcess() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd, logf, err := startProcess(e, "training-operator", filepath.Join(e.Bin, "training-operator"),
		[]string{"MY_POD_NAMESPACE=" + operatorNamespace}, true,
		"--enable-scheme=paddlejob",
		"--kubeconfig="+e.Kubeconfig,
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--webhook-server-port="+strconv.Itoa(port),
		"--kube-api-qps=200", "--kube-api-burst=400", "--controller-threads=4")
	if err != nil {
		return err
	}
	done := make(chan struct{})
	e.op = &operator{cmd: cmd, done: done}
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	return nil
}

func (o *operator) stop() {
	if o == nil || o.cmd.Process == nil {
		return
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
