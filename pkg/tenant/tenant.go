// Package tenant renders what a tenant of the multi-tenant profile is given:
// a namespace of their own, isolated by Pod Security and network policy,
// optionally bounded by a quota; rights in that namespace only, bound to
// the identity dex issues them; and object-store keys that reach only
// their own bucket. Rendering is pure; the MinIO user and its policy are
// made through MinIO's admin API (Admin).
package tenant

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Labels and annotations on a tenant's namespace.
const (
	// LabelTenant marks a tenant namespace; MinIO's network policy admits
	// the namespaces that carry it.
	LabelTenant = "paddlex.io/tenant"
	// Removed is LabelTenant's value on the namespace of a tenant removed
	// without --purge.
	Removed = "removed"
	// AnnotationEmail is the tenant's identity as dex issues it (an e-mail
	// address cannot be a label value).
	AnnotationEmail = "paddlex.io/tenant-email"
	// AnnotationS3User is the tenant's MinIO user, so remove finds it.
	AnnotationS3User = "paddlex.io/tenant-s3-user"
)

// NamespaceUserRole is the ClusterRole the install provides for what a
// namespace's user needs beyond admin: the paddle kinds and Argo's.
const NamespaceUserRole = "paddlex-namespace-user"

// Notebooks: JupyterHub starts a tenant's notebook server in their
// namespace as NotebookAccount, which holds the tenant's own rights there
// (the same bindings), so paddlex in the notebook acts as the tenant in
// their namespace and nowhere else. The hub's service account
// (HubNamespace/HubAccount) is bound to NotebookSpawnerRole there, which
// the jupyterhub component provides.
const (
	NotebookAccount     = "notebook"
	NotebookSpawnerRole = "paddlex-notebook-spawner"
	HubNamespace        = "jhub"
	HubAccount          = "hub"
)

// DefaultEndpoint is MinIO's in-cluster address, which the tenant's
// data-center Secret names.
const DefaultEndpoint = "http://minio-service.kubeflow:9000"

// Spec is a tenant.
type Spec struct {
	// Email is the identity dex issues the user (the email claim, which
	// the API server takes as the user name).
	Email string
	// Namespace is the tenant's namespace; NamespaceFor(Email) by default.
	Namespace string
	// QuotaGPU, QuotaCPU and QuotaMemory bound the requests of the
	// namespace's pods; zero or empty sets no bound.
	QuotaGPU    int64
	QuotaCPU    string
	QuotaMemory string
	// AccessKey and SecretKey are the tenant's MinIO keys, made by the
	// caller; they reach only Bucket().
	AccessKey string
	SecretKey string
	// Endpoint is MinIO's address inside the cluster (DefaultEndpoint).
	Endpoint string
	// MetaURL is the JuiceFS metadata engine the tenant's data-center
	// volume uses: a database of the platform's Redis of their own.
	MetaURL string
	// RedisDB is that database's number.
	RedisDB int
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// NamespaceFor is the namespace of a tenant named by e-mail, in Kubeflow's
// spelling: user@example.com gets kubeflow-user-example-com.
func NamespaceFor(email string) string {
	ns := "kubeflow-" + strings.Trim(nonName.ReplaceAllString(strings.ToLower(email), "-"), "-")
	if len(ns) > 63 {
		ns = strings.TrimRight(ns[:63], "-")
	}
	return ns
}

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// Validate checks the spec's user-given fields, naming the flag.
func (s *Spec) Validate() error {
	if !emailRE.MatchString(s.Email) {
		return exit.UsageErrorf("EMAIL %q is not an e-mail address: give the address the user signs in with, e.g. alice@example.com", s.Email)
	}
	if errs := validation.IsDNS1123Label(s.Namespace); len(errs) > 0 {
		return exit.UsageErrorf("--namespace %q: %s", s.Namespace, strings.Join(errs, "; "))
	}
	if s.QuotaGPU < 0 {
		return exit.UsageErrorf("--quota-gpu must not be negative, not %d", s.QuotaGPU)
	}
	for flag, v := range map[string]string{"--quota-cpu": s.QuotaCPU, "--quota-memory": s.QuotaMemory} {
		if v == "" {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return exit.UsageErrorf("%s %q is not a positive quantity (e.g. --quota-cpu 8, --quota-memory 32Gi)", flag, v)
		}
	}
	return nil
}

// Bucket is the tenant's own bucket in MinIO: their data sets' JuiceFS
// objects and anything else they keep. Its name is the namespace's.
func (s *Spec) Bucket() string { return s.Namespace }

// S3User is the tenant's MinIO user (its access key).
func (s *Spec) S3User() string { return s.AccessKey }

// PolicyName is the MinIO policy attached to the tenant's user.
func (s *Spec) PolicyName() string { return "paddlex-tenant-" + s.Namespace }

// ModelPrefix is the tenant's area of the model center: the key prefix in
// its bucket (modelhub.Bucket) that their keys reach, NAMESPACE/.
func (s *Spec) ModelPrefix() string { return s.Namespace + "/" }

// Policy is the tenant's MinIO policy: every S3 action on their bucket and
// its objects; in the model center's bucket, listing and every object
// action under their ModelPrefix only; nothing on any other bucket (not
// even listing them).
func (s *Spec) Policy() []byte {
	b, mc, p := s.Bucket(), modelhub.Bucket, s.ModelPrefix()
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{"Effect": "Allow", "Action": []string{"s3:*"}, "Resource": []string{"arn:aws:s3:::" + b, "arn:aws:s3:::" + b + "/*"}},
			map[string]any{"Effect": "Allow", "Action": []string{"s3:ListBucket"}, "Resource": []string{"arn:aws:s3:::" + mc},
				"Condition": map[string]any{"StringLike": map[string]any{"s3:prefix": []string{p + "*"}}}},
			map[string]any{"Effect": "Allow", "Action": []string{"s3:*"}, "Resource": []string{"arn:aws:s3:::" + mc + "/" + p + "*"}},
		},
	}
	out, _ := json.Marshal(doc)
	return out
}

