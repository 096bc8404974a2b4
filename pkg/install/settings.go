package install

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Settings are the inputs of rendering besides the catalog and artifacts.
// Render is pure: every secret value is in Secrets, filled by the caller.
type Settings struct {
	// Networking is the Knative networking layer: kourier or istio.
	Networking string
	// RedisURL is an external Redis for JuiceFS metadata, taken as given;
	// empty means the in-cluster Redis.
	RedisURL string
	// TaskCenterRedisURL is the metadata engine of task-center; empty means
	// RedisURL with the next database number.
	TaskCenterRedisURL string
	// Domain is the host name users reach the platform at, over https,
	// through the Istio ingress gateway (--domain). With it, dex issues
	// identities at https://DOMAIN/dex, oauth2-proxy fronts the UIs and the
	// Argo server and JupyterHub log users in through dex; without it the
	// UIs are reached with port-forward and each asks for its own
	// credentials.
	Domain string
	// NotebookIdleTimeout is how long a notebook server may sit idle
	// before JupyterHub's idle culler stops it (--notebook-idle-timeout);
	// zero means DefaultNotebookIdleTimeout.
	NotebookIdleTimeout time.Duration
	// NotebookImage is the image notebook servers run (--notebook-image),
	// with its tag or digest; empty keeps the chart's.
	NotebookImage string
	// Secrets holds the seed values by key (see Seed).
	Secrets map[string]string
	// SecretNamespaces are namespaces besides kubeflow where the
	// prerequisites component also creates the data-center Secret, the model
	// center's keys and JuiceFS settings that dataset, train, modelhub and
	// serve read in the namespace they run in (--secret-namespace).
	SecretNamespaces []string
}

// SeedKeys lists the seed keys the components use, sorted and unique.
func SeedKeys(comps []*Component) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range comps {
		for _, s := range c.Seeds {
			if !seen[s.Key] {
				seen[s.Key] = true
				out = append(out, s.Key)
			}
		}
	}
	sort.Strings(out)
	return out
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// RandomSecret returns n random letters and digits from crypto/rand.
func RandomSecret(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			return "", err
		}
		b[i] = alnum[k.Int64()]
	}
	return string(b), nil
}

// secret builds a Secret. Values go in data (base64-encoded when the typed
// Secret is converted) rather than stringData: stringData is write-only, so
// every re-apply of it would count as a change.
func secret(namespace, name string, data map[string]string, holdsData bool) *unstructured.Unstructured {
	return kube.ToUnstructured(secretObject(namespace, name, data, holdsData))
}

// secretObject is secret, typed, for a generator that adds to it.
func secretObject(namespace, name string, data map[string]string, holdsData bool) *corev1.Secret {
	s := &corev1.Secret{
		TypeMeta:   kube.TypeMeta(secretGVK),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       make(map[string][]byte, len(data)),
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if holdsData {
		s.Labels = map[string]string{LabelData: "true"}
	}
	return s
}

func (s Settings) need(keys ...string) error {
	for _, k := range keys {
		if s.Secrets[k] == "" {
			return fmt.Errorf("no value for %s", k)
		}
	}
	return nil
}

func generateMinIO(s Settings) ([]*unstructured.Unstructured, error) {
	if err := s.need(SeedMinIOAccessKey, SeedMinIOSecretKey); err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{secret(PlatformNamespace, "minio-credentials", map[string]string{
		"accesskey": s.Secrets[SeedMinIOAccessKey], "secretkey": s.Secrets[SeedMinIOSecretKey],
	}, true)}, nil
}

func generateRedis(s Settings) ([]*unstructured.Unstructured, error) {
	if err := s.need(SeedRedisPassword); err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{secret(PlatformNamespace, "redis-credentials", map[string]string{
		"password": s.Secrets[SeedRedisPassword],
	}, true)}, nil
}

// MetaURLs returns the JuiceFS metadata URLs of data-center and task-center.
func (s Settings) MetaURLs() (dataCenter, taskCenter string, err error) {
	if s.RedisURL == "" {
		pw := url.QueryEscape(s.Secrets[SeedRedisPassword])
		base := "redis://:" + pw + "@" + inClusterRedisHost + "/"
		return base + "0", base + "1", nil
	}
	dataCenter = s.RedisURL
	taskCenter = s.TaskCenterRedisURL
	if taskCenter == "" {
		taskCenter, err = nextDatabase(s.RedisURL)
	}
	return dataCenter, taskCenter, err
}

var dbSuffix = regexp.MustCompile(`/(\d+)$`)

// nextDatabase returns a Redis URL naming the database after u's: a JuiceFS
// file system needs a metadata database of its own.
func nextDatabase(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("--redis-url: %w", err)
	}
	if p.RawQuery != "" || p.Fragment != "" {
		return "", fmt.Errorf("--redis-url has a query or fragment: give --task-center-redis-url too")
	}
	if m := dbSuffix.FindStringSubmatch(u); m != nil {
		n, _ := strconv.Atoi(m[1])
		return u[:len(u)-len(m[0])] + "/" + strconv.Itoa(n+1), nil
	}
	if p.Path == "" || p.Path == "/" {
		return u[:len(u)-len(p.Path)] + "/1", nil
	}
	return "", fmt.Errorf("--redis-url path %q is not a database number: give --task-center-redis-url too", p.Path)
}

