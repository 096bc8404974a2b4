// Package install knows the components of the PaddlePaddle platform: where
// each comes from (pinned upstream release artifacts and our own manifests),
// what it depends on and how to tell that it is ready. It fetches and
// verifies artifacts, renders components into objects, and applies, checks
// and removes them through the engine.
package install

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Labels every installed object carries besides part-of and managed-by.
const (
	// LabelComponent names the catalog component an object belongs to. It is
	// paddlex's own key: upstream manifests use app.kubernetes.io/component
	// for their own meaning.
	LabelComponent = "paddlex.io/component"
	// LabelVersion is the component version the object was installed from.
	LabelVersion = "paddlex.io/version"
	// LabelData marks objects that hold data (credentials, volumes):
	// uninstall keeps them unless --purge.
	LabelData = "paddlex.io/data"
	// LabelCopyOf marks a copy of a platform Secret in another namespace
	// (install --secret-namespace) with NAMESPACE.NAME of the original:
	// uninstall deletes copies even when it keeps data, as the original
	// keeps the values.
	LabelCopyOf = "paddlex.io/copy-of"
	// PartOf is the value of app.kubernetes.io/part-of.
	PartOf = "paddlex"
)

// Profiles.
const (
	ProfileStandalone = "standalone"
	ProfileFull       = "full"
)

// Networking layers for Knative Serving.
const (
	NetworkingKourier = "kourier"
	NetworkingIstio   = "istio"
)

// networkingSlot in a profile stands for the networking layer's components.
const networkingSlot = "$networking"

// Source is one upstream release artifact.
type Source struct {
	// URL is the pinned artifact: a release download, a raw file at a tag or
	// commit, or a chart archive. In catalog files, a relative path or a
	// file:// URL names a local file.
	URL string `json:"url"`
	// SHA256 is the artifact's checksum, hex. Empty means the catalog
	// records none, and the download is not verified.
	SHA256 string `json:"sha256,omitempty"`
	// Chart, when set, renders the artifact as a Helm chart archive.
	Chart *Chart `json:"chart,omitempty"`
}

// Chart says how a chart archive is rendered.
type Chart struct {
	// Release is the release name the templates see.
	Release string `json:"release"`
	// Namespace is where namespaced objects without one go.
	Namespace string `json:"namespace"`
	// Values override the chart's values.
	Values map[string]any `json:"values,omitempty"`
}

// FileName is the artifact's file name: the URL's last path element.
func (s Source) FileName() string {
	u := strings.TrimSuffix(s.URL, "/")
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndex(u, "/")+1:]
}

// Readiness names what must be ready for a component to count as ready,
// besides every Deployment, StatefulSet, DaemonSet and Job it renders.
type Readiness struct {
	// Deployments, StatefulSets, DaemonSets and Jobs are "namespace/name".
	Deployments  []string `json:"deployments,omitempty"`
	StatefulSets []string `json:"statefulSets,omitempty"`
	DaemonSets   []string `json:"daemonSets,omitempty"`
	Jobs         []string `json:"jobs,omitempty"`
	// CRDs are CustomResourceDefinition names that must be Established.
	CRDs []string `json:"crds,omitempty"`
}

// Seed is a generated secret value (a password, a token) that a component
// stores in a Secret field, so a re-run reads it back instead of making a
// new one.
type Seed struct {
	// Key names the value in Settings.Secrets.
	Key string `json:"key"`
	// Secret is "namespace/name" and Field the key in its data.
	Secret string `json:"secret"`
	Field  string `json:"field"`
	// URLPassword says the field holds a URL whose password is the value.
	URLPassword bool `json:"urlPassword,omitempty"`
}

// Component is one entry of the catalog.
type Component struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Namespaces  []string `json:"namespaces,omitempty"`
	DependsOn   []string `json:"dependsOn,omitempty"`
	// Sources are upstream artifacts, rendered in order.
	Sources []Source `json:"sources,omitempty"`
	// Manifests names a directory of the embedded manifests/ tree: our own
	// YAML and kustomize patches over the sources.
	Manifests string    `json:"manifests,omitempty"`
	Ready     Readiness `json:"ready,omitempty"`
	// Seeds are the generated values this component stores.
	Seeds []Seed `json:"seeds,omitempty"`
	// Images are images the component runs that its manifests do not name
	// (a controller's built-in default, such as Argo's executor).
	Images []string `json:"images,omitempty"`
	// Omitted says why the component is not part of any profile, for the docs.
	Omitted string `json:"omitted,omitempty"`

	// generate adds objects computed from the settings (Secrets).
	generate func(Settings) ([]*unstructured.Unstructured, error)
	// mutate adjusts the rendered objects to the settings.
	mutate func(Settings, []*unstructured.Unstructured) error
	// chartValues adds chart values computed from the settings.
	chartValues func(Settings) map[string]any
	// pinImages writes the Images a controller runs by default into the
	// objects, for --image-registry to move them.
	pinImages func([]*unstructured.Unstructured) error
}

