"""The kubernetes target through the real engine: Pulumi CLI, its providers and a local control plane.

The tests run in file order on one stack (`e2e`): up of the LTS release, what the cluster admitted,
secrets in the state, previews of a size change and (when the release table exists) of an upgrade,
the policy pack, then `python -m rollout` up and `--destroy`."""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
from datetime import datetime
from typing import Any, Optional

import pytest

from tests.e2e.conftest import NAMESPACE, REPO, STACK

pytestmark = pytest.mark.e2e

STATEFUL = ("kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:PersistentVolumeClaim")
SECRET = "kubernetes:core/v1:Secret"
DESTRUCTIVE = {"replace", "create-replacement", "delete-replaced", "delete", "discard"}
CLAIMS = ("postgres-data-postgres-0", "object-store-data-object-store-0", "redis-data-redis-0")


SANDBOX_NAMESPACE = f"{NAMESPACE}-sandbox"
NAMESPACES = (NAMESPACE, SANDBOX_NAMESPACE)


def releases() -> Any:
    return importlib.import_module("components.dify.releases")


def lts_version() -> str:
    return releases().LTS_VERSION


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def workloads(kube) -> dict[str, list[dict]]:
    """Dify's objects in both namespaces (the code sandboxes run in the baseline one)."""
    def each(api: str, kind: str) -> list[dict]:
        return [o for ns in NAMESPACES for o in kube.items(f"{api}/namespaces/{ns}/{kind}")]

    return {
        "deployments": each("/apis/apps/v1", "deployments"),
        "statefulsets": each("/apis/apps/v1", "statefulsets"),
        "jobs": each("/apis/batch/v1", "jobs"),
        "pods": each("/api/v1", "pods"),
        "claims": each("/api/v1", "persistentvolumeclaims"),
        "secrets": each("/api/v1", "secrets"),
    }


def name_of(obj: dict) -> Optional[str]:
    return (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/name")


def by_component(objs: list[dict]) -> dict[str, dict]:
    """Objects by their name without the content/auto-name suffix, e.g. api, postgres."""
    out = {}
    for o in objs:
        labels = o["metadata"].get("labels") or {}
        key = labels.get("app.kubernetes.io/name") or o["metadata"]["name"]
        out[key] = o
    return out


def steps_of(preview: dict) -> list[tuple[str, str, str]]:
    """(op, type, urn name) of every planned step that is not `same`."""
    out = []
    for step in preview.get("steps", []):
        op = step.get("op")
        if op == "same":
            continue
        urn = step.get("urn", "")
        typ = (step.get("newState") or step.get("oldState") or {}).get("type") or urn.split("::")[-2]
        out.append((op, typ, urn.split("::")[-1]))
    return out


DATA_SECRETS = tuple(f"-{d}-{kind}" for d in ("postgres", "redis", "object-store") for kind in ("env", "files"))


def destructive_data_steps(steps: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Replacements or deletions of claims, StatefulSets and the data services' Secrets (their passwords).
    The Dify services' own Secrets are immutable and content-named: new content is a new Secret."""
    return [s for s in steps if s[0] in DESTRUCTIVE
            and (s[1] in STATEFUL or (s[1] == SECRET and s[2].endswith(DATA_SECRETS)))]


@pytest.fixture(scope="module")
def state() -> dict:
    return {}


def test_up_of_the_lts_release(pulumi, cluster, state):
    version = lts_version()
    pulumi.config({"dify-deploy:dify.version": version})
    up = pulumi.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=1200)
    state["up_seconds"] = round(up.seconds)
    out = pulumi.json("stack", "output", "--stack", STACK)

    assert out["difyVersion"] == version
    assert out["namespace"] == NAMESPACE
    assert out["size"] == "dev"
    # The stand-in ingress controller wrote 127.0.0.1 into the Ingress's status.
    assert out["entryAddress"] == "127.0.0.1"
    assert out["difyUrl"] == "http://127.0.0.1"
    assert out["installUrl"] == "http://127.0.0.1/install"
    assert any(i.endswith(f"langgenius/dify-api:{version}") for i in out["images"]), out["images"]
    assert any(i.endswith(f"langgenius/dify-web:{version}") for i in out["images"]), out["images"]
    assert {"postgres", "redis", "api", "web", "nginx"} <= set(out["internalEndpoints"])

    w = workloads(cluster.kube)
    deployments = by_component(w["deployments"])
    assert {"api", "worker", "beat", "web", "sandbox", "plugin-daemon", "ssrf-proxy", "nginx"} <= set(deployments)
    for name, d in deployments.items():
        assert d["status"].get("availableReplicas") == d["spec"]["replicas"] == 1, (name, d["status"])
    sets = by_component(w["statefulsets"])
    assert {"postgres", "redis", "object-store"} <= set(sets)
    for name, s in sets.items():
        assert s["status"].get("readyReplicas") == s["spec"]["replicas"], (name, s["status"])
    assert {c["metadata"]["name"] for c in w["claims"]} >= set(CLAIMS)
    assert all(c["status"]["phase"] == "Bound" for c in w["claims"])

    # The migration Job completed before any api, worker or beat pod was created.
    jobs = [j for j in w["jobs"] if name_of(j) == "migrate"]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in w["jobs"]]
    job = jobs[0]
    assert job["status"].get("succeeded") == 1, job["status"]
    # (Kubernetes timestamps have one-second resolution.)
    done = when(job["status"]["completionTime"])
    after_job = [p for p in w["pods"] if name_of(p) in ("api", "worker", "beat")]
    assert len(after_job) == 3, [p["metadata"]["name"] for p in after_job]
    for pod in after_job:
        assert when(pod["metadata"]["creationTimestamp"]) >= done, (pod["metadata"]["name"], done)
    state["job"] = job["metadata"]["name"]


