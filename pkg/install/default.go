package install

// Versions of the upstream components. The catalog records a sha256 only
// for artifacts whose published bytes were checksummed (the paddle-operator
// files); for the others `paddlex install bundle` records the checksum of
// what it downloaded, `paddlex install catalog pin` turns that into catalog
// entries, and installs from a bundle verify against it.
const (
	// knativeVersion is Knative Serving's release: the Go module
	// knative.dev/serving v0.42.2, whose CRDs the tests apply.
	knativeVersion = "knative-v1.15.2"
	// knativeNetworkingVersion is the release of net-kourier and net-istio:
	// each Knative repository numbers its patch releases on its own, and
	// every one publishes the minor's .0.
	knativeNetworkingVersion = "knative-v1.15.0"
	istioVersion             = knativeNetworkingVersion // the Istio build net-istio publishes and tests with
	argoVersion              = "v3.7.9"
	juicefsCSIVersion        = "v0.28.2"
	// paddleOperatorVersion is the merge of paddle-operator's sampleset
	// branch: its deploy/v1/crd.yaml defines PaddleJob, SampleSet and
	// SampleJob (earlier commits define PaddleJob only).
	paddleOperatorVersion = "667185dd97aa4ce4254c4028db8146be20453757"
	jupyterhubVersion     = "4.2.0"
	// argoExecutorImage is the executor Argo's workflow controller runs
	// in every step's pod when not told otherwise.
	argoExecutorImage = "quay.io/argoproj/argoexec:" + argoVersion
)

// checksums are the sha256 of pinned artifacts whose published bytes were
// checksummed, by URL. `paddlex install catalog pin --from-bundle BUNDLE -o go`
// prints these lines for every artifact of a bundle.
var checksums = map[string]string{
	// paddle-operator at paddleOperatorVersion: the raw files that URL serves.
	"https://raw.githubusercontent.com/PaddleFlow/paddle-operator/667185dd97aa4ce4254c4028db8146be20453757/deploy/v1/crd.yaml":                 "a00c6cd6220159e2c1e252e35b6eef41a16eef5a119b716698b3683606b2bf12",
	"https://raw.githubusercontent.com/PaddleFlow/paddle-operator/667185dd97aa4ce4254c4028db8146be20453757/deploy/v1/operator.yaml":            "97182350b1d6af2ff641579cb6753b673c4c0f6578c408ed4b39f21ce5d2b0f4",
	"https://raw.githubusercontent.com/PaddleFlow/paddle-operator/667185dd97aa4ce4254c4028db8146be20453757/deploy/extensions/controllers.yaml": "6d144ef04905b453a9760a6d24041d0e9004601b695cde4a826375d64a69c9e5",
}

// PlatformNamespace holds the platform's own objects.
const PlatformNamespace = "kubeflow"

// Seed keys.
const (
	SeedMinIOAccessKey   = "minio-access-key"
	SeedMinIOSecretKey   = "minio-secret-key"
	SeedRedisPassword    = "redis-password"
	SeedHubProxyToken    = "jupyterhub-proxy-token"
	SeedHubCookieSecret  = "jupyterhub-cookie-secret"
	SeedAuthClientSecret = "auth-client-secret"
	SeedAuthCookieSecret = "auth-cookie-secret"
	// SeedArgoSSOClientSecret and SeedHubOAuthClientSecret are the dex
	// client secrets of the Argo server and JupyterHub (--domain).
	SeedArgoSSOClientSecret  = "argo-sso-client-secret"
	SeedHubOAuthClientSecret = "jupyterhub-oauth-client-secret"
	// SeedHubAdminPassword is JupyterHub's admin password without --domain.
	SeedHubAdminPassword = "jupyterhub-admin-password"
)

