"""The `kubernetes` target under mocks: every object it declares is a valid manifest for a pinned
Kubernetes release, and the workloads keep the invariants a cluster operator relies on."""

from __future__ import annotations

import functools
import json
from typing import Any, Iterable

import kubernetes_validate
import kubernetes_validate.utils
import pytest

from components.dify.releases import LTS_VERSION, RELEASES

from tools.mocks import (
    LB_HOSTNAME, Run, generated_passwords, is_secret, manifest, manifests, run_program,
)
from tools.mocks.kubernetes import is_object

K8S_VERSION = "1.33.0"  # the schema kubernetes-validate ships for the oldest minor we support
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBk8MNtlsCertBody\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEk8MNtlsKeyBody\n-----END PRIVATE KEY-----\n"
ACM_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
USER_SECRETS = ("pgPass-Xq81", "redisPass-Zk27", "AKIAK8STEST0000", "s3Secret-Lm93")

EXTERNAL_DATA = {
    "postgres": {"mode": "external", "host": "db.internal", "password": USER_SECRETS[0], "sslMode": "require"},
    "redis": {"mode": "external", "host": "cache.internal", "password": USER_SECRETS[1]},
    "objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-files", "region": "us-east-1",
                      "accessKey": USER_SECRETS[2], "secretKey": USER_SECRETS[3]},
}
EXTERNAL_SECRET_KEYS = ("postgres", "redis", "objectStorage")
PRODUCTION = {
    "size": "production",
    "domain": "dify.example.com",
    **EXTERNAL_DATA,
    "kubernetes": {"namespace": "dify-prod", "loadBalancer": {"cloud": "aws", "certificate": ACM_ARN},
                   "isolation": {"dataCidrs": {"postgres": ["10.20.0.0/24"], "redis": ["10.20.1.0/24"]}}},
}
VARIANTS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "dev": ({}, ()),
    "production": (PRODUCTION, EXTERNAL_SECRET_KEYS),
    "small-self-hosted": ({"size": "small", "kubernetes": {"storageClass": "gp3"}}, ()),
    "nginx-tls": ({"domain": "dify.example.com",
                   "kubernetes": {"tls": {"certificate": PEM_CERT, "key": PEM_KEY}}}, ("kubernetes",)),
    "ingress": ({"domain": "dify.example.com",
                 "kubernetes": {"entry": "ingress", "ingress": {"className": "nginx", "tlsSecret": "dify-tls",
                                                               "annotations": {"a.example/b": "c"}}}}, ()),
    "alicloud-lb": ({"domain": "dify.example.com", "dify": {"pipMirrorUrl": "https://mirrors.aliyun.com/pypi/simple"},
                     "registry": {"mirror": "registry.cn-hangzhou.aliyuncs.com/dify"},
                     "kubernetes": {"loadBalancer": {"cloud": "alicloud", "certificate": "1234567-cn-hangzhou"}}},
                    ()),
}

_RUNS: dict[str, Run] = {}


def variant(name: str) -> Run:
    """One program run per variant for the whole module (each takes about half a second)."""
    if name not in _RUNS:
        overrides, secret_keys = VARIANTS[name]
        _RUNS[name] = run_program("k8s", overrides=overrides, secret_keys=secret_keys)
    return _RUNS[name]


# -- reading manifests ---------------------------------------------------------------------------

def of_kind(run: Run, kind: str) -> list[dict]:
    return [m for m in manifests(run) if m["kind"] == kind]


def named(run: Run, kind: str, name: str) -> dict:
    found = [m for m in of_kind(run, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {[m['metadata']['name'] for m in of_kind(run, kind)]}"
    return found[0]


def workloads(run: Run) -> list[dict]:
    return [m for m in manifests(run) if m["kind"] in ("Deployment", "StatefulSet", "Job")]


def workload_name(m: dict) -> str:
    return m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]


def by_service(run: Run) -> dict[str, dict]:
    return {workload_name(m): m for m in workloads(run)}


def pod(m: dict) -> dict:
    return m["spec"]["template"]["spec"]


def containers(m: dict) -> list[dict]:
    return pod(m)["containers"] + pod(m).get("initContainers", [])


def env_of(m: dict) -> dict[str, dict]:
    return {e["name"]: e for c in containers(m) for e in c.get("env", [])}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# -- schema --------------------------------------------------------------------------------------

# kubernetes-validate re-reads and re-parses the schema files on every call (about 25 ms each);
# the files do not change, so read each once.
_schema_contents = functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)


@pytest.fixture
def cached_schemas(monkeypatch):
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", _schema_contents)


# Custom resources of add-ons (their CRDs ship with the add-on; kubernetes-validate knows only core kinds).
CUSTOM_RESOURCE_GROUPS = ("log.alibabacloud.com/", "keda.sh/")


def assert_valid_objects(run: Run) -> None:
    """Every Kubernetes object the run declared is valid for K8S_VERSION (strict: no unknown fields)."""
    objects = manifests(run)
    assert len(objects) > 20
    errors = []
    for manifest in objects:
        if manifest["apiVersion"].startswith(CUSTOM_RESOURCE_GROUPS):
            continue
        try:
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{manifest['kind']}/{manifest['metadata'].get('name')}: "
                          f"{'.'.join(map(str, exc.path))}: {exc.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_object_is_valid_for_the_pinned_kubernetes_version(name, cached_schemas):
    assert_valid_objects(variant(name))


