"""The Kubernetes renderer: turns workload specs into native objects in one namespace.

Per spec:
- a Secret with its secret environment (every secret reaches the container by `secretKeyRef`), a
  Secret with its secret files and a ConfigMap with its other files (nginx and squid config, init
  SQL). They are auto-named and immutable: a changed value creates a new object under a new name,
  which changes the pod template and rolls the workload; the old one is deleted afterwards;
- a Deployment, or for a data service (PostgreSQL, Redis, the object store) a StatefulSet whose
  volume claim template holds the data, or for a `run_once` spec (the database migration) a Job;
- a Service named after the spec (`api`, `plugin-daemon`, `postgres`...), so the host names the
  catalog writes resolve inside the namespace. The entry spec's Service is the way in: type
  LoadBalancer with the target's annotations, or ClusterIP behind an Ingress;
- from the sizing preset: replicas, requests/limits, a PodDisruptionBudget for two or more
  replicas, a HorizontalPodAutoscaler where the preset scales, topology spread over zones and nodes;
- from the image: the security context (see components.kubernetes.security).

Namespaces: Dify's own enforces Pod Security `restricted`; the workloads whose image cannot meet it
(the code sandboxes, see components.kubernetes.security) run in a second one that enforces
`baseline`. Each namespace gets an ExternalName Service for every workload of the other that its
workloads call, so the catalog's host names (`sandbox`, `ssrf-proxy`...) resolve in both, and the
NetworkPolicies of components.kubernetes.network (peers across namespaces by namespace selector).

Pulumi waits for each Deployment/StatefulSet to become ready and for each Job to complete, so
`depends_on` orders the rollout as the Docker renderer's health-gated start does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import cert_manager, network, pods, priority
from components.kubernetes.entry import Entry
from components.kubernetes.security import BASELINE, RESTRICTED, profile_for
from components.kubernetes.sizing import Preset, at_least
from components.workload import ServiceSpec

NAME_LABEL, INSTANCE_LABEL = "app.kubernetes.io/name", "app.kubernetes.io/instance"
# Scale up fast, down one pod a minute after five quiet minutes.
SCALING_BEHAVIOR = {
    "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
    "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 60}]},
}


class KubernetesRuntime(pulumi.ComponentResource):
    """A namespace on a cluster reached through `provider`, and the workloads rendered into it."""

    def __init__(
        self,
        name: str,
        provider: k8s.Provider,
        namespace: str,
        preset: Preset,
        labels: dict[str, str],
        entry: Entry = Entry(),
        storage_class: Optional[str] = None,
        min_volume: Optional[str] = None,
        grow_volumes: bool = True,
        keda_namespace: Optional[str] = None,
        network_policies: bool = True,
        create_namespace: bool = True,
        keep_namespace: bool = True,
        identities: Optional[dict[str, dict[str, str]]] = None,
        isolation: Optional[network.Isolation] = None,
        sandbox_namespace: Optional[str] = None,
        cluster_domain: str = "cluster.local",
        priority_classes: Optional[dict[str, Optional[str]]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:kubernetes:KubernetesRuntime", name, None, opts)
        self.prefix = name
        self.provider = provider
        self.preset = preset
        self.labels = dict(labels)
        self.entry = entry
        self.storage_class = storage_class
        # The smallest volume the storage class provisions; smaller claims ask for it instead.
        self.min_volume = min_volume
        self.grow_volumes = grow_volumes
        self.keda_namespace = keda_namespace
        self.network_policies = network_policies
        self.isolation = isolation or network.Isolation()
        # Data services running as workloads here, by port (the others are reached at isolation.external).
        self.data_ports: dict[str, int] = {}
        # Further workloads of a data service its clients reach, by port (e.g. Redis's sentinels).
        self.data_companions: dict[str, dict[str, int]] = {}
        # The pod labels of a workload that a chart labels itself (by service), instead of the runtime's.
        self.peer_labels: dict[str, dict[str, str]] = {}
        # Every workload runs as its own service account (named after it, no token mounted); a target binds
        # some to cloud identities with these annotations (workload -> annotations, e.g. IRSA's role ARN).
        self.identities = {w: dict(a) for w, a in (identities or {}).items()}
        self.workloads: dict[str, pulumi.Resource] = {}
        self.services: dict[str, k8s.core.v1.Service] = {}
        self.entry_address: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        self._child = pulumi.ResourceOptions(parent=self, provider=provider)
        # Pod Security level -> namespace name; workload -> level, for those not in Dify's own namespace.
        self.namespace_names = {RESTRICTED: namespace, BASELINE: sandbox_namespace or f"{namespace}-sandbox"}
        self.placement: dict[str, str] = {}
        self.cluster_domain = cluster_domain
        self._aliases: set[tuple[str, str]] = set()
        # Tier -> PriorityClass of the pods (None: no classes); `priority_classes` names existing ones.
        self.priorities: Optional[priority.Priorities] = None
        if priority_classes is not None:
            self.priorities = priority.declare(name, priority_classes, self.labels,
                                               pulumi.ResourceOptions(parent=self, provider=provider))

        self.namespaces: dict[str, pulumi.Output[str]] = {}
        for level, logical in ((RESTRICTED, "namespace"), (BASELINE, "sandbox-namespace")):
            if create_namespace:
                ns = k8s.core.v1.Namespace(
                    f"{name}-{logical}",
                    metadata={
                        "name": self.namespace_names[level],
                        "labels": {
                            **self.labels,
                            **(entry.namespace_labels if level == RESTRICTED else {}),
                            "pod-security.kubernetes.io/enforce": level,
                            "pod-security.kubernetes.io/warn": RESTRICTED,
                        },
                    },
                    # Deleting a namespace deletes its volume claims: keep it (and the data) on destroy.
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, retain_on_delete=keep_namespace),
                )
                self.namespaces[level] = ns.metadata.apply(_name)
            else:
                self.namespaces[level] = pulumi.Output.from_input(self.namespace_names[level])
        self.namespace: pulumi.Output[str] = self.namespaces[RESTRICTED]
        self.sandbox_namespace = self.namespaces[BASELINE]
        self._level = RESTRICTED

        if network_policies:
            for level, prefix in ((RESTRICTED, ""), (BASELINE, "baseline-")):
                for policy_name, spec in network.namespace_policies(self.isolation).items():
                    self._policy(f"{prefix}{policy_name}", spec, level=level)
        self.register_outputs({"namespace": self.namespace, "sandboxNamespace": self.sandbox_namespace})

    def place(self, specs) -> None:
        """Puts each workload whose image cannot run under `restricted` in the baseline namespace.
        Call with every spec before rendering any, so policies name peers in the right namespace."""
        for spec in specs:
            if profile_for(spec.image).level == BASELINE:
                self.placement[spec.name] = BASELINE

    # -- helpers ---------------------------------------------------------------------------------

    def _meta(self, name: Optional[str] = None, labels: Optional[dict[str, str]] = None,
              annotations: Optional[dict[str, str]] = None, level: Optional[str] = None) -> dict:
        meta: dict = {"namespace": self.namespaces[level or self._level], "labels": {**self.labels, **(labels or {})}}
        if name is not None:
            meta["name"] = name
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def _policy(self, policy_name: str, spec: dict, parent: Optional[pulumi.Resource] = None,
                level: Optional[str] = None) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{self.prefix}-netpol-{policy_name}",
            metadata=self._meta(f"dify-{policy_name}", level=level),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=parent or self, provider=self.provider),
        )

    def policy(self, policy_name: str, spec: dict, parent: Optional[pulumi.Resource] = None,
               level: Optional[str] = None) -> None:
        """A NetworkPolicy in the namespace of `level` (Dify's own by default), named like the others."""
        self._policy(policy_name, spec, parent, level)

    def selector(self, spec: ServiceSpec) -> dict[str, str]:
        return {INSTANCE_LABEL: self.prefix, NAME_LABEL: spec.name}

    @staticmethod
    def _name_of(resource: pulumi.CustomResource) -> pulumi.Output[str]:
        return resource.metadata.apply(_name)  # type: ignore[attr-defined]

    # -- the Runtime protocol --------------------------------------------------------------------

    def run(
        self,
        spec: ServiceSpec,
        depends_on: Sequence[pulumi.Resource] = (),
        parent: Optional[pulumi.Resource] = None,
    ) -> pulumi.Resource:
        """Renders `spec` (in its namespace); returns its Deployment, StatefulSet or Job."""
        self._level = self.placement.get(spec.name, RESTRICTED)
        try:
            return self._run(spec, depends_on, parent)
        finally:
            self._level = RESTRICTED

    def _run(self, spec: ServiceSpec, depends_on: Sequence[pulumi.Resource],
             parent: Optional[pulumi.Resource]) -> pulumi.Resource:
        owner = parent or self
        child = pulumi.ResourceOptions(parent=owner, provider=self.provider)
        selector = self.selector(spec)
        component = {"app.kubernetes.io/component": spec.upstream_name}
        size = self.preset.of(spec.name)
        profile = profile_for(spec.image)
        stateful = pods.is_data_service(spec) and bool(spec.state)
        replicas = 1 if (spec.singleton or stateful or spec.run_once) else size.replicas

        labels = {**selector, **component}
        env_secret = self._secret(f"{spec.name}-env", dict(spec.secret_env), labels, owner)
        plain = tuple(f for f in spec.files if not f.secret)
        secret = tuple(f for f in spec.files if f.secret)
        files_secret = self._secret(f"{spec.name}-files",
                                    {key: f.content for f, key in zip(secret, pods.file_keys(secret))}, labels, owner)
        config_map = None
        if plain:
            config_map = k8s.core.v1.ConfigMap(
                f"{self.prefix}-{spec.name}-files",
                metadata=self._meta(labels=labels),
                immutable=True,
                data={key: f.content for f, key in zip(plain, pods.file_keys(plain))},
                opts=child,
            )

        pod_volumes, mounts = pods.volumes(
            spec, self.preset,
            self._name_of(config_map) if config_map else None,
            self._name_of(files_secret) if files_secret else None,
        )
        main = pods.container(spec, size, profile, pods.env(spec, self._name_of(env_secret) if env_secret else None),
                              mounts)
        self._harden(spec, profile, main, pod_volumes)
        constraints = pods.spread(selector, self.preset, replicas, rolling=not stateful)
        if spec.prepare is not None:
            # One pod, one contract: its policies let it reach what either step uses.
            first = self._prepare(spec.prepare, size, mounts, pod_volumes, labels, owner)
            spec = replace(spec, data=spec.data | spec.prepare.data)
        template = {
            "metadata": {"labels": {**self.labels, **selector, **component, **network.labels(spec)}},
            "spec": pods.pod_spec(spec, profile, main, pod_volumes, constraints),
        }
        template["spec"]["containers"] += [pods.sidecar(spec, s) for s in spec.sidecars]
        if spec.prepare is not None:
            template["spec"]["initContainers"] = [first]
        account = k8s.core.v1.ServiceAccount(
            f"{self.prefix}-{spec.name}-account",
            metadata=self._meta(spec.name, labels=labels, annotations=self.identities.get(spec.name)),
            automount_service_account_token=False,
            opts=child,
        )
        template["spec"]["serviceAccountName"] = spec.name
        classes: list[pulumi.Resource] = []
        if self.priorities is not None:
            template["spec"]["priorityClassName"] = self.priorities.names[spec.priority]
            classes = list(self.priorities.created)
        # Named objects cannot be created before their predecessor is gone.
        workload_opts = pulumi.ResourceOptions(parent=owner, provider=self.provider,
                                               depends_on=[*depends_on, account, *classes],
                                               delete_before_replace=not spec.run_once)

        workload: pulumi.Resource
        if spec.run_once:
            workload = k8s.batch.v1.Job(
                f"{self.prefix}-{spec.name}",
                metadata=self._meta(labels=labels),
                spec={"backoffLimit": 2, "template": template},
                opts=pulumi.ResourceOptions.merge(
                    workload_opts, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="30m"))
                ),
            )
        elif stateful:
            workload = k8s.apps.v1.StatefulSet(
                f"{self.prefix}-{spec.name}",
                metadata=self._meta(spec.name, labels=labels),
                spec={
                    "serviceName": spec.name,
                    "replicas": 1,
                    "selector": {"matchLabels": selector},
                    "podManagementPolicy": "OrderedReady",
                    "updateStrategy": {"type": "RollingUpdate"},
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                    "template": template,
                    "volumeClaimTemplates": [self._claim(m.volume, selector) for m in spec.state],
                },
                # Claims outlive the StatefulSet (Retain); in production the set itself is protected too.
                # Claim templates are immutable: a size change would replace the set. They only shape the
                # first claim; later sizes reach the claims through the patches below.
                opts=pulumi.ResourceOptions.merge(
                    workload_opts, pulumi.ResourceOptions(protect=self.preset.name == "production",
                                                          ignore_changes=["spec.volumeClaimTemplates"]),
                ),
            )
            for mount in spec.state if self.grow_volumes else ():
                self._grow_claim(spec, mount.volume, workload, owner)
        else:
            autoscaled = size.autoscaled and not spec.singleton
            workload = k8s.apps.v1.Deployment(
                f"{self.prefix}-{spec.name}",
                metadata=self._meta(spec.name, labels=labels),
                spec={
                    "replicas": replicas,
                    "revisionHistoryLimit": 5,
                    "selector": {"matchLabels": selector},
                    "strategy": (
                        # A singleton (beat) must never run twice, not even during a rollout.
                        {"type": "Recreate"} if spec.singleton
                        else {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
                    ),
                    "template": template,
                },
                # Once created, the autoscaler owns the replica count.
                opts=pulumi.ResourceOptions.merge(
                    workload_opts, pulumi.ResourceOptions(ignore_changes=["spec.replicas"] if autoscaled else None)
                ),
            )
            if autoscaled and self.keda_namespace and spec.queue_scaling and env_secret is not None:
                self._queue_scaler(spec, size, self._name_of(env_secret), workload, owner)
            elif autoscaled:
                self._autoscaler(spec, size, workload, owner)
        if replicas >= 2 and not spec.run_once:
            k8s.policy.v1.PodDisruptionBudget(
                f"{self.prefix}-{spec.name}",
                metadata=self._meta(spec.name, labels=labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": selector},
                      "unhealthyPodEvictionPolicy": "AlwaysAllow"},
                opts=child,
            )
        if spec.ports and not spec.run_once:
            self._service(spec, selector, component, owner)
        if stateful and spec.ports:
            self.data_ports[spec.name] = spec.ports[0].number
        if self.network_policies:
            self._isolate(spec, selector, owner)
        for call in spec.calls:
            self._alias(call.service, owner)
        self.workloads[spec.name] = workload
        return workload

    # -- pieces ----------------------------------------------------------------------------------

    def _harden(self, spec: ServiceSpec, profile, main: dict, pod_volumes: list[dict]) -> None:
        """The profile's writable paths as emptyDirs under a read-only root, its env and entrypoint."""
        for index, path in enumerate(profile.writable):
            pod_volumes.append({"name": f"writable-{index}", "emptyDir": {"sizeLimit": "2Gi"}})
            main.setdefault("volumeMounts", []).append({"name": f"writable-{index}", "mountPath": path})
        given = {e["name"] for e in main["env"]}
        main["env"] += [{"name": k, "value": v} for k, v in profile.env if k not in given]
        if profile.entrypoint and not spec.entrypoint:
            main["command"] = list(profile.entrypoint)
        if spec.writes_image:
            main["securityContext"].pop("readOnlyRootFilesystem", None)

    def _prepare(self, step: ServiceSpec, size, mounts: list[dict], pod_volumes: list[dict], labels: dict[str, str],
                 owner: pulumi.Resource) -> dict:
        """The step that runs before the main container, as an init container of the same pod: its own
        Secret and image profile, the main container's mounts of the state it shares."""
        secret = self._secret(f"{step.name}-env", dict(step.secret_env), labels, owner)
        profile = profile_for(step.image)
        shared = {m.volume for m in step.state}
        init = pods.container(step, size, profile, pods.env(step, self._name_of(secret) if secret else None),
                              [m for m in mounts if m["name"] in shared])
        for index, path in enumerate(profile.writable):
            pod_volumes.append({"name": f"{step.name}-writable-{index}", "emptyDir": {"sizeLimit": "2Gi"}})
            init.setdefault("volumeMounts", []).append({"name": f"{step.name}-writable-{index}", "mountPath": path})
        given = {e["name"] for e in init["env"]}
        init["env"] += [{"name": k, "value": v} for k, v in profile.env if k not in given]
        return init

    def _peer(self, service: str, seen_from: Optional[str] = None) -> dict:
        """A peer selecting `service`'s pods, from a policy in the namespace of level `seen_from`."""
        labels = self.peer_labels.get(service, {INSTANCE_LABEL: self.prefix, NAME_LABEL: service})
        peer: dict = {"podSelector": {"matchLabels": dict(labels)}}
        level = self.placement.get(service, RESTRICTED)
        if level != (seen_from or self._level):
            peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": self.namespace_names[level]}}
        return peer

    def _alias(self, service: str, owner: pulumi.Resource) -> None:
        """An ExternalName Service in the current namespace for `service` in the other one."""
        level = self.placement.get(service, RESTRICTED)
        if level == self._level or (self._level, service) in self._aliases:
            return
        self._aliases.add((self._level, service))
        k8s.core.v1.Service(
            f"{self.prefix}-{service}-alias-{self._level}",
            metadata=self._meta(service, labels={INSTANCE_LABEL: self.prefix}),
            spec={"type": "ExternalName",
                  "externalName": f"{service}.{self.namespace_names[level]}.svc.{self.cluster_domain}"},
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider),
        )

    def _isolate(self, spec: ServiceSpec, selector: dict[str, str], owner: pulumi.Resource) -> None:
        """The spec's own egress, and on each workload it calls an ingress rule for it on those ports."""
        egress = network.egress_policy(spec, selector, self._peer, self.isolation, self.data_ports,
                                       cloud_identity=spec.name in self.identities,
                                       companions=self.data_companions)
        if egress is not None:
            self._policy(f"{spec.name}-egress", egress, owner)
        ports: dict[str, list[int]] = {}
        for call in spec.calls:
            ports.setdefault(call.service, []).append(call.port)
        for data in spec.data:
            if data in self.data_ports:
                ports.setdefault(data, []).append(self.data_ports[data])
                for companion, port in self.data_companions.get(data, {}).items():
                    ports.setdefault(companion, []).append(port)
        for callee, numbers in sorted(ports.items()):
            level = self.placement.get(callee, RESTRICTED)
            self._policy(f"from-{spec.name}-to-{callee}",
                         network.ingress_policy(self._peer(callee)["podSelector"]["matchLabels"],
                                                self._peer(spec.name, seen_from=level), sorted(set(numbers))),
                         owner, level=level)

    def _secret(self, logical: str, values: dict[str, pulumi.Input[str]], labels: dict[str, str],
                owner: pulumi.Resource) -> Optional[k8s.core.v1.Secret]:
        """An Opaque Secret holding `values` (None when there are none), secret in state and inputs."""
        if not values:
            return None
        return k8s.core.v1.Secret(
            f"{self.prefix}-{logical}",
            metadata=self._meta(labels=labels),
            type="Opaque",
            immutable=True,
            string_data=pulumi.Output.secret(pulumi.Output.all(**values)),
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider,
                                        additional_secret_outputs=["data", "stringData"]),
        )

    def volume_size(self, size: str) -> str:
        return at_least(size, self.min_volume)

    def _claim(self, volume: str, selector: dict[str, str]) -> dict:
        claim: dict = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": self.volume_size(self.preset.volume(volume))}},
        }
        if self.storage_class:
            claim["storageClassName"] = self.storage_class
        return {"metadata": {"name": volume, "labels": {**self.labels, **selector}}, "spec": claim}

    def _grow_claim(self, spec: ServiceSpec, volume: str, workload: pulumi.Resource, owner: pulumi.Resource) -> None:
        """The preset's size on the claim the StatefulSet made (`<volume>-<set>-0`), patched in place: the
        volume grows where the storage class allows expansion; a smaller size is refused by the API server
        (claims never shrink), and nothing is replaced either way."""
        k8s.core.v1.PersistentVolumeClaimPatch(
            f"{self.prefix}-{volume}-claim",
            metadata={"name": f"{volume}-{spec.name}-0", "namespace": self.namespace,
                      "annotations": {"pulumi.com/patchForce": "true"}},
            spec={"resources": {"requests": {"storage": self.volume_size(self.preset.volume(volume))}}},
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider, depends_on=[workload]),
        )

    def _queue_scaler(self, spec: ServiceSpec, size, secret_name: pulumi.Output[str], workload: pulumi.Resource,
                      owner: pulumi.Resource) -> None:
        """A KEDA ScaledObject (KEDA makes and owns the HPA): replicas follow the longest Celery queue's
        backlog, `per_replica` waiting tasks per replica, and CPU as the HPA would."""
        queues = spec.queue_scaling
        assert queues is not None
        child = pulumi.ResourceOptions(parent=owner, provider=self.provider, depends_on=[workload])
        auth = k8s.apiextensions.CustomResource(
            f"{self.prefix}-{spec.name}-keda-auth",
            api_version="keda.sh/v1alpha1", kind="TriggerAuthentication",
            metadata=self._meta(f"{spec.name}-redis", labels=self.selector(spec)),
            spec={"secretTargetRef": [{"parameter": "password", "name": secret_name, "key": queues.password_key}]},
            opts=child,
        )
        if self.network_policies:
            # KEDA's operator reads the queues' lengths: a Redis in this namespace lets it in.
            self._policy(f"keda-{spec.name}", {
                "podSelector": {"matchLabels": {INSTANCE_LABEL: self.prefix, NAME_LABEL: "redis"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": self.keda_namespace}}}],
                    "ports": [{"protocol": "TCP", "port": queues.port}]}],
            }, owner)
        address = pulumi.Output.all(queues.host, queues.port).apply(lambda a: f"{a[0]}:{int(a[1])}")
        triggers: list = [{
            "type": "redis",
            "metadata": {"address": address, "listName": queue, "listLength": str(queues.per_replica),
                         "databaseIndex": str(queues.db), "enableTLS": "true" if queues.tls else "false"},
            "authenticationRef": {"name": f"{spec.name}-redis"},
        } for queue in queues.queues]
        triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(size.cpu_target)}})
        k8s.apiextensions.CustomResource(
            f"{self.prefix}-{spec.name}-keda",
            api_version="keda.sh/v1alpha1", kind="ScaledObject",
            metadata=self._meta(spec.name, labels=self.selector(spec)),
            spec={
                "scaleTargetRef": {"name": spec.name},
                "minReplicaCount": size.replicas,
                "maxReplicaCount": size.max_replicas,
                "pollingInterval": 15,
                "cooldownPeriod": 300,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": SCALING_BEHAVIOR}},
                "triggers": triggers,
            },
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider, depends_on=[workload, auth]),
        )

    def _autoscaler(self, spec: ServiceSpec, size, workload: pulumi.Resource, owner: pulumi.Resource) -> None:
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self.prefix}-{spec.name}",
            metadata=self._meta(spec.name, labels=self.selector(spec)),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
                "minReplicas": size.replicas,
                "maxReplicas": size.max_replicas,
                "metrics": [{
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                           "averageUtilization": size.cpu_target}},
                }],
                "behavior": SCALING_BEHAVIOR,
            },
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider, depends_on=[workload]),
        )

    def _service(self, spec: ServiceSpec, selector: dict[str, str], component: dict[str, str],
                 owner: pulumi.Resource) -> None:
        ports = [{"name": p.name, "port": p.number, "targetPort": p.name, "protocol": "TCP"} for p in spec.ports]
        service_spec: dict = {"type": "ClusterIP", "selector": dict(selector), "ports": ports}
        annotations: dict[str, str] = {}
        public = bool(spec.public_ports)
        entry = self.entry
        if public and entry.kind == "loadBalancer":
            by_number = {p.number: p.name for p in spec.ports}
            ports = [{"name": p.name, "port": p.host, "targetPort": by_number[p.container], "protocol": "TCP"}
                     for p in spec.public_ports]
            if entry.tls_at_load_balancer and not any(p["name"] == "https" for p in ports):
                # The balancer terminates TLS on 443 and forwards plain HTTP to nginx.
                ports.append({"name": "https", "port": 443, "targetPort": by_number[spec.public_ports[0].container],
                              "protocol": "TCP"})
            # Local: the balancer's packets reach nginx with the client's address, not a node's (kube-proxy
            # would masquerade them on their way to another node); nginx limits per client address.
            service_spec.update(type="LoadBalancer", ports=ports, externalTrafficPolicy="Local")
            if entry.source_ranges:
                service_spec["loadBalancerSourceRanges"] = list(entry.source_ranges)
            if entry.load_balancer_class:
                service_spec["loadBalancerClass"] = entry.load_balancer_class
            annotations = dict(entry.annotations)
            if not entry.wait_for_address:
                # Clusters without a load-balancer implementation never give an address.
                annotations["pulumi.com/skipAwait"] = "true"
        elif public and entry.kind == "nodePort":
            by_number = {p.number: p.name for p in spec.ports}
            service_spec.update(type="NodePort", ports=[
                {"name": p.name, "port": p.host, "targetPort": by_number[p.container], "protocol": "TCP",
                 **({"nodePort": entry.node_port} if entry.node_port and p.name == "http" else {})}
                for p in spec.public_ports])
        service = k8s.core.v1.Service(
            f"{self.prefix}-{spec.name}",
            metadata=self._meta(spec.name, labels={**selector, **component}, annotations=annotations),
            spec=service_spec,
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider),
        )
        self.services[spec.name] = service
        if not public:
            return
        if self.network_policies:
            self._policy("entry", network.entry_policy(selector, [p.container for p in spec.public_ports]), owner)
            if entry.http01_solver:
                self._policy("acme-solver", cert_manager.solver_policy(), owner)
        if entry.kind == "loadBalancer":
            self.entry_address = service.status.apply(_first_address)
            return
        if entry.kind in ("nodePort", "clusterIP"):
            # No address to report: users reach nginx on a node's port, or through `kubectl port-forward`.
            return
        rule: dict = {"http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": spec.name, "port": {"name": spec.ports[0].name}}},
        }]}}
        ingress_spec: dict = {"rules": [{**({"host": entry.ingress_host} if entry.ingress_host else {}), **rule}]}
        if entry.ingress_class:
            ingress_spec["ingressClassName"] = entry.ingress_class
        tls_secret = entry.ingress_tls_secret
        if tls_secret is None and entry.tls_certificate is not None and entry.tls_key is not None:
            tls_secret = self.tls_secret(f"{spec.name}-tls", entry.tls_certificate, entry.tls_key)
        if tls_secret is not None:
            ingress_spec["tls"] = [{"hosts": [entry.ingress_host], "secretName": tls_secret}]
        ingress = k8s.networking.v1.Ingress(
            f"{self.prefix}-{spec.name}",
            metadata=self._meta(spec.name, labels={**selector, **component}, annotations=entry.annotations),
            spec=ingress_spec,
            opts=pulumi.ResourceOptions(parent=owner, provider=self.provider, depends_on=[service]),
        )
        self.entry_address = ingress.status.apply(_first_address)

    def tls_secret(self, name: str, certificate: pulumi.Output[str], key: pulumi.Output[str]) -> pulumi.Output[str]:
        """A kubernetes.io/tls Secret (for an Ingress); returns its generated name."""
        secret = k8s.core.v1.Secret(
            f"{self.prefix}-{name}",
            metadata=self._meta(),
            type="kubernetes.io/tls",
            immutable=True,
            string_data=pulumi.Output.secret(pulumi.Output.all(certificate, key).apply(
                lambda pair: {"tls.crt": pair[0], "tls.key": pair[1]})),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider,
                                        additional_secret_outputs=["data", "stringData"]),
        )
        return self._name_of(secret)


def _field(obj, snake: str, camel: str):
    """A field of a provider output type (attribute, snake_case) or of a plain dict (camelCase)."""
    if obj is None:
        return None
    if hasattr(type(obj), snake):
        return getattr(obj, snake)
    if isinstance(obj, dict):
        return obj.get(camel)
    return None


def _name(metadata) -> Optional[str]:
    return _field(metadata, "name", "name")


def _first_address(status) -> Optional[str]:
    """The load balancer's host name or IP from a Service's or Ingress's status (None until known)."""
    ingress = _field(_field(status, "load_balancer", "loadBalancer"), "ingress", "ingress")
    if not ingress:
        return None
    first = ingress[0]
    return _field(first, "hostname", "hostname") or _field(first, "ip", "ip")