func meta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{kube.LabelManagedBy: kube.ManagedByValue, LabelTenant: "true"}}
}

// Render returns the tenant's objects in apply order: the namespace, its
// network policies, quota and limits, the notebook service account, the
// RoleBindings and the data-center Secret.
func Render(s Spec) []*unstructured.Unstructured {
	ns := s.Namespace
	nsMeta := meta(ns, "")
	// Pod Security: baseline is enforced (no privileged pods, host
	// namespaces or host paths). paddlex's own pods and Argo's executor
	// containers pass restricted, which is warned and audited; it is not
	// enforced because what a pipeline's own steps and Jobs run is the
	// user's, and their images may need root.
	for k, v := range map[string]string{
		"pod-security.kubernetes.io/enforce": "baseline",
		"pod-security.kubernetes.io/warn":    "restricted",
		"pod-security.kubernetes.io/audit":   "restricted",
		"istio-injection":                    "enabled",
	} {
		nsMeta.Labels[k] = v
	}
	nsMeta.Annotations = map[string]string{AnnotationEmail: s.Email, AnnotationS3User: s.S3User(), AnnotationRedisDB: strconv.Itoa(s.RedisDB)}
	objs := []any{
		&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: nsMeta},
	}
	ingress := networkingv1.PolicyTypeIngress
	objs = append(objs,
		// Ingress is denied unless a policy below allows it. Egress
		// stays open: steps reach MinIO, the model center and data
		// set sources.
		&networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("default-deny-ingress", ns),
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{ingress}}},
		// The namespace's own pods: distributed training, a service and
		// its VisualDL, pipeline steps.
		&networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("allow-same-namespace", ns),
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{ingress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}}},
		// Knative's activator and the ingress gateways in front of model
		// services; the Argo workflow controller; paddle-operator, whose
		// SampleSet controller calls the cache runtime's server in the
		// SampleSet's namespace; JupyterHub's hub and proxy, in front of
		// the tenant's notebook server.
		&networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("allow-platform", ns),
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{ingress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn,
						Values: []string{"knative-serving", "kourier-system", "istio-system", "argo", "paddle-system", HubNamespace}}}}}}}}}},
	)
	if q := s.quota(); q != nil {
		objs = append(objs, q, s.limits())
	}
	// The tenant and their notebooks hold the same rights.
	owners := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: s.Email},
		{Kind: rbacv1.ServiceAccountKind, Name: NotebookAccount, Namespace: ns}}
	objs = append(objs,
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(NotebookAccount, ns)},
		// admin, namespaced: everything in the namespace, and the Roles a
		// pipeline run creates for its own account (which grant only what
		// the user holds). Nothing outside the namespace.
		&rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta("namespace-owner", ns),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}, Subjects: owners},
		&rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta("namespace-owner-paddle", ns),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: NamespaceUserRole}, Subjects: owners},
		&rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta("jupyterhub-spawner", ns),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: NotebookSpawnerRole},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: HubAccount, Namespace: HubNamespace}}},
		s.secret(),
	)
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		out = append(out, kube.ToUnstructured(o))
	}
	return out
}

// secret is the tenant's data-center Secret: the JuiceFS volume their data
// sets are cached in, and the S3 keys modelhub and serve read, which are
// the tenant's own, never MinIO's root keys.
func (s *Spec) secret() *corev1.Secret {
	endpoint := s.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return &corev1.Secret{
		TypeMeta:   typeMeta("v1", "Secret"),
		ObjectMeta: meta(paddle.DataCenterSecret, s.Namespace),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"name":       []byte(paddle.DefaultSampleSet),
			"storage":    []byte("minio"),
			"bucket":     []byte(strings.TrimRight(endpoint, "/") + "/" + s.Bucket()),
			"metaurl":    []byte(s.MetaURL),
			"access-key": []byte(s.AccessKey),
			"secret-key": []byte(s.SecretKey),
			// modelhub keeps the tenant's models here (their keys
			// reach nothing else of the model center).
			"model-prefix": []byte(s.ModelPrefix()),
		},
	}
}

