"""Dify's HTTP API as the load test speaks it (Dify 1.13 and 1.16).

Console: `POST /console/api/login` takes the password Base64-encoded (the web app sends it so, and the api
decodes it before checking) and answers `{"result": "success"}`, setting the `access_token`,
`refresh_token` and `csrf_token` cookies (prefixed `__Host-` when the console is served over HTTPS). Every
signed-in console request must carry the CSRF cookie's value in the `X-CSRF-Token` header.

Service API: `Authorization: Bearer <key>`; `POST /v1/chat-messages` with `response_mode: streaming`
answers with Server-Sent Events, one JSON object per `data:` line (`message` / `agent_message` events carry
the answer's text, `message_end` closes the answer, `error` reports a failure inside a 200 stream, and a
bare `event: ping` line keeps the connection alive).
"""

from __future__ import annotations

import base64
import json
from typing import Iterable, Iterator, Mapping, Optional

LOGIN = "/console/api/login"
APPS = "/console/api/apps"
DATASETS = "/console/api/datasets"
PROFILE = "/console/api/account/profile"
FIRST_PAGE = {"page": 1, "limit": 20}
CHAT = "/v1/chat-messages"
UPLOAD = "/v1/files/upload"


def retrieve_path(dataset_id: str) -> str:
    return f"/v1/datasets/{dataset_id}/retrieve"


CSRF_HEADER = "X-CSRF-Token"
ACCESS_COOKIE = "access_token"
CSRF_COOKIE = "csrf_token"
SECURE_PREFIX = "__Host-"

TOKEN_EVENTS = frozenset({"message", "agent_message"})
END_EVENT = "message_end"
ERROR_EVENT = "error"


def encode_password(password: str) -> str:
    return base64.b64encode(password.encode("utf-8")).decode("ascii")


def login_body(email: str, password: str) -> dict:
    return {"email": email, "password": encode_password(password), "remember_me": False}


def session_cookie(access_token: str, csrf_token: str) -> str:
    """A `Cookie` header for a signed-in session, under both names: the api expects the `__Host-` ones when
    its console URLs are HTTPS and no COOKIE_DOMAIN is set, the plain ones otherwise."""
    pairs = [(ACCESS_COOKIE, access_token), (CSRF_COOKIE, csrf_token)]
    return "; ".join(f"{prefix}{name}={value}" for prefix in ("", SECURE_PREFIX) for name, value in pairs)


def csrf_from_cookies(cookies: Mapping[str, str]) -> Optional[str]:
    return cookies.get(SECURE_PREFIX + CSRF_COOKIE) or cookies.get(CSRF_COOKIE)


def chat_body(query: str, user: str, inputs: Optional[dict] = None) -> dict:
    return {
        "inputs": inputs or {},
        "query": query,
        "response_mode": "streaming",
        "conversation_id": "",
        "user": user,
        "files": [],
    }


def retrieve_body(query: str) -> dict:
    return {"query": query}


def sse_events(lines: Iterable[bytes | str]) -> Iterator[dict]:
    """The JSON events of an SSE stream, given its lines; pings, comments and blank lines are skipped."""
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not line.startswith("data:"):
            continue
        payload = line[len("data:"):].strip()
        if payload:
            yield json.loads(payload)


def is_token(event: dict) -> bool:
    return event.get("event") in TOKEN_EVENTS and bool(event.get("answer"))


def error_message(event: dict) -> str:
    return f"stream error event: {event.get('code') or ''} {event.get('message') or ''}".strip()
