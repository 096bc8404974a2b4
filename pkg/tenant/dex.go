package tenant

import (
	"encoding/base32"
	"encoding/base64"
	"hash/fnv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// DexPasswordGVK is the kind dex's Kubernetes storage keeps its password
// database in; the install's dex enables that database and creates no
// user of its own.
var DexPasswordGVK = schema.GroupVersionKind{Group: "dex.coreos.com", Version: "v1", Kind: "Password"}

// DexNamespace is where the install runs dex.
const DexNamespace = "auth"

// dexNames spells object names as dex's Kubernetes storage does.
var dexNames = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567")

// DexPasswordName is the name dex gives the Password object of email: the
// lowercase address with FNV-64's empty sum appended, in lowercase base32.
// Dex looks the user up by this name, so it must match dex's own.
func DexPasswordName(email string) string {
	return strings.TrimRight(dexNames.EncodeToString(fnv.New64().Sum([]byte(strings.ToLower(email)))), "=")
}

// RenderDexPassword returns dex's password entry for email with a bcrypt
// hash; only the hash is stored, never the password. Dex's field is bytes,
// which JSON spells in base64.
func RenderDexPassword(email string, bcryptHash []byte) *unstructured.Unstructured {
	e := strings.ToLower(email)
	u := &unstructured.Unstructured{Object: map[string]any{
		"email":    e,
		"hash":     base64.StdEncoding.EncodeToString(bcryptHash),
		"username": strings.SplitN(e, "@", 2)[0],
		"userID":   DexPasswordName(e),
	}}
	u.SetGroupVersionKind(DexPasswordGVK)
	u.SetName(DexPasswordName(e))
	u.SetNamespace(DexNamespace)
	u.SetLabels(map[string]string{kube.LabelManagedBy: kube.ManagedByValue, LabelTenant: "true"})
	return u
}