// LabelRedis on the Secrets data-center and task-center records where
// their JuiceFS metadata lives: RedisInCluster or RedisExternal. The URL
// itself holds a password and stays in the Secret's data; the mode is what a
// later install compares against.
const LabelRedis = "paddlex.io/redis"

// Redis modes.
const (
	RedisInCluster = "in-cluster"
	RedisExternal  = "external"
)

// inClusterRedisHost is the in-cluster Redis's Service address.
const inClusterRedisHost = "redis." + PlatformNamespace + ":6379"

// RedisMode returns the Redis mode an installed data-center Secret records:
// its LabelRedis, or for Secrets written before the label, the host of its
// metaurl. It returns "" for a Secret that says neither.
func RedisMode(dataCenter *unstructured.Unstructured) string {
	if dataCenter == nil {
		return ""
	}
	if m := dataCenter.GetLabels()[LabelRedis]; m == RedisInCluster || m == RedisExternal {
		return m
	}
	v, _, _ := unstructured.NestedString(dataCenter.Object, "data", "metaurl")
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) == 0 {
		return ""
	}
	u, err := url.Parse(string(b))
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Host == inClusterRedisHost {
		return RedisInCluster
	}
	return RedisExternal
}

// generatePrerequisites renders the JuiceFS Secrets the platform mounts
// data-center and task-center with.
func generatePrerequisites(s Settings) ([]*unstructured.Unstructured, error) {
	if err := s.need(SeedMinIOAccessKey, SeedMinIOSecretKey); err != nil {
		return nil, err
	}
	dc, tc, err := s.MetaURLs()
	if err != nil {
		return nil, err
	}
	mode := RedisInCluster
	if s.RedisURL != "" {
		mode = RedisExternal
	}
	var out []*unstructured.Unstructured
	for _, fs := range []struct{ name, meta string }{{"data-center", dc}, {"task-center", tc}} {
		sec := secretObject(PlatformNamespace, fs.name, map[string]string{
			"name":       fs.name,
			"metaurl":    fs.meta,
			"storage":    "minio",
			"bucket":     "http://minio-service." + PlatformNamespace + ":9000/" + fs.name,
			"access-key": s.Secrets[SeedMinIOAccessKey],
			"secret-key": s.Secrets[SeedMinIOSecretKey],
		}, true)
		sec.Labels[LabelRedis] = mode
		out = append(out, kube.ToUnstructured(sec))
		if fs.name != "data-center" {
			continue
		}
		for _, ns := range s.SecretNamespaces {
			if ns == PlatformNamespace {
				continue
			}
			u := kube.ToUnstructured(sec)
			u.SetNamespace(ns)
			l := u.GetLabels()
			l[LabelCopyOf] = PlatformNamespace + "." + fs.name
			u.SetLabels(l)
			out = append(out, u)
		}
	}
	return out, nil
}

// PrerequisitesCommand is the command that creates the data-center Secret
// in namespace: the prerequisites component, told the namespace unless it
// is the platform's own.
func PrerequisitesCommand(namespace string) string {
	cmd := "paddlex install --components prerequisites"
	if namespace != "" && namespace != PlatformNamespace {
		cmd += " --secret-namespace " + namespace
	}
	return cmd
}

// mutateKnativeNetworking points Knative Serving at the chosen networking layer.
func mutateKnativeNetworking(s Settings, objs []*unstructured.Unstructured) error {
	class := "kourier.ingress.networking.knative.dev"
	if s.Networking == NetworkingIstio {
		class = "istio.ingress.networking.knative.dev"
	}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "config-network" && o.GetNamespace() == "knative-serving" {
			if err := unstructured.SetNestedField(o.Object, class, "data", "ingress-class"); err != nil {
				return err
			}
		}
	}
	return nil
}
