"""Security contexts: what each image needs, and nothing else.

A profile belongs to an image, not to a service: the dify-api image serves api, worker, beat and the
migration job alike. Every container drops ALL capabilities, may not escalate privileges and runs
under the runtime's default seccomp profile; a profile adds back only what that image's own
entrypoint does (switch users, chroot). Images run as a non-root user given by number (so the kubelet
can verify `runAsNonRoot`), with `fsGroup` making volumes writable, and with a read-only root
filesystem where the image's writable paths are known (emptyDirs there). That is Pod Security
`restricted`; the two images that cannot meet it (`level` baseline) run in a second namespace.
All capabilities added here are in the `baseline` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

RESTRICTED, BASELINE = "restricted", "baseline"

from components import images


@dataclass(frozen=True)
class Profile:
    user: Optional[int] = None  # None: the image's own user (root for these images)
    group: Optional[int] = None
    add: tuple[str, ...] = ()
    share_process_namespace: bool = False
    why: str = ""
    # A read-only root filesystem with an emptyDir at each of `writable`.
    read_only: bool = False
    writable: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    # Runs this instead of the image's entrypoint (one that prepares directories as root).
    entrypoint: Optional[tuple[str, ...]] = None
    level: str = RESTRICTED

    def pod(self) -> dict:
        context: dict = {"seccompProfile": {"type": "RuntimeDefault"}}
        if self.user is not None:
            context.update(runAsNonRoot=True, runAsUser=self.user, runAsGroup=self.group, fsGroup=self.group,
                           fsGroupChangePolicy="OnRootMismatch")
        return context

    def container(self) -> dict:
        capabilities: dict = {"drop": ["ALL"]}
        if self.add:
            capabilities["add"] = list(self.add)
        context = {"allowPrivilegeEscalation": False, "privileged": False, "capabilities": capabilities}
        if self.read_only:
            context["readOnlyRootFilesystem"] = True
        return context


# Root daemons that start as root and then switch to an unprivileged user themselves.
_DROPS_PRIVILEGES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")

PROFILES: dict[str, Profile] = {
    # Both Dify images create user `dify` (uid/gid 1001) and switch to it. The api image writes /tmp and
    # its storage directory (beat creates it at start); web writes /tmp, pm2's home /.pm2 (its image
    # creates it for uid 1001) and Next.js's cache.
    images.DIFY_API: Profile(1001, 1001, read_only=True, writable=("/tmp", "/app/api/storage"),
                             why="runs as its own user dify (1001)"),
    images.DIFY_WEB: Profile(1001, 1001, read_only=True, writable=("/tmp", "/.pm2", "/app/web/.next/cache"),
                             why="runs as its own user dify (1001)"),
    # The sandbox runs user code chrooted under an unprivileged uid it switches to per request,
    # kills runaway children owned by that uid, and writes its root.
    images.DIFY_SANDBOX: Profile(add=_DROPS_PRIVILEGES + ("KILL", "SYS_CHROOT"), level=BASELINE,
                                 why="chroot and setuid for each code run"),
    # The agent backend's image creates user dify (1001) and runs as it.
    images.DIFY_AGENT_BACKEND: Profile(1001, 1001, why="runs as its own user dify (1001)"),
    # The local sandbox runs as its image's user `dify` (named, without a fixed uid, so the kubelet cannot
    # check runAsNonRoot); Landlock needs no capability, and no_new_privs suits it. Its jobs live in
    # its root filesystem.
    images.DIFY_AGENT_LOCAL_SANDBOX: Profile(level=BASELINE,
                                             why="its image's own user dify; Landlock needs no capabilities"),
    # The plugin daemon runs plugins as child processes in its working path (an emptyDir). Plugins exit
    # when they see getppid() == 1, which happens as PID 1's children without a shared process
    # namespace (the fix upstream's Helm chart adopted). As uid 1001 its Python tooling caches in HOME.
    images.DIFY_PLUGIN_DAEMON: Profile(1001, 1001, share_process_namespace=True, read_only=True,
                                       writable=("/tmp",), env=(("HOME", "/tmp"),),
                                       why="uid 1001 in its own working path; needs no capabilities"),
    # nginx as its image's user nginx (101) on 8080/8443: no capability; pid in /run, temp files in
    # /var/cache/nginx.
    images.NGINX: Profile(101, 101, read_only=True, writable=("/tmp", "/var/cache/nginx", "/run"),
                          why="runs as nginx (101) on unprivileged ports"),
    # squid as the image's user proxy (13), started directly: the image's entrypoint only prepares
    # log and cache directories as root, which this config does not use (pid and core files in /tmp).
    images.SQUID: Profile(13, 13, read_only=True, writable=("/tmp",),
                          entrypoint=("squid", "-f", "/etc/squid/squid.conf", "-NYC"),
                          why="runs as proxy (13), logs to stdout, caches nothing on disk"),
    # Official postgres and redis images support running directly as their service user, with a
    # read-only root when the socket directory and /tmp are writable.
    images.POSTGRES_PGVECTOR: Profile(999, 999, read_only=True, writable=("/tmp", "/var/run/postgresql"),
                                      why="runs as postgres (999)"),
    images.REDIS: Profile(999, 1000, read_only=True, writable=("/tmp",), why="runs as redis (999:1000)"),
    # SeaweedFS needs only its data directory.
    images.SEAWEEDFS: Profile(1000, 1000, read_only=True, writable=("/tmp",), why="needs only its data directory"),
    # The exporters are static binaries that need nothing writable. nginx-prometheus-exporter and
    # redis_exporter set numeric users in their images; postgres-exporter's is the named `nobody` (65534);
    # the nginx log exporter's released image sets none, 65532 is its own Dockerfile's.
    images.NGINX_EXPORTER: Profile(1001, 1001, read_only=True, why="runs as its image's user 1001"),
    images.NGINX_LOG_EXPORTER: Profile(65532, 65532, read_only=True, why="a static binary as an unprivileged user"),
    images.REDIS_EXPORTER: Profile(59000, 59000, read_only=True, why="runs as its image's user 59000"),
    images.POSTGRES_EXPORTER: Profile(65534, 65534, read_only=True, why="runs as nobody (65534)"),
    # The AWS CLI runs as any user with a writable HOME; the restore point's dump step before it runs as
    # postgres (999), so both share the pod's user.
    images.AWS_CLI: Profile(999, 999, read_only=True, writable=("/tmp",), env=(("HOME", "/tmp"),),
                            why="any user; HOME in /tmp"),
}

DEFAULT = Profile(why="unknown image: no capabilities")


def _repository(ref: str) -> str:
    name = ref.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def profile_for(image: str) -> Profile:
    """The profile of `image`, also when pulled through a mirror (`mirror/library/nginx:tag`)."""
    repository = _repository(image)
    for key, profile in PROFILES.items():
        known = _repository(key)
        if repository == known or repository.endswith(("/" + known, "/library/" + known)):
            return profile
    return DEFAULT
