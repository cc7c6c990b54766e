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
    if not mirror:
        return image
    repository = image if "/" in image.split(":", 1)[0] else f"library/{image}"
    return f"{mirror}/{repository}"