def test_every_pod_admitted_by_the_namespace_pod_security_level(pulumi, cluster, state):
    kube = cluster.kube
    for namespace, level in ((NAMESPACE, "restricted"), (SANDBOX_NAMESPACE, "baseline")):
        labels = kube.get(f"/api/v1/namespaces/{namespace}")["metadata"]["labels"]
        assert labels.get("pod-security.kubernetes.io/enforce") == level, namespace
        events = kube.items(f"/api/v1/namespaces/{namespace}/events")
        failed = [(e["involvedObject"]["name"], e.get("message")) for e in events if e.get("reason") == "FailedCreate"]
        assert failed == [], namespace
        # Pod Security is enforced by this apiserver: a privileged pod is refused in the namespace.
        with pytest.raises(Exception) as refused:
            kube.request("POST", f"/api/v1/namespaces/{namespace}/pods?dryRun=All", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-privileged"},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                         "securityContext": {"privileged": True}}]}})
        assert "violates PodSecurity" in refused.value.read().decode()
    # A pod that is fine for baseline but not for restricted (root, capabilities kept) is refused in Dify's.
    with pytest.raises(Exception) as refused:
        kube.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-root"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
    assert "violates PodSecurity" in refused.value.read().decode()
    # Each workload's pods exist and run (so none was refused).
    pods = workloads(kube)["pods"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    expected = sum(d["spec"]["replicas"] for d in workloads(kube)["deployments"]) + 3  # + the StatefulSets
    assert len(running) == expected, sorted(p["metadata"]["name"] for p in running)


def test_exported_state_holds_no_generated_secret_in_plaintext(pulumi, cluster):
    plain = pulumi.run("stack", "export", "--stack", STACK).stdout
    shown = json.loads(pulumi.run("stack", "export", "--stack", STACK, "--show-secrets").stdout)
    exported = json.loads(plain)
    resources = shown["deployment"]["resources"]
    # --show-secrets keeps the secret wrapper and puts the JSON-encoded value in "plaintext".
    generated = [json.loads(r["outputs"]["result"]["plaintext"]) for r in resources
                 if r["type"] == "random:index/randomPassword:RandomPassword"]
    # four shared Dify secrets plus the self-hosted PostgreSQL, Redis and object-store credentials
    assert len(generated) >= 6, len(generated)
    assert all(isinstance(v, str) and len(v) >= 16 for v in generated)
    # In the plain export each is ciphertext.
    for r in exported["deployment"]["resources"]:
        if r["type"] == "random:index/randomPassword:RandomPassword":
            assert set(r["outputs"]["result"]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}, r["urn"]
    # What the cluster's Secrets hold (every generated credential as Kubernetes stores it).
    cluster_values = set()
    for s in workloads(cluster.kube)["secrets"]:
        for v in (s.get("data") or {}).values():
            decoded = base64.b64decode(v).decode(errors="replace")
            if len(decoded) >= 12:
                cluster_values.update({v, decoded})
    assert cluster_values, "no Secret in the namespace"
    assert set(generated) <= {x for x in cluster_values}, "a generated value is not in any Secret"
    leaked = [v[:4] + "..." for v in set(generated) | cluster_values if v in plain]
    assert leaked == []


@pytest.fixture(scope="module")
def size_preview(pulumi) -> dict:
    """`pulumi preview --json` of dev -> small (the config is set back afterwards)."""
    pulumi.config({"dify-deploy:size": "small"})
    try:
        return pulumi.json("preview", "--stack", STACK)
    finally:
        pulumi.config({"dify-deploy:size": "dev"})


def replace_reasons(preview: dict, typ: str) -> dict[str, list]:
    return {s["urn"].split("::")[-1]: s.get("replaceReasons") or s.get("diffReasons")
            for s in preview.get("steps", [])
            if s.get("op") in DESTRUCTIVE and (s.get("newState") or s.get("oldState") or {}).get("type") == typ}


def test_preview_of_a_size_change(size_preview):
    steps = steps_of(size_preview)
    updated = {name for op, typ, name in steps if op == "update" and typ == "kubernetes:apps/v1:Deployment"}
    assert any(n.endswith("-api") for n in updated), steps
    assert any(n.endswith("-web") for n in updated), steps
    # Two or more replicas get a PodDisruptionBudget.
    assert any(op == "create" and typ == "kubernetes:policy/v1:PodDisruptionBudget" for op, typ, _ in steps), steps
    # No claim and no Secret (the generated credentials) is replaced or deleted.
    assert [s for s in destructive_data_steps(steps) if s[1] != "kubernetes:apps/v1:StatefulSet"] == []


def test_preview_of_a_size_change_keeps_the_statefulsets_and_grows_the_claims(size_preview):
    """The size presets give the data services larger volumes; StatefulSet claim templates are immutable,
    so the program leaves them and patches the claims instead."""
    assert replace_reasons(size_preview, "kubernetes:apps/v1:StatefulSet") == {}
    patches = {name for op, typ, name in steps_of(size_preview)
               if op == "update" and typ == "kubernetes:core/v1:PersistentVolumeClaimPatch"}
    assert patches == {f"dify-e2e-{c}-claim" for c in ("postgres-data", "redis-data", "object-store-data")}, patches


def test_policy_pack_passes_and_fails_on_a_broken_variant(pulumi):
    ok = pulumi.run("preview", "--stack", STACK, "--policy-pack", "policy", check=False)
    text = ok.stdout + ok.stderr
    assert ok.returncode == 0, text[-4000:]
    assert "dify-gates" in text, text[-4000:]
    # Broken: the config model refuses a plain credential before any gate could see it, so the broken
    # variant is of the program itself: a copy whose containers have no resource limits.
    pods = pulumi.project / "components" / "kubernetes" / "pods.py"
    original = pods.read_text()
    assert '"resources": size.resources.manifest(),' in original
    pods.write_text(original.replace('"resources": size.resources.manifest(),', '"resources": {},'))
    try:
        bad = pulumi.run("preview", "--stack", STACK, "--policy-pack", "policy", check=False)
    finally:
        pods.write_text(original)
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0, text[-4000:]
    assert "kubernetes-resource-limits" in text, text[-4000:]


def test_upgrade_to_the_current_release(pulumi, cluster, state):
    table = releases()
    target = table.DEFAULT_VERSION
    assert target != table.LTS_VERSION and target in table.RELEASES
    pulumi.config({"dify-deploy:dify.version": target})
    preview = pulumi.json("preview", "--stack", STACK)
    steps = steps_of(preview)
    assert destructive_data_steps(steps) == [], steps
    # The migration Job is replaced: the new release's migrations run.
    assert any(op in ("replace", "create-replacement") and typ == "kubernetes:batch/v1:Job" for op, typ, _ in steps), steps
    pulumi.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=1200)
    out = pulumi.json("stack", "output", "--stack", STACK)
    assert out["difyVersion"] == target
    w = workloads(cluster.kube)
    jobs = [j for j in w["jobs"] if name_of(j) == "migrate"]
    new = [j for j in jobs if j["metadata"]["name"] != state.get("job")]
    assert len(new) == 1 and new[0]["status"].get("succeeded") == 1
    done = when(new[0]["status"]["completionTime"])
    api = [p for p in w["pods"] if name_of(p) == "api"]
    assert api and all(when(p["metadata"]["creationTimestamp"]) >= done for p in api)
    assert all(f":{target}" in c["image"] for p in api for c in p["spec"]["containers"] if "dify-api" in c["image"])


def rollout(pulumi, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(REPO / "venv" / "bin" / "python"), "-m", "rollout", "--stack", STACK, "--yes", *args],
                          cwd=pulumi.project, env=pulumi.env, capture_output=True, text=True, timeout=1200,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    return proc


def test_growing_claims_the_storage_class_cannot_expand_stops_with_the_api_servers_reason(pulumi, cluster):
    """The tier's volumes are static (`no-provisioner`): the API server refuses to resize their claims.
    `pulumi up` of a larger size stops there, naming the claim, and leaves claims and StatefulSets as
    they were."""
    kube = cluster.kube
    before = {o["metadata"]["name"]: o["metadata"]["uid"] for o in workloads(kube)["statefulsets"]}
    pulumi.config({"dify-deploy:size": "small"})
    try:
        up = pulumi.run("up", "--yes", "--skip-preview", "--stack", STACK, check=False, timeout=1200)
    finally:
        pulumi.config({"dify-deploy:size": "dev"})
    text = up.stdout + up.stderr
    assert up.returncode != 0, text[-3000:]
    assert "only dynamically provisioned pvc can be resized" in text, text[-3000:]
    assert "postgres-data-postgres-0" in text
    after = workloads(kube)
    assert {o["metadata"]["name"]: o["metadata"]["uid"] for o in after["statefulsets"]} == before
    assert all(c["status"]["phase"] == "Bound" for c in after["claims"])


def test_rollout_up_then_destroy_keeps_namespace_and_claims(pulumi, cluster):
    kube = cluster.kube
    before = workloads(kube)
    uids = {o["metadata"]["name"]: o["metadata"]["uid"] for o in before["statefulsets"] + before["claims"]}

    # The claims stay at their size on this storage class (see the test above).
    pulumi.config({"dify-deploy:kubernetes.growVolumes": "false"})
    up = rollout(pulumi, "--size", "small")
    assert "ok  pulumi: CLI" in up.stdout
    assert "Dify: http://127.0.0.1" in up.stdout, up.stdout[-3000:]
    api = by_component(workloads(kube)["deployments"])["api"]
    assert api["spec"]["replicas"] == 2 and api["status"].get("readyReplicas", 0) >= 2, api["status"]
    after = workloads(kube)
    # Going small keeps the claims and the StatefulSets (the same objects): the data stays.
    claims = {c["metadata"]["name"]: c for c in after["claims"]}
    assert all(claims[c]["metadata"]["uid"] == uids[c] and claims[c]["status"]["phase"] == "Bound" for c in CLAIMS)
    for s in after["statefulsets"]:
        assert s["status"].get("readyReplicas") == s["spec"]["replicas"], s["status"]
        assert s["metadata"]["uid"] == uids[s["metadata"]["name"]], "a StatefulSet was replaced"

    rollout(pulumi, "--destroy")
    namespace = kube.get_or_none(f"/api/v1/namespaces/{NAMESPACE}")
    assert namespace is not None and namespace["status"]["phase"] == "Active"
    left = workloads(kube)
    assert left["deployments"] == [] and left["statefulsets"] == [] and left["jobs"] == []
    kept = {c["metadata"]["name"]: c["metadata"]["uid"] for c in left["claims"]}
    assert set(CLAIMS) <= set(kept) and all(kept[c] == uids[c] for c in CLAIMS)
    export = json.loads(pulumi.run("stack", "export", "--stack", STACK).stdout)
    assert [r["type"] for r in export["deployment"].get("resources") or [] if r["type"] != "pulumi:pulumi:Stack"] == []
