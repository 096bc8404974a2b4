// Package validate checks user input (names, actions) and reports bad input
// as exit-2 errors that name the flag or field. It is a leaf package shared by
// the domain packages and the command layer.
package validate

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Action checks an action named by --action or a spec file's action key.
func Action(field, action string) error {
	switch action {
	case paddle.ActionCreate, paddle.ActionApply, paddle.ActionPatch, paddle.ActionDelete:
		return nil
	}
	return exit.UsageErrorf("%s: unknown action %q: use create, apply, patch or delete", field, action)
}

// Name checks a DNS-1123 label, for names that become part of other names.
func Name(field, name string) error {
	if name == "" {
		return exit.UsageErrorf("%s is required", field)
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return exit.UsageErrorf("%s %q is not a valid name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}

// Subdomain checks a DNS-1123 subdomain, as object names allow.
func Subdomain(field, name string) error {
	if name == "" {
		return exit.UsageErrorf("%s is required", field)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return exit.UsageErrorf("%s %q is not a valid name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}