def test_the_stack_declares_the_expected_objects():
    run = variant("dev")
    kinds = {m["kind"] for m in manifests(run)}
    assert {"Namespace", "Secret", "ConfigMap", "Deployment", "StatefulSet", "Job", "Service",
            "NetworkPolicy"} <= kinds
    deployments = {m["metadata"]["name"] for m in of_kind(run, "Deployment")}
    assert deployments == {"api", "worker", "beat", "web", "sandbox", "plugin-daemon", "ssrf-proxy", "nginx",
                           "api-websocket", "agent-backend", "local-sandbox", "agent-ssrf-proxy"}
    assert {m["metadata"]["name"] for m in of_kind(run, "StatefulSet")} == {"postgres", "redis", "object-store"}
    services = {(m["metadata"]["namespace"], m["metadata"]["name"], m["spec"].get("type")) for m in of_kind(run, "Service")}
    assert services == {
        *{("dify", s, t) for s, t in (("api", "ClusterIP"), ("web", "ClusterIP"), ("plugin-daemon", "ClusterIP"),
                                      ("ssrf-proxy", "ClusterIP"), ("nginx", "LoadBalancer"), ("postgres", "ClusterIP"),
                                      ("redis", "ClusterIP"), ("object-store", "ClusterIP"),
                                      ("api-websocket", "ClusterIP"), ("agent-backend", "ClusterIP"),
                                      ("agent-ssrf-proxy", "ClusterIP"),
                                      ("sandbox", "ExternalName"), ("local-sandbox", "ExternalName"))},
        ("dify-sandbox", "sandbox", "ClusterIP"), ("dify-sandbox", "local-sandbox", "ClusterIP"),
        ("dify-sandbox", "ssrf-proxy", "ExternalName"), ("dify-sandbox", "agent-ssrf-proxy", "ExternalName"),
    }
    aliases = {(m["metadata"]["namespace"], m["metadata"]["name"]): m["spec"]["externalName"]
               for m in of_kind(run, "Service") if m["spec"].get("type") == "ExternalName"}
    assert aliases[("dify", "sandbox")] == "sandbox.dify-sandbox.svc.cluster.local"
    assert aliases[("dify-sandbox", "ssrf-proxy")] == "ssrf-proxy.dify.svc.cluster.local"
    # Cluster-scoped: the namespaces and the stack's PriorityClasses.
    namespaces = {m["metadata"].get("namespace") for m in manifests(run) if m["kind"] not in ("Namespace", "PriorityClass")}
    assert namespaces == {"dify", "dify-sandbox"}
    placed = {m["metadata"]["name"]: m["metadata"]["namespace"] for m in of_kind(run, "Deployment")}
    assert {n for n, ns in placed.items() if ns == "dify-sandbox"} == {"sandbox", "local-sandbox"}
    providers = run.of_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    assert all(r.provider.startswith("urn:") for r in run.resources
               if r.custom and r.typ.startswith("kubernetes:")), "every object goes through the stack's provider"


# -- sizing --------------------------------------------------------------------------------------

def test_dev_runs_one_of_each_without_autoscaling():
    run = variant("dev")
    for m in of_kind(run, "Deployment") + of_kind(run, "StatefulSet"):
        assert m["spec"]["replicas"] == 1, m["metadata"]["name"]
        assert "topologySpreadConstraints" not in pod(m)
    assert not of_kind(run, "HorizontalPodAutoscaler")
    assert not of_kind(run, "PodDisruptionBudget")


def test_small_runs_two_of_the_busy_services_without_autoscaling():
    run = variant("small-self-hosted")
    replicas = {m["metadata"]["name"]: m["spec"]["replicas"] for m in of_kind(run, "Deployment")}
    assert {k for k, v in replicas.items() if v == 2} == {"api", "web", "worker", "nginx"}
    assert {m["metadata"]["name"] for m in of_kind(run, "PodDisruptionBudget")} == {"api", "web", "worker", "nginx"}
    assert not of_kind(run, "HorizontalPodAutoscaler")
    api = named(run, "Deployment", "api")
    assert {c["whenUnsatisfiable"] for c in pod(api)["topologySpreadConstraints"]} == {"ScheduleAnyway"}


