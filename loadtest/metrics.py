"""The names the load test records its requests under, and which target each one counts towards."""

from __future__ import annotations

CHAT = "POST /v1/chat-messages"
UPLOAD = "POST /v1/files/upload"
RETRIEVE = "POST /v1/datasets/{id}/retrieve"
LOGIN = "POST /console/api/login"
APPS = "GET /console/api/apps"
DATASETS = "GET /console/api/datasets"
PROFILE = "GET /console/api/account/profile"

# Timings inside a chat's stream, recorded under their own request type: they are not requests of their
# own, so they count towards neither the request rate nor the error rate.
TIMING = "SSE"
CHAT_FIRST_BYTE = "chat: first byte"
CHAT_FIRST_TOKEN = "chat: first token"
CHAT_STREAM = "chat: full stream"

# target -> the recorded names whose p95 it bounds
GROUPS: dict[str, tuple[str, ...]] = {
    "first_token": (CHAT_FIRST_TOKEN,),
    "service_api": (UPLOAD, RETRIEVE),
    "console": (LOGIN, APPS, DATASETS, PROFILE),
}
GROUP_TITLES = {
    "first_token": "p95 chat, first token",
    "service_api": "p95 service API",
    "console": "p95 console",
}
# which scenario (credentials.Credentials.scenarios) exercises each group
GROUP_SCENARIOS = {
    "first_token": {"chat"},
    "service_api": {"chat", "knowledge"},
    "console": {"console"},
}
