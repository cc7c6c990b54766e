"""`monitoring`: exporters, Prometheus Operator objects, alert rules (checked by promtool), the Grafana
dashboard, Dify's OpenTelemetry export and the Docker target's scrape ports, under mocks."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request

import pytest

from components.dify import nginx
from components.dify.releases import RELEASES
from components.images import NGINX_EXPORTER, NGINX_LOG_EXPORTER, POSTGRES_EXPORTER, REDIS_EXPORTER
from stacks import budget
from stacks.config import StackConfig
from tests import promtool, pss
from tests.reachability import Address, Cluster, Pod
from tests.test_kubernetes import cached_schemas  # noqa: F401  (fixture)
from tests.test_policy import size  # noqa: F401  (fixture)
from tests.test_routing import _free_port, _nginx_binary, _wait_for, _wrap, backends
from tests.test_upstream_releases import upstream_keys
from components.dify.concurrency import CONCURRENCY
from tools.mocks import is_secret, manifests, run_program

MONITORED = {"monitoring": {"prometheusOperator": True, "grafanaDashboards": True,
                            "labels": {"release": "kube-prometheus-stack"}}}
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
EXPORTER_IMAGES = (NGINX_EXPORTER, NGINX_LOG_EXPORTER, POSTGRES_EXPORTER, REDIS_EXPORTER)
_RUNS: dict = {}
# Production on a cluster with the data services in it (the budget then needs a larger max_connections).
PRODUCTION = {"size": "production", "kubernetes": {"allowSelfHostedDataInProduction": True},
              "postgres": {"maxConnections": 1200}}


def objects(stack: str, monitored: bool = True, **extra) -> list[dict]:
    key = (stack, monitored, json.dumps(extra, sort_keys=True))
    if key not in _RUNS:
        overrides = {**(MONITORED if monitored else {}), **extra}
        _RUNS[key] = manifests(run_program(stack, overrides=overrides))
    return _RUNS[key]


def of_kind(found: list[dict], kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in found if m["kind"] == kind}


def workload(found: list[dict], name: str) -> dict:
    (match,) = [m for m in found if m["kind"] in ("Deployment", "StatefulSet")
                and m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == name]
    return match


def containers(found: list[dict], name: str) -> dict[str, dict]:
    return {c["name"]: c for c in workload(found, name)["spec"]["template"]["spec"]["containers"]}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


# -- nothing unless asked --------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["k8s", "prod", "alicloud"])
def test_defaults_declare_no_monitoring_objects_on_clusters(stack):
    found = objects(stack, monitored=False)
    assert not [m for m in found if m["kind"] in MONITOR_KINDS]
    assert not [m for m in found if "grafana_dashboard" in m["metadata"].get("labels", {})]
    assert not [m for m in found if "exporter" in m["metadata"].get("name", "")]
    images = {c["image"] for m in found if m["kind"] in ("Deployment", "StatefulSet", "Job")
              for c in m["spec"]["template"]["spec"]["containers"]}
    assert not images & set(EXPORTER_IMAGES)
    assert "stub_status" not in json.dumps([m for m in found if m["kind"] == "ConfigMap"])
    assert not any("ENABLE_OTEL" in env_of(c) for m in found if m["kind"] == "Deployment"
                   for c in m["spec"]["template"]["spec"]["containers"])


def test_defaults_declare_no_exporters_on_docker():
    run = run_program("dev")
    assert not [c for c in run.of_type(CONTAINER) if "exporter" in c.name]
    assert not [n for n in run.of_type(NETWORK) if "scrape" in n.name]
    assert "scrapeTargets" not in run.outputs


# -- Kubernetes ------------------------------------------------------------------------------------

def test_every_metrics_source_has_a_monitor_with_the_operators_labels():
    found = objects("k8s")
    services, pods = of_kind(found, "ServiceMonitor"), of_kind(found, "PodMonitor")
    assert set(services) == {"plugin-daemon", "redis-exporter", "postgres-exporter"}
    assert set(pods) == {"nginx"}
    for monitor in [*services.values(), *pods.values(), *of_kind(found, "PrometheusRule").values()]:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["metadata"]["namespace"] == "dify"
    assert [e["port"] for e in pods["nginx"]["spec"]["podMetricsEndpoints"]] == ["nginx-metrics", "log-metrics"]
    assert services["plugin-daemon"]["spec"]["endpoints"] == [{"port": "http", "path": "/metrics/", "interval": "30s"}]
    # Each monitor selects exactly the pods of its workload, and the ServiceMonitors' Services carry the port.
    svc = of_kind(found, "Service")
    for name, monitor in services.items():
        assert monitor["spec"]["selector"]["matchLabels"].items() <= svc[name]["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in svc[name]["spec"]["ports"]}
    for monitor in pods.values():
        labels = workload(found, "nginx")["spec"]["template"]["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_lts_daemon_serves_no_metrics_so_it_has_no_monitor():
    found = objects("k8s", dify={"version": "1.13.3"})
    assert "plugin-daemon" not in of_kind(found, "ServiceMonitor")
    assert not RELEASES["1.13.3"].daemon_metrics and RELEASES["1.16.1"].daemon_metrics


def test_nginx_runs_its_exporters_as_sidecars_on_its_loopback():
    found = objects("k8s")
    pod = containers(found, "nginx")
    assert set(pod) == {"nginx", "nginx-exporter", "nginx-log-exporter"}
    assert pod["nginx-exporter"]["image"] == NGINX_EXPORTER
    assert "--nginx.scrape-uri=http://127.0.0.1:8081/stub_status" in pod["nginx-exporter"]["args"]
    assert pod["nginx-log-exporter"]["args"] == ["-config-file", "/etc/prometheus-nginxlog-exporter/config.hcl"]
    (config_map,) = [m for m in found if m["kind"] == "ConfigMap" and "default.conf" in m.get("data", {})]
    conf = config_map["data"]["default.conf"]
    assert "listen 127.0.0.1:8081;" in conf and "stub_status;" in conf
    assert "access_log syslog:server=127.0.0.1:5531" in conf
    assert 'listen_address = "udp://127.0.0.1:5531"' in config_map["data"]["config.hcl"]
    # The Service keeps its routed port only.
    assert [p["port"] for p in of_kind(found, "Service")["nginx"]["spec"]["ports"]] == [80]


@pytest.mark.parametrize("stack", ["k8s", "prod", "alicloud"])
def test_every_container_has_limits_and_pod_security_restricted_holds(stack):
    found = objects(stack)
    for m in found:
        if m["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        spec = m["spec"]["template"]["spec"]
        for c in spec["containers"]:
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), (m["metadata"], c["name"])
        if m["metadata"]["namespace"] in ("dify", "dify-prod"):
            assert pss.restricted(spec) == [], (m["metadata"], pss.restricted(spec))
    for name in ("redis-exporter", "nginx"):
        for c in containers(found, name).values():
            assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_exporter_credentials_come_only_from_secrets():
    found = objects("k8s")
    redis = env_of(containers(found, "redis-exporter")["redis-exporter"])
    postgres = env_of(containers(found, "postgres-exporter")["postgres-exporter"])
    assert "secretKeyRef" in redis["REDIS_PASSWORD"]["valueFrom"] and "value" not in redis["REDIS_PASSWORD"]
    assert "secretKeyRef" in postgres["DATA_SOURCE_PASS"]["valueFrom"]
    assert redis["REDIS_ADDR"]["value"] == "redis://redis:6379"
    assert postgres["DATA_SOURCE_URI"]["value"] == "postgres:5432/dify?sslmode=disable"


def test_the_redis_exporter_reads_every_celery_queue_in_the_broker_db():
    found = objects("k8s")
    keys = env_of(containers(found, "redis-exporter")["redis-exporter"])["REDIS_EXPORTER_CHECK_SINGLE_KEYS"]["value"]
    assert keys.split(",") == [f"db1={q}" for q in RELEASES["1.16.1"].worker_queues]


def test_on_aws_the_exporter_reads_elasticache_over_tls_and_no_postgres_exporter_runs():
    found = objects("prod")
    redis = env_of(containers(found, "redis-exporter")["redis-exporter"])
    assert redis["REDIS_ADDR"]["value"].startswith("rediss://") and "secretKeyRef" in redis["REDIS_PASSWORD"]["valueFrom"]
    assert "postgres-exporter" not in of_kind(found, "ServiceMonitor")
    assert "DifyPostgresConnectionsOverBudget" not in json.dumps(of_kind(found, "PrometheusRule"))


def test_on_alicloud_the_exporter_reads_the_managed_redis():
    found = objects("alicloud")
    assert "redis-exporter" in of_kind(found, "ServiceMonitor")
    assert "postgres-exporter" not in of_kind(found, "ServiceMonitor")


def _pods(found: list[dict]) -> dict[str, Pod]:
    pods = {}
    for index, m in enumerate(m for m in found if m["kind"] in ("Deployment", "StatefulSet")):
        labels = m["spec"]["template"]["metadata"]["labels"]
        pods[labels["app.kubernetes.io/name"]] = Pod(m["metadata"]["namespace"], labels, f"10.244.0.{index + 2}")
    return pods


def test_only_prometheus_reaches_the_metrics_ports_and_nothing_else_opens():
    found = objects("k8s")
    cluster, pods = Cluster(found), _pods(found)
    prometheus = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.9.9")
    stranger = Pod("default", {"app": "x"}, "10.244.9.10")
    scraped = {("nginx", 9113), ("nginx", 4040), ("redis-exporter", 9121), ("postgres-exporter", 9187),
               ("plugin-daemon", 5002)}
    for target, port in scraped:
        assert cluster.allows(prometheus, pods[target], port), (target, port)
        assert not cluster.allows(stranger, pods[target], port), (target, port)
    for target, port in (("nginx", 8081), ("api", 5001), ("redis", 6379), ("postgres", 5432), ("web", 3000)):
        assert not cluster.allows(prometheus, pods[target], port), (target, port)
    # The exporters reach their data service and nothing else, and no Dify workload reaches them.
    assert cluster.allows(pods["redis-exporter"], pods["redis"], 6379)
    assert cluster.allows(pods["postgres-exporter"], pods["postgres"], 5432)
    assert not cluster.allows(pods["redis-exporter"], pods["postgres"], 5432)
    assert not cluster.allows(pods["redis-exporter"], Address("93.184.216.34"), 443)
    assert not cluster.allows(pods["postgres-exporter"], pods["api"], 5001)
    for source in ("api", "worker", "web", "sandbox", "plugin-daemon"):
        if source in pods:
            assert not cluster.allows(pods[source], pods["redis-exporter"], 9121), source


def test_the_prometheus_pod_selector_narrows_who_may_scrape():
    found = objects("k8s", monitoring={"prometheusOperator": True, "prometheusNamespace": "observability",
                                       "prometheusPodSelector": {"app.kubernetes.io/name": "prometheus"}})
    cluster, pods = Cluster(found), _pods(found)
    assert cluster.allows(Pod("observability", {"app.kubernetes.io/name": "prometheus"}, "10.244.9.9"),
                          pods["redis-exporter"], 9121)
    assert not cluster.allows(Pod("observability", {"app.kubernetes.io/name": "grafana"}, "10.244.9.8"),
                              pods["redis-exporter"], 9121)
    assert not cluster.allows(Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.9.7"),
                              pods["redis-exporter"], 9121)


def test_the_dashboard_configmap_is_for_grafanas_sidecar_and_only_when_asked():
    found = objects("k8s")
    (dashboard,) = [m for m in found if m["kind"] == "ConfigMap" and m["metadata"].get("labels", {}).get(
        "grafana_dashboard") == "1"]
    model = json.loads(dashboard["data"]["dify.json"])
    assert model["uid"] == "dify-overview" and len(model["panels"]) >= 10
    titles = {p["title"] for p in model["panels"]}
    assert {"nginx 5xx ratio", "Celery queue backlog", "PostgreSQL connections", "Redis memory / maxmemory"} <= titles
    without = objects("k8s", monitoring={"prometheusOperator": True})
    assert not [m for m in without if m["metadata"].get("labels", {}).get("grafana_dashboard")]


# -- alert rules -----------------------------------------------------------------------------------

def _rules(found: list[dict]) -> dict[str, dict]:
    (rule,) = of_kind(found, "PrometheusRule").values()
    return {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}


@pytest.mark.parametrize("stack,extra", [("k8s", {}), ("k8s", PRODUCTION), ("prod", {}),
                                         ("alicloud", {}), ("k8s", {"dify": {"version": "1.13.3"}})])
def test_promtool_accepts_the_rendered_rules(stack, extra, tmp_path):
    (rule,) = of_kind(objects(stack, **extra), "PrometheusRule").values()
    result = promtool.check_rules(rule["spec"]["groups"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_refuses_a_broken_rule(tmp_path):
    result = promtool.check_rules([{"name": "x", "rules": [{"alert": "X", "expr": "sum(rate(x[5m])"}]}], tmp_path)
    assert result.returncode != 0


def test_promtool_parses_every_dashboard_query(tmp_path):
    found = objects("k8s")
    (dashboard,) = [m for m in found if m["kind"] == "ConfigMap" and "dify.json" in m.get("data", {})]
    exprs = [t["expr"] for p in json.loads(dashboard["data"]["dify.json"])["panels"] for t in p["targets"]]
    recorded = [{"record": f"dify:panel_{i}", "expr": e} for i, e in enumerate(exprs)]
    result = promtool.check_rules([{"name": "dashboard", "rules": recorded}], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _case(series: dict[str, str], alert: str, at: str, expected: list[dict]) -> dict:
    return {"interval": "1m", "input_series": [{"series": k, "values": v} for k, v in series.items()],
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": [{"exp_labels": e} for e in expected]}]}


def test_the_rules_fire_on_the_signals_they_name_and_stay_quiet_otherwise(tmp_path):
    """promtool's rule unit tests on the dev cluster's rules: synthetic series, the alerts expected."""
    (rule,) = of_kind(objects("k8s"), "PrometheusRule").values()
    usable = budget.budget(StackConfig.model_validate({"target": "kubernetes"})).usable
    ok, failed = 'dify_nginx_http_response_count_total{namespace="dify",status="200"}', \
        'dify_nginx_http_response_count_total{namespace="dify",status="502"}'
    queue = 'redis_key_size{namespace="dify",service="redis-exporter",db="db1",key="dataset"}'
    connections = 'pg_stat_activity_count{namespace="dify",service="postgres-exporter",datname="dify",state="idle"}'
    job = 'kube_job_status_failed{namespace="dify",job_name="%s"}'
    tests = [
        _case({ok: "0+90x40", failed: "0+20x40"}, "DifyNginxErrorRatio", "30m",
              [{"severity": "critical", "namespace": "dify"}]),
        _case({ok: "0+90x40", failed: "0+5x40"}, "DifyNginxErrorRatio", "30m", []),
        _case({queue: "0+1x60"}, "DifyCeleryBacklogGrowing", "40m", [{"severity": "warning"}]),
        _case({queue: "50x60"}, "DifyCeleryBacklogGrowing", "40m", []),
        _case({connections: f"{usable + 1}x20"}, "DifyPostgresConnectionsOverBudget", "10m", [{"severity": "warning"}]),
        _case({connections: f"{usable}x20"}, "DifyPostgresConnectionsOverBudget", "10m", []),
        _case({job % "dify-k8s-migrate-5c0ffee": "0 0 1 1 1", job % "dify-k8s-web-1a2b3c4": "1 1 1 1 1"},
              "DifyMigrationFailed", "4m",
              [{"severity": "critical", "namespace": "dify", "job_name": "dify-k8s-migrate-5c0ffee"}]),
    ]
    result = promtool.test_rules(rule["spec"]["groups"], tests, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The cases can fail: the quiet series made to fire is reported.
    wrong = [{**tests[1], "alert_rule_test": [{**tests[1]["alert_rule_test"][0], "exp_alerts": [
        {"exp_labels": {"severity": "critical", "namespace": "dify"}}]}]}]
    assert promtool.test_rules(rule["spec"]["groups"], wrong, tmp_path).returncode != 0


def test_the_rules_cover_every_signal():
    assert {"DifyPodCrashLooping", "DifyPodNotReady", "DifyDeploymentBelowDesired", "DifyMigrationFailed",
            "DifyVolumeNearlyFull", "DifyRedisMemoryNearMax", "DifyRedisEvictingKeys", "DifyCeleryBacklogGrowing",
            "DifyPostgresConnectionsOverBudget", "DifyPostgresConnectionsNearMax", "DifyNginxErrorRatio"
            } <= set(_rules(objects("k8s")))
    # Autoscalers exist only in production.
    assert "DifyAutoscalerAtMaximum" not in _rules(objects("k8s"))
    production = _rules(objects("k8s", **PRODUCTION))
    assert ('horizontalpodautoscaler=~"api|nginx|sandbox|ssrf-proxy|web|worker-dataset|worker-ops|worker-workflow"'
            in production["DifyAutoscalerAtMaximum"]["expr"])


def test_thresholds_follow_the_preset_and_the_connection_budget():
    dev, production = _rules(objects("k8s")), _rules(objects("k8s", **PRODUCTION))
    assert dev["DifyPodNotReady"]["for"] == "15m" and production["DifyPodNotReady"]["for"] == "5m"
    assert dev["DifyNginxErrorRatio"]["expr"].endswith("> 0.1")
    assert production["DifyNginxErrorRatio"]["expr"].endswith("> 0.02")
    for rules, overrides in ((dev, {}), (production, PRODUCTION)):
        usable = budget.budget(StackConfig.model_validate({"target": "kubernetes", **overrides})).usable
        assert rules["DifyPostgresConnectionsOverBudget"]["expr"].endswith(f"> {usable}"), overrides
    # What the workers at their most replicas take on at once: dev's single worker, 1 replica; production's
    # pools, up to 6 x 8 (dataset), 10 x 16 (workflow) and 4 x 4 (ops) tasks.
    for size, rules, backlog in (("dev", dev, CONCURRENCY["dev"].celery_tasks), ("production", production,
                                                                               6 * 8 + 10 * 16 + 4 * 4)):
        assert f") > {backlog} and deriv(" in rules["DifyCeleryBacklogGrowing"]["expr"], size
    assert 'job_name=~"dify-k8s-migrate-[a-z0-9]+|dify-k8s-plugin-migrate-[a-z0-9]+"' in dev["DifyMigrationFailed"]["expr"]


# -- nginx, live -----------------------------------------------------------------------------------

def test_nginx_serves_stub_status_and_sends_each_access_line_with_its_status(tmp_path):
    """The rendered config in a real nginx: stub_status on its own server, and every access log line
    (with its status code, the 5xx source) sent as syslog to the log exporter's address."""
    port, tls_port, status_port = _free_port(), _free_port(), _free_port()
    syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    syslog.bind(("127.0.0.1", 0))
    syslog.settimeout(5)
    with syslog, backends(["api", "web", "plugin_daemon"]) as addresses:
        conf = nginx.render(**addresses, status=nginx.Status(
            listen=f"127.0.0.1:{status_port}", access_syslog=f"127.0.0.1:{syslog.getsockname()[1]}"))
        conf = conf.replace(nginx.ACCESS_LOG, str(tmp_path / "access.log"))
        path = tmp_path / "nginx.conf"
        path.write_text(_wrap(conf, tmp_path, port, tls_port))
        check = subprocess.run([_nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(path), "-e", "stderr"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([_nginx_binary(), "-p", str(tmp_path), "-c", str(path), "-e", "stderr",
                                 "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            status = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/stub_status", timeout=5).read().decode()
            assert status.startswith("Active connections:") and "server accepts handled requests" in status
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(f"http://127.0.0.1:{status_port}/console/api/x", timeout=5)
            assert missing.value.code == 404
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/console/api/apps", timeout=5).status == 200
            line = syslog.recv(4096).decode()
            assert "nginx:" in line and '"GET /console/api/apps HTTP/1.1" 200 ' in line
        finally:
            proc.terminate()
            proc.wait(timeout=10)


# -- Docker ----------------------------------------------------------------------------------------

def test_docker_exporters_publish_on_the_loopback_by_default():
    run = run_program("dev", overrides={"monitoring": {"exporters": True}})
    by_name = {c.name.removeprefix("dify-dev-"): c for c in run.of_type(CONTAINER)}
    published = {name: [(p["ip"], int(p["internal"]), int(p["external"])) for p in c.plain.get("ports") or []]
                 for name, c in by_name.items() if "exporter" in name}
    assert published == {"nginx-exporter": [("127.0.0.1", 9113, 9113)], "redis-exporter": [("127.0.0.1", 9121, 9121)],
                         "postgres-exporter": [("127.0.0.1", 9187, 9187)]}
    assert run.outputs["scrapeTargets"] == {"nginx-exporter": "127.0.0.1:9113", "redis-exporter": "127.0.0.1:9121",
                                            "postgres-exporter": "127.0.0.1:9187"}
    nets = {name: {n["name"].removeprefix("dify-dev-net-") for n in c.plain["networksAdvanced"]}
            for name, c in by_name.items()}
    assert nets["redis-exporter"] == {"data-redis", "scrape-redis-exporter"}
    assert nets["postgres-exporter"] == {"data-postgres", "scrape-postgres-exporter"}
    assert nets["nginx-exporter"] == {"nginx--nginx-exporter", "scrape-nginx-exporter"}
    # Each scrape network holds its exporter alone, without NAT to the outside.
    for name, members in ((n, [c for c, ns in nets.items() if n in ns]) for n in set().union(*nets.values())
                          if n.startswith("scrape-")):
        assert members == [name.removeprefix("scrape-")]
    scrape = [n for n in run.of_type(NETWORK) if "scrape" in n.name]
    assert scrape and all(n.inputs["options"] == {"com.docker.network.bridge.enable_ip_masquerade": "false"}
                          for n in scrape)
    # Dify's own containers gain no published port, and every exporter keeps the log rotation.
    assert [p["internal"] for p in by_name["nginx"].plain["ports"]] == [8080]
    for name in published:
        assert by_name[name].plain["logOpts"] == {"max-size": "50m", "max-file": "5"}
    envs = dict(e.split("=", 1) for e in by_name["redis-exporter"].plain["envs"])
    assert envs["REDIS_EXPORTER_CHECK_SINGLE_KEYS"].startswith("db1=api_token,")
    assert "listen 8081;" in json.dumps(by_name["nginx"].plain["uploads"])


def test_docker_exporters_bind_where_told():
    run = run_program("dev", overrides={"monitoring": {"exporters": True, "exportersBindAddress": "10.0.0.5"}})
    ips = {p["ip"] for c in run.of_type(CONTAINER) if "exporter" in c.name for p in c.plain["ports"]}
    assert ips == {"10.0.0.5"}


# -- OpenTelemetry ---------------------------------------------------------------------------------

OTEL = {"monitoring": {"otel": {"enabled": True, "endpoint": "http://otel-collector.monitoring:4318",
                                "apiKey": "otlp-key-Vb41", "samplingRate": 0.25, "protocol": "http"}}}


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_otel_env_uses_upstreams_names_on_api_and_worker(version):
    run = run_program("dev", overrides={**OTEL, "dify": {"version": version}}, secret_keys=("monitoring",))
    envs = {c.name.removeprefix("dify-dev-"): dict(e.split("=", 1) for e in c.plain["envs"])
            for c in run.of_type(CONTAINER)}
    for service in ("api", "worker"):
        env = envs[service]
        assert env["ENABLE_OTEL"] == "true" and env["OTLP_BASE_ENDPOINT"] == "http://otel-collector.monitoring:4318"
        assert env["OTEL_SAMPLING_RATE"] == "0.25" and env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http"
        assert env["OTLP_API_KEY"] == "otlp-key-Vb41"
        otel = {k for k in env if k.startswith(("OTEL_", "OTLP_", "ENABLE_OTEL"))}
        assert otel <= upstream_keys(version, service), otel - upstream_keys(version, service)
    assert "ENABLE_OTEL" not in envs["beat"]
    assert is_secret(run.named(CONTAINER, "dify-dev-api").inputs["envs"])


def test_otel_api_key_is_a_secret_reference_on_kubernetes():
    found = manifests(run_program("k8s", overrides=OTEL, secret_keys=("monitoring",)))
    env = env_of(containers(found, "api")["api"])
    assert "secretKeyRef" in env["OTLP_API_KEY"]["valueFrom"]
    (job,) = [m for m in found if m["kind"] == "Job" and m["spec"]["template"]["metadata"]["labels"][
        "app.kubernetes.io/name"] == "migrate"]
    assert not {"ENABLE_OTEL", "OTLP_API_KEY"} & set(env_of(job["spec"]["template"]["spec"]["containers"][0]))
    assert not [m for m in found if m["kind"] == "NetworkPolicy" and m["metadata"]["name"].endswith("-otel")]


def test_an_in_cluster_collector_is_reachable_by_the_exporting_workloads_only():
    otel = {"monitoring": {"otel": {"enabled": True, "endpoint": "http://otel-collector.observability:4318",
                                    "collectorNamespace": "observability"}}}
    found = manifests(run_program("k8s", overrides=otel))
    cluster, pods = Cluster(found), _pods(found)
    collector = Pod("observability", {"app": "otel-collector"}, "10.244.9.20")
    for source in ("api", "worker", "api-websocket"):
        assert cluster.allows(pods[source], collector, 4318), source
        assert not cluster.allows(pods[source], collector, 4317), source
    for source in ("beat", "web", "nginx", "plugin-daemon"):
        assert not cluster.allows(pods[source], collector, 4318), source


# -- config ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack,monitoring,key,hint", [
    ("dev", {"otel": {"enabled": True}}, "monitoring.otel", "monitoring.otel.endpoint"),
    ("dev", {"otel": {"enabled": True, "endpoint": "otel:4318"}}, "monitoring.otel.endpoint", "collector's URL"),
    ("dev", {"otel": {"samplingRate": 2}}, "monitoring.otel.samplingRate", "less than or equal to 1"),
    ("dev", {"prometheusOperator": True}, "monitoring.prometheusOperator", "monitoring.exporters"),
    ("k8s", {"exporters": True}, "monitoring.exporters", "monitoring.prometheusOperator"),
    ("k8s", {"grafanaDashboards": True}, "monitoring.grafanaDashboards", "prometheusOperator"),
    ("dev", {"exporters": True, "exportersBindAddress": "localhost"}, "monitoring.exportersBindAddress", "127.0.0.1"),
    ("k8s", {"prometheusOperator": True, "prometheusNamespace": "Monitoring"}, "monitoring.prometheusNamespace",
     "namespace name"),
])
def test_wrong_monitoring_config_is_rejected_naming_the_key(stack, monitoring, key, hint):
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides={"monitoring": monitoring})
    message = str(raised.value)
    assert key in message and hint in message, message