def test_production_is_highly_available():
    run = variant("production")
    deployments = {m["metadata"]["name"]: m for m in of_kind(run, "Deployment")}
    # production's worker pools (workers.layout split) each keep two.
    minimum = {"api": 3, "web": 3, "worker-dataset": 2, "worker-workflow": 2, "worker-ops": 2, "sandbox": 2, "plugin-daemon": 2, "nginx": 2, "ssrf-proxy": 2}
    for service, replicas in minimum.items():
        assert deployments[service]["spec"]["replicas"] >= replicas, service
    pdbs = {m["metadata"]["name"]: m for m in of_kind(run, "PodDisruptionBudget")}
    hpas = {m["metadata"]["name"]: m for m in of_kind(run, "HorizontalPodAutoscaler")}
    for service in minimum:
        deployment = deployments[service]
        assert service in pdbs, f"{service} has no PodDisruptionBudget"
        assert pdbs[service]["spec"]["maxUnavailable"] == 1
        assert pdbs[service]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        strategy = deployment["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] in (0, 1)
        spread = {c["topologyKey"]: c for c in pod(deployment)["topologySpreadConstraints"]}
        assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, service
        assert spread["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "DoNotSchedule"
        for constraint in spread.values():
            assert matches(constraint["labelSelector"]["matchLabels"],
                           deployment["spec"]["template"]["metadata"]["labels"])
    api = hpas["api"]["spec"]
    assert (api["minReplicas"], api["maxReplicas"]) == (3, 10)
    assert api["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    for name, hpa in hpas.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"] <= 10
        assert deployments[name]["spec"]["replicas"] == spec["minReplicas"]
    # Beat is a singleton in every preset: one replica, never two during a rollout, no autoscaler.
    beat = deployments["beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" not in hpas and "beat" not in pdbs


def test_every_container_has_requests_and_limits():
    for name in ("dev", "production"):
        for m in workloads(variant(name)):
            for c in containers(m):
                resources = c["resources"]
                assert set(resources) == {"requests", "limits"}, c["name"]
                assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    dev = by_service(variant("dev"))["api"]
    prod = by_service(variant("production"))["api"]
    assert containers(dev)[0]["resources"] != containers(prod)[0]["resources"]


# -- secrets -------------------------------------------------------------------------------------

def _walk(value: Any) -> Iterable[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def assert_secrets_only_in_secrets(run: Run, secret_values: list[str], must_reach: Iterable[str]) -> None:
    """Secret values appear only in Kubernetes Secrets (whose data is a Pulumi secret), no other object
    holds one or a secret input, and each of `must_reach` is in some Secret."""
    found_in_secrets = set()
    for resource in run.resources:
        if not is_object(resource):
            continue
        text = json.dumps(resource.plain)
        if resource.typ == "kubernetes:core/v1:Secret":
            assert is_secret(resource.inputs["stringData"]), f"{resource.name}: stringData is not a secret"
            found_in_secrets |= {s for s in secret_values if s in text}
            continue
        leaked = [s for s in secret_values if s in text]
        assert not leaked, f"{resource.typ} {resource.name} holds a secret value"
        assert not any(is_secret(v) for v in _walk(resource.inputs)), f"{resource.name} has a secret input"
    missing = set(must_reach) - found_in_secrets
    assert not missing, f"secrets that reach no pod through a Secret: {sorted(missing)}"


@pytest.mark.parametrize("name", ["dev", "production", "nginx-tls"])
def test_secret_values_live_only_in_secrets(name):
    run = variant(name)
    secret_values = generated_passwords(run) + list(USER_SECRETS) + ["MIIBk8MNtlsCertBody", "MIIEk8MNtlsKeyBody"]
    assert_secrets_only_in_secrets(run, secret_values, must_reach=generated_passwords(run))


def test_every_secret_env_refers_to_a_secret_key_that_exists():
    run = variant("production")
    secrets = {m["metadata"]["name"]: m for m in of_kind(run, "Secret")}
    refs = 0
    for m in workloads(run):
        for entry in env_of(m).values():
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                assert isinstance(entry.get("value"), str), entry["name"]
                continue
            refs += 1
            assert ref["name"] in secrets, f"{entry['name']} names a missing Secret"
            assert ref["key"] in secrets[ref["name"]]["stringData"]
    assert refs > 20
    # The well-known secret names of the api are all references, never literals.
    api_env = env_of(by_service(run)["api"])
    for key in ("SECRET_KEY", "DB_PASSWORD", "REDIS_PASSWORD", "CELERY_BROKER_URL", "PLUGIN_DAEMON_KEY",
                "CODE_EXECUTION_API_KEY", "INNER_API_KEY_FOR_PLUGIN", "S3_SECRET_KEY", "PGVECTOR_PASSWORD"):
        assert "valueFrom" in api_env[key], key


def test_configuration_files_are_config_maps_and_certificates_are_secrets():
    run = variant("nginx-tls")
    nginx = by_service(run)["nginx"]
    volumes = {v["name"]: v for v in pod(nginx)["volumes"]}
    mounts = {m["mountPath"]: m for m in containers(nginx)[0]["volumeMounts"]}
    assert "configMap" in volumes[mounts["/etc/nginx/conf.d/default.conf"]["name"]]
    for path in ("/etc/nginx/tls/tls.crt", "/etc/nginx/tls/tls.key"):
        assert "secret" in volumes[mounts[path]["name"]], path
    config_maps = {m["metadata"]["name"]: m for m in of_kind(run, "ConfigMap")}
    conf = config_maps[volumes[mounts["/etc/nginx/conf.d/default.conf"]["name"]]["configMap"]["name"]]
    assert "listen 8443 ssl" in conf["data"]["default.conf"]
    squid = by_service(run)["ssrf-proxy"]
    squid_volumes = {v["name"]: v for v in pod(squid)["volumes"]}
    squid_conf = config_maps[squid_volumes["files"]["configMap"]["name"]]["data"]["squid.conf"]
    assert "http_access deny private_dst" in squid_conf
    for config_map in config_maps.values():
        assert config_map["immutable"] is True


# -- wiring --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dev", "production"])
def test_selectors_match_pod_labels(name):
    run = variant(name)
    pods = {m["metadata"]["name"]: m["spec"]["template"]["metadata"]["labels"]
            for m in of_kind(run, "Deployment") + of_kind(run, "StatefulSet")}
    for m in of_kind(run, "Deployment") + of_kind(run, "StatefulSet"):
        assert matches(m["spec"]["selector"]["matchLabels"], pods[m["metadata"]["name"]])
    for kind in ("Service", "PodDisruptionBudget"):
        for m in of_kind(run, kind):
            if m["spec"].get("type") == "ExternalName":
                continue
            selector = m["spec"]["selector"]
            selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
            selected = [w for w, labels in pods.items() if matches(selector, labels)]
            assert selected == [m["metadata"]["name"]], f"{kind}/{m['metadata']['name']} selects {selected}"
    for m in of_kind(run, "HorizontalPodAutoscaler"):
        assert m["spec"]["scaleTargetRef"]["name"] in pods


@pytest.mark.parametrize("name", ["dev", "production", "nginx-tls", "ingress"])
def test_service_ports_map_to_container_ports(name):
    run = variant(name)
    for service in of_kind(run, "Service"):
        if service["spec"].get("type") == "ExternalName":
            continue
        targets = [w for w in workloads(run) if w["kind"] != "Job"
                   and w["metadata"]["namespace"] == service["metadata"]["namespace"]
                   and matches(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]
        assert len(targets) == 1
        ports = [p for c in containers(targets[0]) for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert any(p["name"] == target or p["containerPort"] == target for p in ports), \
                f"service {service['metadata']['name']} port {port['name']} -> {target}"


@pytest.mark.parametrize("name", ["dev", "production"])
def test_probes_hit_ports_that_exist(name):
    probed = set()
    for m in workloads(variant(name)):
        for c in containers(m):
            ports = {p["containerPort"] for p in c.get("ports", [])} | {p["name"] for p in c.get("ports", [])}
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = c.get(kind)
                if probe is None:
                    continue
                handler = probe.get("httpGet") or probe.get("tcpSocket")
                if handler is None:
                    assert probe["exec"]["command"], f"{c['name']} {kind} has no handler"
                    continue
                assert handler["port"] in ports, f"{c['name']} {kind} -> {handler['port']}"
                probed.add(c["name"])
    assert {"api", "web", "sandbox", "plugin-daemon", "ssrf-proxy", "nginx"} <= probed


def test_probes_use_the_real_health_endpoints():
    services = by_service(variant("dev"))
    expected = {"api": "/health", "sandbox": "/health", "plugin-daemon": "/health/check", "web": "/apps",
                "nginx": "/healthz"}
    for service, path in expected.items():
        readiness = containers(services[service])[0]["readinessProbe"]
        assert readiness["httpGet"]["path"] == path, service
    assert "tcpSocket" in containers(services["ssrf-proxy"])[0]["readinessProbe"]
    # Data services are ready when their own check passes: databases and extension, buckets, PONG.
    ready = {name: " ".join(containers(services[name])[0]["readinessProbe"]["exec"]["command"])
             for name in ("postgres", "redis", "object-store")}
    assert "pg_extension" in ready["postgres"] and "dify_plugin" in ready["postgres"]
    assert "/buckets/dify-plugins/" in ready["object-store"]
    assert "PONG" in ready["redis"]
    assert "tcpSocket" in containers(services["postgres"])[0]["livenessProbe"]


def test_pods_have_no_service_links_and_the_plugin_daemon_shares_its_process_namespace():
    services = by_service(variant("production"))
    for name, m in services.items():
        assert pod(m)["enableServiceLinks"] is False, name
        assert pod(m)["automountServiceAccountToken"] is False, name
    assert pod(services["plugin-daemon"]).get("shareProcessNamespace") is True
    # The daemon's image, also in its migration Job (plugins run as its children).
    daemon_image = {"plugin-daemon", "plugin-migrate"}
    assert all("shareProcessNamespace" not in pod(m) for name, m in services.items() if name not in daemon_image)


# -- migrations and upgrades ---------------------------------------------------------------------

def test_migrations_run_once_in_a_job_before_the_api():
    from components.workload import ServiceSpec
    from stacks.kubernetes import with_migration_job

    run = variant("production")
    jobs = of_kind(run, "Job")
    assert {m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] for m in jobs} == {
        "migrate", "plugin-migrate"}
    services = by_service(run)
    job = services["migrate"]
    env = env_of(job)
    assert env["MODE"]["value"] == "migration" and env["MIGRATION_ENABLED"]["value"] == "true"
    assert containers(job)[0]["image"] == containers(services["api"])[0]["image"]
    assert pod(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 2
    main = containers(job)[0]
    assert main["command"] == ["/bin/bash", "-c"]
    script = main["args"][0]
    assert script.startswith("set -e\nflask upgrade-db\n") and "flask db current" in script and "(head)" in script
    for service in ("api", "worker-workflow", "beat"):
        assert env_of(services[service])["MIGRATION_ENABLED"]["value"] == "false", service
    specs = {"api": ServiceSpec(name="api", upstream_name="api", image="i", env={"MIGRATION_ENABLED": "true"}),
             "plugin-daemon": ServiceSpec(name="plugin-daemon", upstream_name="plugin_daemon", image="d")}
    catalog = with_migration_job(specs, RELEASES[LTS_VERSION])
    assert "migrate" in catalog["api"].depends_on and catalog["migrate"].run_once
    assert "plugin-migrate" not in catalog and catalog["plugin-daemon"].command is None


def test_the_plugin_daemon_migrates_once_in_a_job_before_its_replicas_start():
    run = variant("production")
    services = by_service(run)
    job, daemon = services["plugin-migrate"], services["plugin-daemon"]
    assert daemon["spec"]["replicas"] == 2
    assert containers(job)[0]["args"] == ["/app/commandline", "migrate"]
    assert containers(daemon)[0]["args"] == ["/app/main"]
    assert "command" not in containers(daemon)[0], "the image's tini entrypoint stays"
    assert containers(job)[0]["image"] == containers(daemon)[0]["image"]
    assert env_of(job)["DB_DATABASE"] == env_of(daemon)["DB_DATABASE"]
    declared = {r.name: r for r in run.resources if r.typ.startswith("kubernetes:")}
    prefix = next(n for n in declared if n.endswith("-plugin-migrate")).removesuffix("-plugin-migrate")
    assert f"{prefix}-plugin-migrate" in declared[f"{prefix}-plugin-daemon"].depends_on


def test_rollout_order_data_then_migration_then_dify():
    run = variant("dev")
    declared = {r.name: r for r in run.resources if r.typ in (
        "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job")}
    prefix = "dify-k8s"
    data = {f"{prefix}-postgres", f"{prefix}-redis", f"{prefix}-object-store"}
    assert data <= declared[f"{prefix}-migrate"].depends_on
    assert f"{prefix}-migrate" in declared[f"{prefix}-api"].depends_on
    # The api's image needs only the migration: worker, beat and the websocket server start beside the api.
    for service in ("worker", "beat", "api-websocket"):
        assert f"{prefix}-migrate" in declared[f"{prefix}-{service}"].depends_on, service
        assert f"{prefix}-api" not in declared[f"{prefix}-{service}"].depends_on, service
    assert f"{prefix}-ssrf-proxy" in declared[f"{prefix}-sandbox"].depends_on
    assert {f"{prefix}-api", f"{prefix}-web", f"{prefix}-plugin-daemon"} <= declared[f"{prefix}-nginx"].depends_on


def test_in_cluster_data_is_kept_on_destroy_and_protected_in_production():
    run = variant("dev")
    assert run.of_type("kubernetes:core/v1:Namespace")[0].options["retainOnDelete"] is True
    assert not any(r.options["protect"] for r in run.of_type("kubernetes:apps/v1:StatefulSet"))
    production = run_program("k8s", overrides={"size": "production", "postgres": {"maxConnections": 1200},
                                               "kubernetes": {"allowSelfHostedDataInProduction": True}})
    sets = production.of_type("kubernetes:apps/v1:StatefulSet")
    assert len(sets) == 3 and all(r.options["protect"] for r in sets)


def test_a_version_bump_upgrades_every_dify_image_at_once():
    overrides = {"dify": {"version": "1.14.0", "sandboxVersion": "0.2.15", "pluginDaemonVersion": "0.5.4-local"}}
    run = run_program("k8s", overrides=overrides)
    images = {workload_name(m): containers(m)[0]["image"] for m in workloads(run)}
    expected = {
        "api": "langgenius/dify-api:1.14.0", "worker": "langgenius/dify-api:1.14.0",
        "beat": "langgenius/dify-api:1.14.0", "migrate": "langgenius/dify-api:1.14.0",
        "web": "langgenius/dify-web:1.14.0", "sandbox": "langgenius/dify-sandbox:0.2.15",
        "plugin-daemon": "langgenius/dify-plugin-daemon:0.5.4-local",
    }
    assert {k: images[k] for k in expected} == expected
    assert run.outputs["difyVersion"] == "1.14.0"


# -- security ------------------------------------------------------------------------------------

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def test_containers_drop_what_their_image_does_not_need():
    run = variant("dev")
    services = by_service(run)
    for name, m in services.items():
        assert pod(m)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in containers(m):
            context = c["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert set(context["capabilities"].get("add", [])) <= BASELINE_CAPABILITIES, name
    for name in ("api", "worker", "beat", "migrate", "web", "postgres", "redis", "object-store", "nginx",
                 "ssrf-proxy", "agent-ssrf-proxy", "plugin-daemon", "agent-backend", "plugin-migrate"):
        assert pod(services[name])["securityContext"]["runAsNonRoot"] is True, name
        assert pod(services[name])["securityContext"]["runAsUser"] > 0, name
        assert "add" not in containers(services[name])[0]["securityContext"]["capabilities"], name
    assert "SYS_CHROOT" in containers(services["sandbox"])[0]["securityContext"]["capabilities"]["add"]
    levels = {m["metadata"]["name"]: m["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for m in of_kind(run, "Namespace")}
    assert levels == {"dify": "restricted", "dify-sandbox": "baseline"}


# Paths each image writes, as measured (see components/kubernetes/security.py): the emptyDirs exist.
WRITABLE = {
    "api": {"/tmp", "/app/api/storage"}, "worker": {"/tmp", "/app/api/storage"},
    "migrate": {"/tmp", "/app/api/storage"},
    "api-websocket": {"/tmp", "/app/api/storage"}, "web": {"/tmp", "/.pm2", "/app/web/.next/cache"},
    "plugin-daemon": {"/tmp", "/app/storage"}, "nginx": {"/tmp", "/var/cache/nginx", "/run"},
    "ssrf-proxy": {"/tmp"}, "agent-ssrf-proxy": {"/tmp"}, "postgres": {"/tmp", "/var/run/postgresql"},
    "redis": {"/tmp"}, "object-store": {"/tmp"},
}


def test_read_only_roots_have_their_writable_paths_on_volumes():
    services = by_service(variant("dev"))
    for name, paths in WRITABLE.items():
        (container,) = pod(services[name])["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        volumes = {v["name"]: v for v in pod(services[name])["volumes"]}
        mounted = {m["mountPath"]: volumes.get(m["name"], {"volumeClaimTemplate": m["name"]})
                   for m in container["volumeMounts"]}
        assert paths <= set(mounted), (name, paths - set(mounted))
        assert all("emptyDir" in mounted[p] for p in paths if p != "/app/storage"), name
    # beat writes celery's schedule file into /app/api; the others' writable paths are not known.
    for name in ("sandbox", "local-sandbox", "agent-backend", "beat"):
        (container,) = pod(services[name])["containers"]
        assert "readOnlyRootFilesystem" not in container["securityContext"], name
    daemon = pod(services["plugin-daemon"])
    assert daemon["securityContext"]["runAsUser"] == 1001 and daemon["shareProcessNamespace"] is True
    assert env_of(services["plugin-daemon"])["HOME"] == {"name": "HOME", "value": "/tmp"}
    squid = containers(services["ssrf-proxy"])[0]
    assert squid["command"] == ["squid", "-f", "/etc/squid/squid.conf", "-NYC"]


def test_security_profiles_follow_images_through_a_mirror():
    services = by_service(variant("alicloud-lb"))
    api = services["api"]
    assert containers(api)[0]["image"].startswith("registry.cn-hangzhou.aliyuncs.com/dify/langgenius/dify-api:")
    assert pod(api)["securityContext"]["runAsUser"] == 1001
    nginx = containers(services["nginx"])[0]
    assert nginx["image"] == "registry.cn-hangzhou.aliyuncs.com/dify/library/nginx:1.30.5-alpine"
    assert pod(services["nginx"])["securityContext"]["runAsUser"] == 101
    assert "add" not in nginx["securityContext"]["capabilities"]


# -- network policies (the full matrix: tests/test_isolation.py) ------------------------------------

def test_network_policies_can_be_turned_off():
    run = run_program("k8s", overrides={"kubernetes": {"networkPolicies": False}})
    assert not of_kind(run, "NetworkPolicy")


# -- entry ---------------------------------------------------------------------------------------

def test_production_entry_is_an_nlb_terminating_tls():
    run = variant("production")
    nginx = named(run, "Service", "nginx")
    assert nginx["spec"]["type"] == "LoadBalancer"
    annotations = nginx["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == ACM_ARN
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
    ports = {p["port"]: p["targetPort"] for p in nginx["spec"]["ports"]}
    assert ports == {80: "http", 443: "http"}
    assert all(named(run, "Service", s)["spec"]["type"] == "ClusterIP" for s in ("api", "web", "plugin-daemon"))
    assert run.outputs["entryAddress"] == LB_HOSTNAME
    assert run.outputs["difyUrl"] == "https://dify.example.com"
    api_env = env_of(by_service(run)["api"])
    assert api_env["CONSOLE_API_URL"]["value"] == "https://dify.example.com"


def test_alicloud_entry_is_a_clb_with_its_certificate():
    run = variant("alicloud-lb")
    annotations = named(run, "Service", "nginx")["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
    assert annotations[f"{prefix}cert-id"] == "1234567-cn-hangzhou"
    assert annotations[f"{prefix}protocol-port"] == "https:443,http:80"


def test_tls_in_nginx_from_a_secret():
    run = variant("nginx-tls")
    nginx = named(run, "Service", "nginx")
    assert {p["port"]: p["targetPort"] for p in nginx["spec"]["ports"]} == {80: "http", 443: "https"}
    ports = {p["name"]: p["containerPort"] for p in containers(by_service(run)["nginx"])[0]["ports"]}
    assert ports == {"http": 8080, "https": 8443}


def test_ingress_entry():
    run = variant("ingress")
    assert named(run, "Service", "nginx")["spec"]["type"] == "ClusterIP"
    ingress = named(run, "Ingress", "nginx")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["dify.example.com"], "secretName": "dify-tls"}]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "dify.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "nginx", "port": {"name": "http"}}
    assert ingress["metadata"]["annotations"] == {"a.example/b": "c"}
    assert run.outputs["entryAddress"] == LB_HOSTNAME


def test_dev_without_a_domain_exports_the_load_balancer_address():
    run = variant("dev")
    assert run.outputs["difyUrl"] == f"http://{LB_HOSTNAME}"
    assert run.outputs["installUrl"] == f"http://{LB_HOSTNAME}/install"
    assert run.outputs["namespace"] == "dify"


# -- data services in the cluster ----------------------------------------------------------------

def test_self_hosted_data_services_are_stateful_sets_with_claims():
    run = variant("small-self-hosted")
    sets = {m["metadata"]["name"]: m for m in of_kind(run, "StatefulSet")}
    assert set(sets) == {"postgres", "redis", "object-store"}
    for name, m in sets.items():
        claims = m["spec"]["volumeClaimTemplates"]
        assert len(claims) == 1 and claims[0]["spec"]["storageClassName"] == "gp3", name
        mounts = {v["name"] for v in containers(m)[0]["volumeMounts"]}
        assert claims[0]["metadata"]["name"] in mounts
        assert m["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
        assert m["spec"]["serviceName"] == name
    postgres = sets["postgres"]
    assert containers(postgres)[0]["image"].startswith("pgvector/pgvector:")
    config_maps = {m["metadata"]["name"]: m for m in of_kind(run, "ConfigMap")}
    init = config_maps[pod(postgres)["volumes"][0]["configMap"]["name"]]["data"]["10-dify.sql"]
    assert 'CREATE DATABASE "dify_plugin"' in init and "CREATE EXTENSION IF NOT EXISTS vector" in init
    assert env_of(postgres)["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    redis = containers(sets["redis"])[0]
    assert "--requirepass" in " ".join(redis["args"]) and "--appendonly yes" in " ".join(redis["args"])
    store = sets["object-store"]
    start = config_maps[pod(store)["volumes"][0]["configMap"]["name"]]["data"]["start.sh"]
    assert "s3.bucket.create -name dify-plugins" in start
    assert not any(v.get("persistentVolumeClaim") for m in of_kind(run, "Deployment") for v in pod(m).get("volumes", []))


def test_plugin_daemon_keeps_plugins_in_object_storage_and_uses_the_pip_mirror():
    run = variant("alicloud-lb")
    daemon = by_service(run)["plugin-daemon"]
    env = env_of(daemon)
    assert env["PLUGIN_STORAGE_TYPE"]["value"] == "aws_s3"
    assert env["PLUGIN_STORAGE_OSS_BUCKET"]["value"] == "dify-plugins"
    assert env["PIP_MIRROR_URL"]["value"] == "https://mirrors.aliyun.com/pypi/simple"
    assert env_of(by_service(run)["sandbox"])["PIP_MIRROR_URL"]["value"] == "https://mirrors.aliyun.com/pypi/simple"
    scratch = {v["name"]: v for v in pod(daemon)["volumes"]}
    assert "emptyDir" in scratch["plugin-daemon-storage"], "plugin state is rebuilt from the object store"


def test_the_services_since_1_16_run_with_probes_sizes_and_contexts():
    services = by_service(variant("production"))
    websocket, backend = services["api-websocket"], services["agent-backend"]
    local, proxy = services["local-sandbox"], services["agent-ssrf-proxy"]
    assert websocket["spec"]["replicas"] == 2 and proxy["spec"]["replicas"] == 2
    assert backend["spec"]["replicas"] == 1
    # The local sandbox keeps its jobs in the container: one, replaced rather than rolled.
    assert local["spec"]["replicas"] == 1 and local["spec"]["strategy"] == {"type": "Recreate"}
    assert containers(websocket)[0]["readinessProbe"]["httpGet"]["path"] == "/health"
    assert containers(local)[0]["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 5004, "scheme": "HTTP"}
    assert containers(backend)[0]["readinessProbe"]["tcpSocket"] == {"port": 5050}
    assert pod(backend)["securityContext"]["runAsUser"] == 1001
    for m in (websocket, backend, local, proxy):
        c = containers(m)[0]
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    assert "add" not in containers(local)[0]["securityContext"]["capabilities"], "Landlock needs no capability"
    env = env_of(local)
    assert env["HTTPS_PROXY"]["value"] == "http://agent-ssrf-proxy:3128"
    assert env["SHELLCTL_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "SHELLCTL_AUTH_TOKEN"
    assert env_of(backend)["DIFY_AGENT_SERVER_SECRET_KEY"]["valueFrom"]["secretKeyRef"]


def test_the_lts_release_renders_without_the_newer_services():
    run = run_program("k8s", overrides={"dify": {"version": LTS_VERSION}})
    names = {m["metadata"]["name"] for m in of_kind(run, "Deployment")}
    assert names == {"api", "worker", "beat", "web", "sandbox", "plugin-daemon", "ssrf-proxy", "nginx"}
    assert {workload_name(m) for m in of_kind(run, "Job")} == {"migrate", "restore-point"}
    daemon = named(run, "Deployment", "plugin-daemon")
    assert "args" not in containers(daemon)[0], "daemon 0.5.3 migrates inside its server"


@pytest.mark.parametrize(("entry", "service_type"), [("nodePort", "NodePort"), ("clusterIP", "ClusterIP")])
def test_entries_for_clusters_without_a_load_balancer(entry, service_type):
    overrides = {"kubernetes": {"namespace": "dify", "entry": entry,
                                **({"nodePort": 30080} if entry == "nodePort" else {})}}
    run = run_program("k8s", overrides=overrides)
    nginx = named(run, "Service", "nginx")
    assert nginx["spec"]["type"] == service_type
    if entry == "nodePort":
        assert nginx["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                           "nodePort": 30080}]
    assert not of_kind(run, "Ingress")
    assert run.outputs["entryAddress"] is None


def test_a_load_balancer_entry_can_skip_waiting_for_its_address():
    run = run_program("k8s", overrides={"kubernetes": {"namespace": "dify",
                                                       "loadBalancer": {"waitForAddress": False}}})
    nginx = named(run, "Service", "nginx")
    assert nginx["spec"]["type"] == "LoadBalancer"
    assert nginx["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    assert "pulumi.com/skipAwait" not in named(variant("dev"), "Service", "nginx")["metadata"].get("annotations", {})
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides={"kubernetes": {"namespace": "dify", "nodePort": 30080}})
    assert "kubernetes.nodePort" in str(raised.value)


@pytest.mark.parametrize(("upgrade_rc", "current", "expected_rc"), [
    (0, "4f1b2a3c9d10 (head)", 0),       # migrated
    (0, "3e2d1c0b9a87", 1),               # "Database migration skipped": another process holds the lock
    (0, "", 1),                           # no revision at all
    (1, "4f1b2a3c9d10 (head)", 1),        # the migration failed
])
def test_the_migration_job_fails_unless_the_schema_is_at_head(tmp_path, upgrade_rc, current, expected_rc):
    """The Job's script, run by bash against a stand-in `flask` that answers as Dify's would."""
    import subprocess

    from stacks.kubernetes import MIGRATE_AND_CHECK

    flask = tmp_path / "flask"
    flask.write_text(f'#!/bin/sh\ncase "$1" in upgrade-db) echo upgrade; exit {upgrade_rc} ;; '
                     f'db) [ "$2" = current ] && printf "%s\\n" "{current}"; exit 0 ;; esac\nexit 2\n')
    flask.chmod(0o755)
    result = subprocess.run(["bash", "-c", MIGRATE_AND_CHECK], env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
                            capture_output=True, text=True)
    assert result.returncode == expected_rc, result.stdout + result.stderr


def test_rollouts_drain_and_finish_running_work():
    services = by_service(variant("production"))
    for name in ("api", "worker-dataset", "worker-workflow", "worker-ops", "nginx"):
        # Dify's longest default run (APP/WORKFLOW_MAX_EXECUTION_TIME, 1200 s) fits in the grace period.
        assert pod(services[name])["terminationGracePeriodSeconds"] >= 1200, name
    for name in ("api", "web", "nginx", "api-websocket"):
        assert containers(services[name])[0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"], name
        assert pod(services[name])["terminationGracePeriodSeconds"] > 10, name
    assert env_of(services["api"])["GUNICORN_CMD_ARGS"]["value"] == "--graceful-timeout 1200"
    assert "GUNICORN_CMD_ARGS" not in env_of(services["worker-workflow"])
    liveness = containers(services["worker-workflow"])[0]["livenessProbe"]
    assert liveness["exec"]["command"] == [
        "sh", "-c", 'celery -A celery_healthcheck.celery inspect ping -d "celery@$HOSTNAME" --timeout 10']
    assert liveness["timeoutSeconds"] > 10
    lts = by_service(run_program("k8s", overrides={"dify": {"version": LTS_VERSION}}))
    assert "livenessProbe" not in containers(lts["worker"])[0], "1.13's image has no light Celery app"


def test_with_keda_the_worker_scales_on_its_celery_queues():
    run = run_program("k8s", overrides={"size": "production", "postgres": {"maxConnections": 1200},
                                        "workers": {"layout": "single"},
                                        "kubernetes": {"namespace": "dify", "allowSelfHostedDataInProduction": True,
                                                       "kedaNamespace": "keda"}})
    scaled = [manifest(r) for r in run.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")]
    assert [m["metadata"]["name"] for m in scaled] == ["worker"]
    spec = scaled[0]["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 10) and spec["scaleTargetRef"] == {"name": "worker"}
    redis = [t for t in spec["triggers"] if t["type"] == "redis"]
    assert {t["metadata"]["listName"] for t in redis} >= {"dataset", "workflow", "app_rbac"}
    assert all(t["metadata"]["address"] == "redis:6379" and t["metadata"]["databaseIndex"] == "1"
               and t["metadata"]["listLength"] == "16" for t in redis)
    assert any(t["type"] == "cpu" for t in spec["triggers"])
    (auth,) = [manifest(r) for r in run.of_type("kubernetes:keda.sh/v1alpha1:TriggerAuthentication")]
    assert auth["spec"]["secretTargetRef"][0]["key"] == "REDIS_PASSWORD"
    hpas = {m["metadata"]["name"] for m in of_kind(run, "HorizontalPodAutoscaler")}
    assert "worker" not in hpas and "api" in hpas, "KEDA makes and owns the worker's HPA"
    policy = named(run, "NetworkPolicy", "dify-keda-worker")
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "keda"}
    assert not run_program("k8s").of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
