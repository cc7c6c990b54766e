"""The Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards, v1.33) as a
checker over a pod spec: `violations(pod_spec, level)` lists what the admission controller would refuse."""

from __future__ import annotations

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
LEVELS = ("privileged", "baseline", "restricted")


def _containers(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod["containers"], *pod.get("ephemeralContainers", [])]


def baseline(pod: dict) -> list[str]:
    found = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            found.append(f"{key}")
    pod_context = pod.get("securityContext", {})
    if pod_context.get("seccompProfile", {}).get("type") == "Unconfined":
        found.append("pod seccomp Unconfined")
    for sysctl in pod_context.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl['name']}")
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            found.append(f"hostPath volume {volume['name']}")
    for c in _containers(pod):
        context = c.get("securityContext", {})
        if context.get("privileged"):
            found.append(f"{c['name']}: privileged")
        extra = set(context.get("capabilities", {}).get("add", [])) - BASELINE_CAPABILITIES
        if extra:
            found.append(f"{c['name']}: capabilities {sorted(extra)}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            found.append(f"{c['name']}: hostPort")
        if context.get("seccompProfile", {}).get("type") == "Unconfined":
            found.append(f"{c['name']}: seccomp Unconfined")
        if context.get("procMount", "Default") != "Default":
            found.append(f"{c['name']}: procMount")
        if context.get("windowsOptions", {}).get("hostProcess"):
            found.append(f"{c['name']}: hostProcess")
    return found


def restricted(pod: dict) -> list[str]:
    found = baseline(pod)
    pod_context = pod.get("securityContext", {})
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {sorted(kinds)}")
    for c in _containers(pod):
        context = c.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{c['name']}: allowPrivilegeEscalation not false")
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"{c['name']}: runAsNonRoot not true")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"{c['name']}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{c['name']}: seccomp {seccomp}")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"{c['name']}: does not drop ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{c['name']}: adds {sorted(set(capabilities['add']) - {'NET_BIND_SERVICE'})}")
    return found


def violations(pod: dict, level: str) -> list[str]:
    return {"privileged": lambda p: [], "baseline": baseline, "restricted": restricted}[level](pod)
