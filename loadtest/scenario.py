"""The simulated users: a chat app's user (streaming chat, file upload), a knowledge base's client
(retrieval) and a console user (sign-in, then the app and knowledge lists)."""

from __future__ import annotations

import io
import time
import uuid
from typing import Optional

from locust import HttpUser, between, task
from locust.exception import StopUser
from requests import RequestException

from loadtest import dify, metrics
from loadtest.credentials import Credentials

# connect, read: a stream may wait long between events while the model thinks (Dify pings every 10 s).
STREAM_TIMEOUT = (10, 120)
TIMEOUT = (10, 60)
UPLOAD_CONTENT = b"Dify load test upload.\n" * 40


def _failure(response) -> str:
    """`HTTP <status> <code>: <message>` from a Dify error body, or the start of the body."""
    if not response.status_code:
        return f"no answer: {type(getattr(response, 'error', None)).__name__}"
    body = _json(response)
    if isinstance(body, dict):
        detail = f"{body.get('code', '')}: {body.get('message', '')}"
    else:
        detail = (response.text or "")[:120]
    return f"HTTP {response.status_code} {detail}".strip()


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _expect_json(response, status: tuple[int, ...], key: str) -> None:
    """Marks a `catch_response` response good only if it has an expected status and a JSON body with `key`."""
    if response.status_code not in status:
        response.failure(_failure(response))
        return
    body = _json(response)
    if not isinstance(body, dict) or key not in body:
        response.failure(f"HTTP {response.status_code}: no {key!r} in a JSON answer")
    else:
        response.success()


class _DifyUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    def _timing(self, name: str, started: float, length: int = 0) -> None:
        """Records the time since `started` under `name`, as a timing inside a request (metrics.TIMING)."""
        self.environment.events.request.fire(
            request_type=metrics.TIMING, name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=length, exception=None, context={},
        )


class ChatUser(_DifyUser):
    abstract = True
    weight = 3
    app_key: str = ""
    query: str = ""
    inputs: dict = {}

    def on_start(self) -> None:
        self.end_user = f"loadtest-{uuid.uuid4().hex[:12]}"
        self.auth = {"Authorization": f"Bearer {self.app_key}"}

    @task(4)
    def chat(self) -> None:
        started = time.perf_counter()
        body = dify.chat_body(self.query, self.end_user, self.inputs)
        with self.client.post(dify.CHAT, json=body, headers=self.auth, stream=True, catch_response=True,
                              name=metrics.CHAT, timeout=STREAM_TIMEOUT) as response:
            if response.status_code != 200:
                response.failure(_failure(response))
                return
            problem = self._read_stream(response, started)
            if problem:
                response.failure(problem)
            else:
                response.success()

    def _read_stream(self, response, started: float) -> Optional[str]:
        first_byte = first_token = False
        length = 0
        try:
            for line in response.iter_lines():
                length += len(line) + 1
                if not first_byte:
                    first_byte = True
                    self._timing(metrics.CHAT_FIRST_BYTE, started)
                for event in dify.sse_events([line]):
                    if event.get("event") == dify.ERROR_EVENT:
                        return dify.error_message(event)
                    if not first_token and dify.is_token(event):
                        first_token = True
                        self._timing(metrics.CHAT_FIRST_TOKEN, started)
                    if event.get("event") == dify.END_EVENT:
                        self._timing(metrics.CHAT_STREAM, started, length)
                        return None
        except (RequestException, ValueError) as error:
            return f"stream broken: {type(error).__name__}"
        finally:
            response.close()
        return "stream ended without message_end"

    @task(1)
    def upload(self) -> None:
        files = {"file": ("loadtest.txt", io.BytesIO(UPLOAD_CONTENT), "text/plain")}
        with self.client.post(dify.UPLOAD, files=files, data={"user": self.end_user}, headers=self.auth,
                              catch_response=True, name=metrics.UPLOAD, timeout=TIMEOUT) as response:
            _expect_json(response, (200, 201), "id")


class KnowledgeUser(_DifyUser):
    abstract = True
    weight = 1
    dataset_key: str = ""
    dataset_id: str = ""
    query: str = ""

    @task
    def retrieve(self) -> None:
        with self.client.post(dify.retrieve_path(self.dataset_id), json=dify.retrieve_body(self.query),
                              headers={"Authorization": f"Bearer {self.dataset_key}"}, catch_response=True,
                              name=metrics.RETRIEVE, timeout=TIMEOUT) as response:
            _expect_json(response, (200,), "records")


class ConsoleUser(_DifyUser):
    abstract = True
    weight = 1
    email: Optional[str] = None
    password: Optional[str] = None
    access_token: Optional[str] = None
    csrf_token: Optional[str] = None

    def on_start(self) -> None:
        if self.password is not None:
            self._login()
        else:
            self.client.headers["Cookie"] = dify.session_cookie(self.access_token, self.csrf_token)
            self.client.headers[dify.CSRF_HEADER] = self.csrf_token

    def _login(self) -> None:
        with self.client.post(dify.LOGIN, json=dify.login_body(self.email, self.password), catch_response=True,
                              name=metrics.LOGIN, timeout=TIMEOUT) as response:
            body = _json(response) if response.status_code == 200 else None
            if not isinstance(body, dict) or body.get("result") != "success":
                refused = isinstance(body, dict) and body.get("data")
                response.failure(f"login refused: {body['data']}" if refused else _failure(response))
                raise StopUser()
            response.success()
        # Releases before the cookie sign-in returned the tokens in the body.
        data = body.get("data")
        if isinstance(data, dict) and data.get("access_token"):
            self.client.headers["Authorization"] = f"Bearer {data['access_token']}"
        csrf = dify.csrf_from_cookies(self.client.cookies)
        if csrf:
            self.client.headers[dify.CSRF_HEADER] = csrf

    def _get(self, path: str, name: str, key: str, params: Optional[dict] = None) -> None:
        with self.client.get(path, params=params, catch_response=True, name=name, timeout=TIMEOUT) as response:
            _expect_json(response, (200,), key)

    @task(3)
    def apps(self) -> None:
        self._get(dify.APPS, metrics.APPS, "data", dify.FIRST_PAGE)

    @task(1)
    def datasets(self) -> None:
        self._get(dify.DATASETS, metrics.DATASETS, "data", dify.FIRST_PAGE)

    @task(1)
    def profile(self) -> None:
        self._get(dify.PROFILE, metrics.PROFILE, "email")


def user_classes(credentials: Credentials, query: str, inputs: dict) -> list[type[HttpUser]]:
    """One user class per scenario the credentials allow."""
    classes: list[type[HttpUser]] = []
    if credentials.app_key:
        classes.append(type("ChatUser", (ChatUser,), {
            "abstract": False, "app_key": credentials.app_key, "query": query, "inputs": inputs,
        }))
    if credentials.dataset_key:
        classes.append(type("KnowledgeUser", (KnowledgeUser,), {
            "abstract": False, "dataset_key": credentials.dataset_key, "dataset_id": credentials.dataset_id,
            "query": query,
        }))
    if credentials.console:
        console = credentials.console
        classes.append(type("ConsoleUser", (ConsoleUser,), {
            "abstract": False, "email": console.email, "password": console.password,
            "access_token": console.access_token, "csrf_token": console.csrf_token,
        }))
    return classes
