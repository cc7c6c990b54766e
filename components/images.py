"""Image references. Every tag is pinned; a registry mirror replaces Docker Hub when set."""

from __future__ import annotations

from typing import Optional

# Infrastructure images, pinned to exact releases (never a floating tag).
NGINX = "nginx:1.30.5-alpine"  # stable branch
SQUID = "ubuntu/squid:6.6-24.04_beta"  # Canonical's LTS track (supported to 2029)
POSTGRES_PGVECTOR = "pgvector/pgvector:0.8.6-pg17"
REDIS = "redis:7.4.10-alpine"
# SeaweedFS: an S3-compatible store under active development (Apache-2.0). MinIO's community
# edition stopped shipping images in 2025 and its repository is archived.
SEAWEEDFS = "chrislusf/seaweedfs:4.47"
# Prometheus exporters (components.monitoring), each at its project's newest release.
NGINX_EXPORTER = "nginx/nginx-prometheus-exporter:1.5.3"
NGINX_LOG_EXPORTER = "quay.io/martinhelmich/prometheus-nginxlog-exporter:v1.11.0"
REDIS_EXPORTER = "oliver006/redis_exporter:v1.88.0"
POSTGRES_EXPORTER = "prometheuscommunity/postgres-exporter:v0.20.1"
# certbot, the ACME client upstream's compose uses (its `certbot` profile); scripts/tools/certbot.sh installs
# the same release from PyPI for the tests.
CERTBOT = "certbot/certbot:v5.8.0"
# The AWS CLI v2 (uploads restore points to any S3 API).
AWS_CLI = "amazon/aws-cli:2.27.9"

DIFY_API = "langgenius/dify-api"
DIFY_WEB = "langgenius/dify-web"
DIFY_SANDBOX = "langgenius/dify-sandbox"
DIFY_PLUGIN_DAEMON = "langgenius/dify-plugin-daemon"
DIFY_AGENT_BACKEND = "langgenius/dify-agent-backend"
DIFY_AGENT_LOCAL_SANDBOX = "langgenius/dify-agent-local-sandbox"
DIFY_REPOSITORIES = (DIFY_API, DIFY_WEB, DIFY_SANDBOX, DIFY_PLUGIN_DAEMON, DIFY_AGENT_BACKEND, DIFY_AGENT_LOCAL_SANDBOX)


def image_ref(image: str, mirror: Optional[str] = None) -> str:
    """`image` as pulled through `mirror` (a Docker Hub mirror host, optionally with a path).

    Official images live under `library/` on Docker Hub, which mirrors expect spelled out.
    """
    first = image.split("/", 1)[0]
    if not mirror or ("/" in image and ("." in first or ":" in first)):
        return image  # not on Docker Hub (quay.io/...): the mirror does not serve it
    repository = image if "/" in image.split(":", 1)[0] else f"library/{image}"
    return f"{mirror}/{repository}"
