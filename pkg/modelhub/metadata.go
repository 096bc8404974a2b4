package modelhub

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Metadata is the record stored as <model>/<version>/model.json beside each
// archive. A tag (such as latest) is a copy of a version's archive whose
// record names that version in TagOf.
type Metadata struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	// SHA256 is the hex digest of the archive.
	SHA256 string `json:"sha256"`
	// Size is the archive's size in bytes.
	Size int64 `json:"size"`
	// Created is when the version was pushed.
	Created time.Time `json:"created"`
	// Source says where the archive came from: a training run, a PVC path
	// (pvc://PVC/PATH) or a local file (file://PATH).
	Source string `json:"source,omitempty"`
	// Framework is the Paddle suite or framework, e.g. PaddleOCR.
	Framework string `json:"framework,omitempty"`
	// Labels are free-form key=value labels.
	Labels map[string]string `json:"labels,omitempty"`
	// TagOf is the version a tag points to; empty for a version.
	TagOf string `json:"tag_of,omitempty"`
}

// Marshal returns the record as stored: indented JSON ending in a newline.
func (m *Metadata) Marshal() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// ParseMetadata reads a stored record.
func ParseMetadata(data []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("model.json: %w", err)
	}
	return &m, nil
}

// Ref names one version of a model, written MODEL:VERSION.
type Ref struct {
	Model, Version string
}

func (r Ref) String() string { return r.Model + ":" + r.Version }

// ParseRef parses MODEL[:VERSION]; the version defaults to latest. field
// names the argument in errors.
func ParseRef(field, s string) (Ref, error) {
	model, version, found := strings.Cut(s, ":")
	if !found || version == "" {
		version = DefaultVersion
	}
	r := Ref{Model: model, Version: version}
	if err := ValidateModel(field+": model", r.Model); err != nil {
		return r, err
	}
	if err := ValidateVersion(field+": version", r.Version); err != nil {
		return r, err
	}
	return r, nil
}

// ValidateModel checks a model name: it becomes an object key segment, a
// file name and part of Kubernetes names, so it is a DNS-1123 label.
func ValidateModel(field, name string) error {
	return validate.Name(field, name)
}

// ValidateVersion checks a version or tag: letters, digits, '.', '_' and
// '-', starting with a letter or digit, at most 128 characters, as
// container tags.
func ValidateVersion(field, v string) error {
	if v == "" {
		return exit.UsageErrorf("%s is required", field)
	}
	ok := len(v) <= 128 && isAlnum(v[0])
	for i := 0; ok && i < len(v); i++ {
		c := v[i]
		ok = isAlnum(c) || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return exit.UsageErrorf("%s %q is not a valid version: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128 characters)", field, v)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ParseLabels parses KEY=VALUE labels; keys are Kubernetes label keys.
func ParseLabels(field string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, exit.UsageErrorf("%s %q: write labels as KEY=VALUE", field, kv)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, exit.UsageErrorf("%s %q: invalid key: %s", field, kv, strings.Join(errs, "; "))
		}
		out[k] = v
	}
	return out, nil
}