// Default returns the built-in catalog: the real components and versions.
func Default() *Catalog {
	gh := func(repo, tag, file string) Source {
		return Source{URL: "https://github.com/" + repo + "/releases/download/" + tag + "/" + file}
	}
	raw := func(repo, ref, path string) Source {
		return Source{URL: "https://raw.githubusercontent.com/" + repo + "/" + ref + "/" + path}
	}
	ns := PlatformNamespace
	c := &Catalog{
		Components: []*Component{
			{
				Name: "namespaces", Version: "v1", Manifests: "namespaces",
				Description: "the platform namespace kubeflow",
				Namespaces:  []string{ns},
			},
			{
				Name: "istio", Version: istioVersion,
				Description: "Istio service mesh and ingress gateway, as released with net-istio",
				Namespaces:  []string{"istio-system"},
				Sources:     []Source{gh("knative/net-istio", istioVersion, "istio.yaml")},
				Ready: Readiness{
					Deployments: []string{"istio-system/istiod", "istio-system/istio-ingressgateway"},
					CRDs:        []string{"gateways.networking.istio.io", "virtualservices.networking.istio.io"},
				},
			},
			{
				Name: "knative-serving", Version: knativeVersion, Manifests: "knative-serving",
				Description: "Knative Serving: model services with scale to zero and canary traffic",
				Namespaces:  []string{"knative-serving"},
				Sources: []Source{
					gh("knative/serving", knativeVersion, "serving-crds.yaml"),
					gh("knative/serving", knativeVersion, "serving-core.yaml"),
				},
				Ready: Readiness{
					Deployments: []string{"knative-serving/activator", "knative-serving/autoscaler", "knative-serving/controller", "knative-serving/webhook"},
					CRDs:        []string{"services.serving.knative.dev", "revisions.serving.knative.dev", "routes.serving.knative.dev", "configurations.serving.knative.dev"},
				},
			},
			{
				Name: "kourier", Version: knativeNetworkingVersion,
				Description: "Kourier, the light networking layer of Knative Serving",
				Namespaces:  []string{"kourier-system", "knative-serving"},
				DependsOn:   []string{"knative-serving"},
				Sources:     []Source{gh("knative/net-kourier", knativeNetworkingVersion, "kourier.yaml")},
				Ready: Readiness{
					Deployments: []string{"kourier-system/3scale-kourier-gateway", "knative-serving/net-kourier-controller"},
				},
			},
			{
				Name: "net-istio", Version: knativeNetworkingVersion,
				Description: "the Istio networking layer of Knative Serving",
				Namespaces:  []string{"knative-serving"},
				DependsOn:   []string{"knative-serving", "istio"},
				Sources:     []Source{gh("knative/net-istio", knativeNetworkingVersion, "net-istio.yaml")},
				Ready: Readiness{
					Deployments: []string{"knative-serving/net-istio-controller", "knative-serving/net-istio-webhook"},
				},
			},
			{
				Name: "argo-workflows", Version: argoVersion, Manifests: "argo-workflows",
				Description: "Argo Workflows runs pipelines; its server UI is the pipeline UI",
				Namespaces:  []string{"argo"},
				Sources:     []Source{gh("argoproj/argo-workflows", argoVersion, "install.yaml")},
				// The workflow controller's default executor: every step's pod runs it.
				Images:    []string{argoExecutorImage},
				pinImages: pinArgoExecutor,
				Ready: Readiness{
					Deployments: []string{"argo/workflow-controller", "argo/argo-server"},
					CRDs:        []string{"workflows.argoproj.io", "workflowtemplates.argoproj.io", "cronworkflows.argoproj.io"},
				},
				Seeds:    []Seed{{Key: SeedArgoSSOClientSecret, Secret: "argo/" + argoSSOSecret, Field: "client-secret"}},
				generate: generateArgo,
				mutate:   mutateArgo,
			},
			{
				Name: "minio", Version: "RELEASE.2025-04-22T22-12-26Z", Manifests: "minio",
				Description: "MinIO object storage: the model center and JuiceFS data",
				Namespaces:  []string{ns},
				DependsOn:   []string{"namespaces"},
				Ready:       Readiness{Deployments: []string{ns + "/minio"}},
				Seeds: []Seed{
					{Key: SeedMinIOAccessKey, Secret: ns + "/minio-credentials", Field: "accesskey"},
					{Key: SeedMinIOSecretKey, Secret: ns + "/minio-credentials", Field: "secretkey"},
				},
				generate: generateMinIO,
			},
			{
				Name: "redis", Version: "7.4.2", Manifests: "redis",
				Description: "Redis for JuiceFS metadata (skipped with --redis-url)",
				Namespaces:  []string{ns},
				DependsOn:   []string{"namespaces"},
				Ready:       Readiness{StatefulSets: []string{ns + "/redis"}},
				Seeds:       []Seed{{Key: SeedRedisPassword, Secret: ns + "/redis-credentials", Field: "password"}},
				generate:    generateRedis,
			},
			{
				Name: "juicefs-csi", Version: juicefsCSIVersion,
				Description: "the JuiceFS CSI driver (csi.juicefs.com) that mounts data-center and task-center",
				Namespaces:  []string{"kube-system"},
				Sources:     []Source{raw("juicedata/juicefs-csi-driver", juicefsCSIVersion, "deploy/k8s.yaml")},
				Ready: Readiness{
					StatefulSets: []string{"kube-system/juicefs-csi-controller"},
					DaemonSets:   []string{"kube-system/juicefs-csi-node"},
				},
			},
			{
				Name: "paddle-operator", Version: paddleOperatorVersion[:12], Manifests: "paddle-operator",
				Description: "paddle-operator: PaddleJob, SampleSet and SampleJob controllers",
				Namespaces:  []string{"paddle-system"},
				DependsOn:   []string{"namespaces"},
				Sources: []Source{
					raw("PaddleFlow/paddle-operator", paddleOperatorVersion, "deploy/v1/crd.yaml"),
					raw("PaddleFlow/paddle-operator", paddleOperatorVersion, "deploy/v1/operator.yaml"),
					raw("PaddleFlow/paddle-operator", paddleOperatorVersion, "deploy/extensions/controllers.yaml"),
				},
				Ready: Readiness{
					Deployments: []string{"paddle-system/paddle-controller-manager", "paddle-system/paddle-sampleset-manager", "paddle-system/paddle-samplejob-manager"},
					CRDs:        []string{"paddlejobs.batch.paddlepaddle.org", "samplesets.batch.paddlepaddle.org", "samplejobs.batch.paddlepaddle.org"},
				},
			},
			{
				Name: "jupyterhub", Version: jupyterhubVersion, Manifests: "jupyterhub",
				Description: "JupyterHub notebooks, rendered from its Helm chart",
				Namespaces:  []string{"jhub"},
				Sources: []Source{{
					URL: "https://hub.jupyter.org/helm-chart/jupyterhub-" + jupyterhubVersion + ".tgz",
					Chart: &Chart{Release: "jupyterhub", Namespace: "jhub", Values: map[string]any{
						"proxy":      map[string]any{"service": map[string]any{"type": "ClusterIP"}},
						"prePuller":  map[string]any{"hook": map[string]any{"enabled": false}, "continuous": map[string]any{"enabled": false}},
						"scheduling": map[string]any{"userScheduler": map[string]any{"enabled": false}},
					}},
				}},
				Ready: Readiness{Deployments: []string{"jhub/hub", "jhub/proxy"}},
				Seeds: []Seed{
					{Key: SeedHubProxyToken, Secret: "jhub/hub", Field: "hub.config.ConfigurableHTTPProxy.auth_token"},
					{Key: SeedHubCookieSecret, Secret: "jhub/hub", Field: "hub.config.JupyterHub.cookie_secret"},
					{Key: SeedHubAdminPassword, Secret: "jhub/" + hubAdminSecret, Field: "password"},
					{Key: SeedHubOAuthClientSecret, Secret: "auth/auth-secrets", Field: "jupyterhub-client-secret"},
				},
				generate: generateJupyterHub,
			},
			{
				Name: "prerequisites", Version: "v1", Manifests: "prerequisites",
				Description: "Secrets data-center and task-center, StorageClass task-center",
				Namespaces:  []string{ns},
				DependsOn:   []string{"namespaces", "minio", "redis", "juicefs-csi"},
				Ready:       Readiness{},
				Seeds: []Seed{
					{Key: SeedMinIOAccessKey, Secret: ns + "/data-center", Field: "access-key"},
					{Key: SeedMinIOSecretKey, Secret: ns + "/data-center", Field: "secret-key"},
					{Key: SeedRedisPassword, Secret: ns + "/data-center", Field: "metaurl", URLPassword: true},
				},
				generate: generatePrerequisites,
			},
			{
				Name: "auth", Version: "dex-v2.42.0-oauth2-proxy-v7.8.1", Manifests: "auth",
				Description: "dex (OpenID Connect) and oauth2-proxy for the multi-tenant profile",
				Namespaces:  []string{"auth"},
				DependsOn:   []string{"istio"},
				Ready:       Readiness{Deployments: []string{"auth/dex", "auth/oauth2-proxy"}},
				Seeds: []Seed{
					{Key: SeedAuthClientSecret, Secret: "auth/auth-secrets", Field: "client-secret"},
					{Key: SeedAuthCookieSecret, Secret: "auth/auth-secrets", Field: "cookie-secret"},
					{Key: SeedArgoSSOClientSecret, Secret: "auth/auth-secrets", Field: "argo-client-secret"},
					{Key: SeedHubOAuthClientSecret, Secret: "auth/auth-secrets", Field: "jupyterhub-client-secret"},
				},
				generate: generateAuth,
				mutate:   mutateAuth,
			},
			{
				// No tenant and no password by default: `paddlex tenant
				// add` makes each user; this is the role they are bound to.
				Name: "tenants", Version: "v1", Manifests: "tenants",
				Description: "the ClusterRole tenants are bound to in their namespace; paddlex tenant add makes the tenants",
				DependsOn:   []string{"prerequisites", "auth"},
			},
		},
		Profiles: map[string][]string{
			ProfileStandalone: {"namespaces", "knative-serving", networkingSlot, "argo-workflows", "minio", "redis",
				"juicefs-csi", "paddle-operator", "jupyterhub", "prerequisites"},
			ProfileFull: {"namespaces", "istio", "knative-serving", networkingSlot, "argo-workflows", "minio", "redis",
				"juicefs-csi", "paddle-operator", "jupyterhub", "prerequisites", "auth", "tenants"},
		},
		Networking: map[string][]string{
			NetworkingKourier: {"kourier"},
			NetworkingIstio:   {"istio", "net-istio"},
		},
		DefaultNetworking: map[string]string{ProfileStandalone: NetworkingKourier, ProfileFull: NetworkingIstio},
	}
	c.Pin(checksums)
	for _, comp := range c.Components {
		if comp.Name == "knative-serving" {
			comp.mutate = mutateKnativeNetworking
		}
		if comp.Name == "jupyterhub" {
			comp.chartValues = jupyterhubValues
		}
	}
	return c
}