def test_the_core_objects_next_to_the_monitors_are_valid_kubernetes(cached_schemas):
    import kubernetes_validate

    from tests.test_kubernetes import K8S_VERSION

    errors = []
    for manifest in objects("k8s"):
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        try:
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{manifest['kind']}/{manifest['metadata'].get('name')}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_on_alicloud_the_exporters_from_docker_hub_come_through_the_acr_mirror():
    run = run_program("alicloud", overrides=MONITORED)
    endpoint = run.outputs["registry"]["endpoint"]
    pulled = set(run.outputs["images"])
    rules = {(r.plain["sourceNamespaceName"], r.plain["sourceRepoName"])
             for r in run.of_type("alicloud:cr/artifactSubscriptionRule:ArtifactSubscriptionRule")}
    for image in (NGINX_EXPORTER, REDIS_EXPORTER):
        namespace, rest = image.split("/", 1)
        assert f"{endpoint}/{image}" in pulled, image
        assert (namespace, rest.split(":")[0]) in rules, image
    # quay.io is not Docker Hub: the log exporter is pulled from there (the nodes' NAT).
    assert NGINX_LOG_EXPORTER in pulled


@pytest.mark.parametrize("stack", ["prod", "alicloud", "k8s"])
def test_a_monitored_stack_passes_every_policy_gate(stack, size):
    from tests.test_policy import all_violations, size_of

    size(size_of(stack))
    assert all_violations(run_program(stack, overrides=MONITORED)) == {}