// Catalog is the set of components and the profiles that group them.
type Catalog struct {
	Components []*Component `json:"components"`
	// Profiles list component names; "$networking" stands for the
	// networking layer chosen with --networking.
	Profiles map[string][]string `json:"profiles"`
	// Networking maps a networking layer to its components.
	Networking map[string][]string `json:"networking,omitempty"`
	// DefaultNetworking is the layer per profile.
	DefaultNetworking map[string]string `json:"defaultNetworking,omitempty"`

	// dir resolves relative source paths of a catalog file.
	dir string
}

// Component returns the named component, or nil.
func (c *Catalog) Component(name string) *Component {
	for _, comp := range c.Components {
		if comp.Name == name {
			return comp
		}
	}
	return nil
}

// Names lists the component names in catalog order.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.Components))
	for i, comp := range c.Components {
		out[i] = comp.Name
	}
	return out
}

// ProfileNames lists the profiles, sorted.
func (c *Catalog) ProfileNames() []string {
	var out []string
	for p := range c.Profiles {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// Validate checks that names are unique and dependencies exist.
func (c *Catalog) Validate() error {
	seen := map[string]bool{}
	for _, comp := range c.Components {
		if comp.Name == "" {
			return fmt.Errorf("catalog: a component has no name")
		}
		if seen[comp.Name] {
			return fmt.Errorf("catalog: component %s listed twice", comp.Name)
		}
		seen[comp.Name] = true
	}
	for _, comp := range c.Components {
		for _, d := range comp.DependsOn {
			if !seen[d] {
				return fmt.Errorf("catalog: component %s depends on unknown component %s", comp.Name, d)
			}
		}
		for _, s := range comp.Sources {
			if s.URL == "" {
				return fmt.Errorf("catalog: component %s has a source without url", comp.Name)
			}
			if s.SHA256 != "" && !sha256Hex.MatchString(s.SHA256) {
				return fmt.Errorf("catalog: component %s: source %s: sha256 must be 64 hex digits", comp.Name, s.URL)
			}
		}
	}
	for p, names := range c.Profiles {
		for _, n := range names {
			if n != networkingSlot && !seen[n] {
				return fmt.Errorf("catalog: profile %s names unknown component %s", p, n)
			}
		}
	}
	for layer, names := range c.Networking {
		for _, n := range names {
			if !seen[n] {
				return fmt.Errorf("catalog: networking %s names unknown component %s", layer, n)
			}
		}
	}
	_, err := c.order(c.Components)
	return err
}

// Selection chooses the components of one install.
type Selection struct {
	Profile    string
	Networking string
	// Components, when set, are installed exactly (no profile, no
	// dependencies pulled in).
	Components []string
	Skip       []string
	// ExternalRedis drops the in-cluster Redis.
	ExternalRedis bool
}

// Plan returns the selected components in dependency order. A profile pulls
// in the dependencies of its components; --components installs exactly what
// it names.
func (c *Catalog) Plan(sel Selection) ([]*Component, error) {
	var names []string
	if len(sel.Components) > 0 {
		names = sel.Components
	} else {
		list, ok := c.Profiles[sel.Profile]
		if !ok {
			return nil, fmt.Errorf("--profile: unknown profile %q: use one of %s", sel.Profile, strings.Join(c.ProfileNames(), ", "))
		}
		netw := sel.Networking
		if netw == "" {
			netw = c.DefaultNetworking[sel.Profile]
		}
		for _, n := range list {
			if n != networkingSlot {
				names = append(names, n)
				continue
			}
			layer, ok := c.Networking[netw]
			if !ok {
				return nil, fmt.Errorf("--networking: unknown networking layer %q", netw)
			}
			names = append(names, layer...)
		}
		if sel.ExternalRedis {
			names = remove(names, "redis")
		}
	}
	for _, n := range sel.Components {
		if c.Component(n) == nil {
			return nil, fmt.Errorf("--components: unknown component %q: the catalog has %s", n, strings.Join(c.Names(), ", "))
		}
	}
	picked := map[string]bool{}
	for _, n := range names {
		if c.Component(n) == nil {
			return nil, fmt.Errorf("unknown component %q: the catalog has %s", n, strings.Join(c.Names(), ", "))
		}
		picked[n] = true
	}
	skip := map[string]bool{}
	for _, n := range sel.Skip {
		if c.Component(n) == nil {
			return nil, fmt.Errorf("--skip: unknown component %q: the catalog has %s", n, strings.Join(c.Names(), ", "))
		}
		skip[n] = true
	}
	if len(sel.Components) == 0 {
		// Pull in dependencies, transitively.
		for changed := true; changed; {
			changed = false
			for n := range picked {
				for _, d := range c.Component(n).DependsOn {
					if !picked[d] && !skip[d] && !(sel.ExternalRedis && d == "redis") {
						picked[d], changed = true, true
					}
				}
			}
		}
	}
	var comps []*Component
	for _, comp := range c.Components {
		if picked[comp.Name] && !skip[comp.Name] {
			comps = append(comps, comp)
		}
	}
	return c.order(comps)
}

// order sorts comps so each comes after its dependencies, keeping catalog
// order otherwise; dependencies outside comps are ignored.
func (c *Catalog) order(comps []*Component) ([]*Component, error) {
	in := map[string]bool{}
	for _, comp := range comps {
		in[comp.Name] = true
	}
	done := map[string]bool{}
	var out []*Component
	for len(out) < len(comps) {
		progress := false
		for _, comp := range comps {
			if done[comp.Name] {
				continue
			}
			ready := true
			for _, d := range comp.DependsOn {
				if in[d] && !done[d] {
					ready = false
				}
			}
			if ready {
				done[comp.Name] = true
				out = append(out, comp)
				progress = true
				break
			}
		}
		if !progress {
			var left []string
			for _, comp := range comps {
				if !done[comp.Name] {
					left = append(left, comp.Name)
				}
			}
			return nil, fmt.Errorf("catalog: dependency cycle among %s", strings.Join(left, ", "))
		}
	}
	return out, nil
}

func remove(list []string, name string) []string {
	var out []string
	for _, n := range list {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// catalogFile is the shape of a catalog file. A component entry with only
// builtin set copies that component from the built-in catalog.
type catalogFile struct {
	Components []struct {
		Component `json:",inline"`
		Builtin   string `json:"builtin,omitempty"`
	} `json:"components"`
	Profiles          map[string][]string `json:"profiles"`
	Networking        map[string][]string `json:"networking,omitempty"`
	DefaultNetworking map[string]string   `json:"defaultNetworking,omitempty"`
	// Pins are sha256 checksums by source URL (`paddlex install catalog
	// pin` prints them), for built-in and listed components alike.
	Pins map[string]string `json:"pins,omitempty"`
}

// LoadCatalog reads a catalog file (YAML). Relative source paths resolve
// against the file's directory.
func LoadCatalog(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f catalogFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	builtin := Default()
	builtinDeps := map[string]bool{}
	c := &Catalog{Profiles: f.Profiles, Networking: f.Networking, DefaultNetworking: f.DefaultNetworking, dir: abs}
	for _, e := range f.Components {
		if e.Builtin != "" {
			b := builtin.Component(e.Builtin)
			if b == nil {
				return nil, fmt.Errorf("%s: no built-in component %q", path, e.Builtin)
			}
			cp := *b
			cp.Sources = append([]Source(nil), b.Sources...)
			if e.DependsOn != nil {
				cp.DependsOn = e.DependsOn
			} else {
				builtinDeps[e.Builtin] = true
			}
			c.Components = append(c.Components, &cp)
			continue
		}
		comp := e.Component
		c.Components = append(c.Components, &comp)
	}
	// A built-in component keeps the dependencies this catalog also has.
	for _, comp := range c.Components {
		if builtinDeps[comp.Name] {
			var deps []string
			for _, d := range comp.DependsOn {
				if c.Component(d) != nil {
					deps = append(deps, d)
				}
			}
			comp.DependsOn = deps
		}
	}
	c.Pin(f.Pins)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Pin sets the sha256 of every source whose URL pins names.
func (c *Catalog) Pin(pins map[string]string) {
	for _, comp := range c.Components {
		for i := range comp.Sources {
			if sum, ok := pins[comp.Sources[i].URL]; ok {
				comp.Sources[i].SHA256 = strings.ToLower(sum)
			}
		}
	}
}

// Unpinned lists the URLs of comps' sources without a recorded sha256.
func Unpinned(comps []*Component) []string {
	var out []string
	for _, comp := range comps {
		for _, s := range comp.Sources {
			if s.SHA256 == "" {
				out = append(out, s.URL)
			}
		}
	}
	return out
}

// Dir is the directory relative source paths resolve against.
func (c *Catalog) Dir() string { return c.dir }
