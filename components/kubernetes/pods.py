"""Pod templates from workload specs: container, env, probes, volumes, spread. Pure data, no resources."""

from __future__ import annotations

import math
import posixpath
import re
from typing import Optional

import pulumi

from components.kubernetes.security import Profile, profile_for
from components.kubernetes.sizing import Preset, WorkloadSize
from components.workload import ConfigFile, DATA_NET, HealthCheck, ServiceSpec, Sidecar

FILES_VOLUME, SECRET_FILES_VOLUME = "files", "secret-files"
ZONE, HOSTNAME = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def is_data_service(spec: ServiceSpec) -> bool:
    """A data service (PostgreSQL, Redis, the object store): only on the data network, using none.
    Its state is the data itself, so it gets a StatefulSet with a volume claim."""
    return spec.networks == frozenset({DATA_NET}) and not spec.uses_data


def file_keys(files: tuple[ConfigFile, ...]) -> list[str]:
    """A ConfigMap/Secret key per file: its base name, made unique and valid."""
    keys: list[str] = []
    for f in files:
        key = re.sub(r"[^-._a-zA-Z0-9]", "-", posixpath.basename(f.path)) or "file"
        while key in keys:
            key = f"x-{key}"
        keys.append(key)
    return keys


def env(spec: ServiceSpec, secret_name: Optional[pulumi.Input[str]]) -> list[dict]:
    """Plain values inline; every secret by reference to the workload's Secret, never as a value."""
    entries = [{"name": k, "value": v} for k, v in sorted(spec.env.items()) if k not in spec.secret_env]
    for key in sorted(spec.secret_env):
        assert secret_name is not None
        entries.append({"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}})
    return entries


def _exec(command: tuple[str, ...]) -> Optional[dict]:
    """A Docker health-check command as an exec probe."""
    if command[0] == "CMD-SHELL":
        return {"exec": {"command": ["sh", "-c", command[1]]}}
    if command[0] == "CMD":
        return {"exec": {"command": list(command[1:])}}
    return None


def probes(health: Optional[HealthCheck], ready_by_command: bool = False) -> dict:
    """HTTP probes where the service has a health endpoint, TCP where it has only a port. The startup
    probe covers the start period; readiness gates traffic; liveness restarts a wedged process.
    `ready_by_command`: readiness runs the spec's own check (a data service's check proves its
    databases, extension or buckets exist, which its port alone does not)."""
    if health is None:
        return {}
    handler: dict = (
        {"httpGet": {"path": health.path, "port": health.port, "scheme": "HTTP"}}
        if health.path
        else {"tcpSocket": {"port": health.port}}
    )
    ready = (_exec(health.command) if ready_by_command and health.command else None) or handler
    period = min(health.interval_s, 10)
    return {
        "startupProbe": {**handler, "periodSeconds": 5, "timeoutSeconds": health.timeout_s,
                         "failureThreshold": max(1, math.ceil(health.start_period_s / 5)) + health.retries},
        "readinessProbe": {**ready, "periodSeconds": period, "timeoutSeconds": health.timeout_s,
                           "failureThreshold": health.retries},
        "livenessProbe": {**handler, "periodSeconds": max(health.interval_s, 10), "timeoutSeconds": health.timeout_s,
                          "failureThreshold": health.retries + 2},
    }


def volumes(
    spec: ServiceSpec,
    preset: Preset,
    config_map: Optional[pulumi.Input[str]],
    secret_files: Optional[pulumi.Input[str]],
) -> tuple[list[dict], list[dict]]:
    """(pod volumes, container mounts). Files are mounted one by one (subPath) at their paths.
    State of data services comes from volume claim templates (mounted here, declared by the
    StatefulSet); other state is node-local scratch (emptyDir) that a replica can rebuild."""
    pod: list[dict] = []
    mounts: list[dict] = []
    plain = [f for f in spec.files if not f.secret]
    secret = [f for f in spec.files if f.secret]
    if plain:
        pod.append({"name": FILES_VOLUME, "configMap": {"name": config_map, "defaultMode": 0o444}})
        mounts += [{"name": FILES_VOLUME, "mountPath": f.path, "subPath": key, "readOnly": True}
                   for f, key in zip(plain, file_keys(tuple(plain)))]
    if secret:
        pod.append({"name": SECRET_FILES_VOLUME, "secret": {"secretName": secret_files, "defaultMode": 0o440}})
        mounts += [{"name": SECRET_FILES_VOLUME, "mountPath": f.path, "subPath": key, "readOnly": True}
                   for f, key in zip(secret, file_keys(tuple(secret)))]
    for state in spec.state:
        if not is_data_service(spec):
            pod.append({"name": state.volume, "emptyDir": {"sizeLimit": preset.scratch_limit(state.volume)}})
        mounts.append({"name": state.volume, "mountPath": state.path})
    return pod, mounts


def container(spec: ServiceSpec, size: WorkloadSize, profile: Profile, env_list: list[dict],
              mounts: list[dict]) -> dict:
    c: dict = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "env": env_list,
        "resources": size.resources.manifest(),
        "securityContext": profile.container(),
    }
    # Docker's ENTRYPOINT is Kubernetes' command; Docker's CMD is Kubernetes' args.
    if spec.entrypoint:
        c["command"] = list(spec.entrypoint)
    if spec.command:
        c["args"] = list(spec.command)
    if spec.ports:
        c["ports"] = [{"name": p.name, "containerPort": p.number, "protocol": "TCP"} for p in spec.ports]
    if mounts:
        c["volumeMounts"] = mounts
    if not spec.run_once:
        c.update(probes(spec.health, ready_by_command=is_data_service(spec)))
    if spec.liveness_command:
        c["livenessProbe"] = {**_exec(spec.liveness_command), "initialDelaySeconds": 60, "periodSeconds": 60,
                              "timeoutSeconds": 20, "failureThreshold": 3}
    if spec.drain_s:
        c["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", str(spec.drain_s)]}}}
    return c


