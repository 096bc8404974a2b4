# paddlex: a tenant's notebook server runs in the tenant's own namespace, as
# that namespace's "notebook" service account, which `paddlex tenant add`
# binds to exactly the tenant's rights there and nowhere else. paddlex in the
# notebook then acts in the tenant's namespace with the tenant's rights.
#
# The hub finds the namespace by the e-mail address the user signed in with
# (dex's email claim, JupyterHub's user name), which `paddlex tenant add`
# records on the namespace (annotation paddlex.io/tenant-email). It asks the
# API server with its own service account, which may list namespaces and,
# in a tenant's namespace only, start and stop notebook pods.
#
# PADDLEX_REQUIRE_TENANT is set before this text: True with dex (every user
# must be a tenant), False otherwise (the admin's notebook stays in the
# hub's namespace, with no API access).
import asyncio
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

PADDLEX_TENANT_LABEL = "paddlex.io/tenant"
PADDLEX_TENANT_EMAIL = "paddlex.io/tenant-email"
PADDLEX_NOTEBOOK_ACCOUNT = "notebook"
PADDLEX_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class PaddlexNoTenant(Exception):
    """The signed-in user is no tenant of the platform."""


def paddlex_api_get(path, account_dir=PADDLEX_ACCOUNT_DIR):
    """GET path from the API server with the hub's service account."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = "[" + host + "]"
    with open(os.path.join(account_dir, "token")) as f:
        token = f.read().strip()
    context = ssl.create_default_context(cafile=os.path.join(account_dir, "ca.crt"))
    request = urllib.request.Request(
        "https://%s:%s%s" % (host, os.environ["KUBERNETES_SERVICE_PORT"], path),
        headers={"Authorization": "Bearer " + token, "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response)


class PaddlexHubAccess(Exception):
    """The hub cannot look up tenants."""


def paddlex_tenant_namespace(user, account_dir=PADDLEX_ACCOUNT_DIR):
    """The namespace of the tenant who signs in as user, or None."""
    selector = urllib.parse.quote(PADDLEX_TENANT_LABEL + "=true")
    try:
        namespaces = paddlex_api_get("/api/v1/namespaces?labelSelector=" + selector, account_dir)
    except urllib.error.HTTPError as e:
        raise PaddlexHubAccess(
            "the hub cannot list namespaces to find %s's (HTTP %d %s): "
            "run `paddlex install --components jupyterhub` to give it the ClusterRole paddlex-notebook-hub"
            % (user, e.code, e.reason)
        ) from e
    want = user.strip().lower()
    for ns in namespaces.get("items") or []:
        meta = ns.get("metadata") or {}
        email = (meta.get("annotations") or {}).get(PADDLEX_TENANT_EMAIL, "")
        if email.strip().lower() == want:
            return meta["name"]
    return None


def paddlex_hub_url(account_dir=PADDLEX_ACCOUNT_DIR):
    """The hub's API address from another namespace: its Service by full name."""
    with open(os.path.join(account_dir, "namespace")) as f:
        namespace = f.read().strip()
    return "http://hub.%s.svc:%s" % (namespace, os.environ.get("HUB_SERVICE_PORT", "8081"))


async def paddlex_pre_spawn_hook(spawner):
    user = spawner.user.name
    loop = asyncio.get_running_loop()
    namespace = await loop.run_in_executor(None, paddlex_tenant_namespace, user)
    if namespace is None:
        if PADDLEX_REQUIRE_TENANT:
            raise PaddlexNoTenant(
                "%s is not a tenant of this platform: ask its admin to run `paddlex tenant add %s`" % (user, user)
            )
        spawner.log.info("paddlex: %s is no tenant; the notebook runs in %s without API access", user, spawner.namespace)
        return
    spawner.namespace = namespace
    spawner.service_account = PADDLEX_NOTEBOOK_ACCOUNT
    spawner.automount_service_account_token = True
    spawner.hub_connect_url = paddlex_hub_url()
    spawner.log.info(
        "paddlex: %s's notebook runs in namespace %s as service account %s", user, namespace, PADDLEX_NOTEBOOK_ACCOUNT
    )


c.KubeSpawner.pre_spawn_hook = paddlex_pre_spawn_hook