// quota bounds the requests of the namespace's pods, or is nil.
func (s *Spec) quota() *corev1.ResourceQuota {
	hard := corev1.ResourceList{}
	if s.QuotaCPU != "" {
		hard[corev1.ResourceRequestsCPU] = resource.MustParse(s.QuotaCPU)
	}
	if s.QuotaMemory != "" {
		hard[corev1.ResourceRequestsMemory] = resource.MustParse(s.QuotaMemory)
	}
	if s.QuotaGPU > 0 {
		hard["requests.nvidia.com/gpu"] = *resource.NewQuantity(s.QuotaGPU, resource.DecimalSI)
	}
	if len(hard) == 0 {
		return nil
	}
	return &corev1.ResourceQuota{TypeMeta: typeMeta("v1", "ResourceQuota"), ObjectMeta: meta("tenant-quota", s.Namespace),
		Spec: corev1.ResourceQuotaSpec{Hard: hard}}
}

// limits gives a container that requests nothing a small request, so a
// quota on CPU or memory does not refuse it outright.
func (s *Spec) limits() *corev1.LimitRange {
	req := corev1.ResourceList{}
	if s.QuotaCPU != "" {
		req[corev1.ResourceCPU] = resource.MustParse("100m")
	}
	if s.QuotaMemory != "" {
		req[corev1.ResourceMemory] = resource.MustParse("256Mi")
	}
	lr := &corev1.LimitRange{TypeMeta: typeMeta("v1", "LimitRange"), ObjectMeta: meta("tenant-defaults", s.Namespace)}
	if len(req) > 0 {
		lr.Spec.Limits = []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, DefaultRequest: req}}
	}
	return lr
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// FromNamespace reads a tenant back from their namespace; ok is false when
// the namespace is not a current tenant's.
func FromNamespace(obj *unstructured.Unstructured) (Spec, bool) {
	if obj.GetLabels()[LabelTenant] != "true" {
		return Spec{}, false
	}
	return fromAnnotations(obj)
}

// FromRemovedNamespace reads back a tenant removed without --purge.
func FromRemovedNamespace(obj *unstructured.Unstructured) (Spec, bool) {
	if obj.GetLabels()[LabelTenant] != Removed {
		return Spec{}, false
	}
	return fromAnnotations(obj)
}

func fromAnnotations(obj *unstructured.Unstructured) (Spec, bool) {
	a := obj.GetAnnotations()
	db, _ := strconv.Atoi(a[AnnotationRedisDB])
	return Spec{Email: a[AnnotationEmail], Namespace: obj.GetName(), AccessKey: a[AnnotationS3User], RedisDB: db}, a[AnnotationEmail] != ""
}

// String names the tenant for messages.
func (s Spec) String() string { return fmt.Sprintf("%s (namespace %s)", s.Email, s.Namespace) }

// AnnotationRedisDB records the Redis database of the tenant's JuiceFS
// metadata, so the next tenant gets another one.
const AnnotationRedisDB = "paddlex.io/tenant-redis-db"

// RedisDatabases is how many databases a Redis server has by default;
// the platform's data-center and task-center use the first two (with the
// in-cluster Redis), so tenants get the rest, one each: a JuiceFS file
// system needs a metadata database of its own.
const RedisDatabases = 16

var dbSuffix = regexp.MustCompile(`/(\d+)$`)

// MetaURL returns the platform's metadata URL (the data-center Secret's)
// with database db instead of its own.
func MetaURL(platform string, db int) (string, error) {
	m := dbSuffix.FindStringSubmatch(platform)
	if m == nil {
		return "", exit.PreconditionErrorf("the platform's JuiceFS metadata URL does not end in a Redis database number: a tenant's data sets need a database of their own")
	}
	return platform[:len(platform)-len(m[0])] + "/" + strconv.Itoa(db), nil
}

// FreeDatabase picks the lowest Redis database neither the platform's
// data-center (platformDB) and task-center (platformDB+1) nor another
// tenant uses.
func FreeDatabase(platformDB int, used []int) (int, error) {
	taken := map[int]bool{platformDB: true, platformDB + 1: true}
	for _, u := range used {
		taken[u] = true
	}
	for db := 0; db < RedisDatabases; db++ {
		if !taken[db] {
			return db, nil
		}
	}
	return 0, exit.PreconditionErrorf("every one of Redis's %d databases is taken by the platform or a tenant: remove a tenant (paddlex tenant remove EMAIL --purge), or raise Redis's databases setting", RedisDatabases)
}

// DatabaseOf returns the database number a Redis URL names.
func DatabaseOf(u string) (int, bool) {
	m := dbSuffix.FindStringSubmatch(u)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}