def sidecar(spec: ServiceSpec, helper: Sidecar) -> dict:
    """A helper container of `spec`'s pod, under its own image's user (the pod's is the main image's)."""
    profile = profile_for(helper.image)
    context = profile.container()
    if profile.user is not None:
        context.update(runAsNonRoot=True, runAsUser=profile.user, runAsGroup=profile.group)
    c: dict = {
        "name": helper.name,
        "image": helper.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": helper.cpu[0], "memory": helper.memory[0]},
                      "limits": {"cpu": helper.cpu[1], "memory": helper.memory[1]}},
        "securityContext": context,
    }
    if helper.args:
        c["args"] = list(helper.args)
    if helper.ports:
        c["ports"] = [{"name": p.name, "containerPort": p.number, "protocol": "TCP"} for p in helper.ports]
    plain = tuple(f for f in spec.files if not f.secret)
    keys = dict(zip((f.path for f in plain), file_keys(plain)))
    if helper.files:
        c["volumeMounts"] = [{"name": FILES_VOLUME, "mountPath": path, "subPath": keys[path], "readOnly": True}
                             for path in helper.files]
    c.update(probes(helper.health))
    return c


def spread(selector: dict[str, str], preset: Preset, replicas: int, rolling: bool) -> list[dict]:
    """Zones first, then nodes. `rolling`: count only pods of the same revision (Deployments)."""
    if preset.spread == "none" or replicas < 2:
        return []
    zone_rule = "DoNotSchedule" if preset.spread == "zones" else "ScheduleAnyway"
    constraints = []
    for key, rule in ((ZONE, zone_rule), (HOSTNAME, "ScheduleAnyway")):
        constraint: dict = {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": rule,
            "labelSelector": {"matchLabels": dict(selector)},
        }
        if rolling:
            constraint["matchLabelKeys"] = ["pod-template-hash"]
        constraints.append(constraint)
    return constraints


def pod_spec(spec: ServiceSpec, profile: Profile, main: dict, pod_volumes: list[dict],
             constraints: list[dict]) -> dict:
    pod: dict = {
        # Service links would inject e.g. API_PORT / DIFY_PORT variables that clash with Dify's own.
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": profile.pod(),
        "containers": [main],
    }
    if profile.share_process_namespace:
        pod["shareProcessNamespace"] = True
    if pod_volumes:
        pod["volumes"] = pod_volumes
    if constraints:
        pod["topologySpreadConstraints"] = constraints
    if spec.run_once:
        # A failed run is a new pod (the Job's bounded backoff), never a restart inside one.
        pod["restartPolicy"] = "Never"
    if spec.grace_period_s != 30:
        pod["terminationGracePeriodSeconds"] = spec.grace_period_s
    return pod
