"""`python -m loadtest` against a local stand-in of Dify's API: it passes when the stand-in is fast, fails
for the right reason when it is slow or erroring, writes its report and never writes a secret.

Locust patches the standard library with gevent when imported, so the load runs in subprocesses
(`python -m loadtest ...`); this module imports only the parts of the package that do not import Locust.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, Response, g, jsonify, request, stream_with_context
from werkzeug.serving import WSGIRequestHandler, make_server

from loadtest import cli, credentials, dify, metrics
from loadtest.presets import PRESETS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EMAIL = "loadtest@example.com"
# production has the tightest targets; the throughput target scales with --users.
LOAD_ARGS = ["--preset", "production", "--users", "5", "--spawn-rate", "5", "--duration", "3s"]
SLOW_S = 1.2


@dataclass
class Behaviour:
    delay_s: float = 0.0
    fail_every: int = 0  # each endpoint's 1st, (n+1)-th, ... request fails: 500, or an error event in a chat


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def _error(status: int, code: str, message: str):
    return jsonify({"code": code, "message": message, "status": status}), status


def standin(keys: dict, behaviour: Behaviour) -> Flask:
    """The endpoints the load test calls, with Dify's request and answer shapes."""
    app = Flask("dify-standin")
    # a signed-in browser's session, for runs given its tokens instead of a password
    state = {"counts": {}, "sessions": {keys["access_token"]: keys["csrf_token"]}}
    lock = threading.Lock()

    @app.before_request
    def inject():
        with lock:
            count = state["counts"].get(request.path, 0)
            state["counts"][request.path] = count + 1
        time.sleep(behaviour.delay_s)
        g.fail = bool(behaviour.fail_every) and count % behaviour.fail_every == 0
        if g.fail and request.path != dify.CHAT:
            return _error(500, "internal_server_error", "The server encountered an internal error.")
        return None

    def bearer() -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ")

    @app.post(dify.LOGIN)
    def login():
        body = request.get_json()
        try:
            password = base64.b64decode(body["password"], validate=True).decode()
        except (ValueError, KeyError):
            return _error(401, "authentication_failed", "Invalid encrypted data")
        if body.get("email") != EMAIL or password != keys["password"]:
            return _error(401, "authentication_failed", "Invalid email or password.")
        access, csrf = uuid.uuid4().hex, uuid.uuid4().hex
        with lock:
            state["sessions"][access] = csrf
        response = jsonify({"result": "success"})
        response.set_cookie(dify.ACCESS_COOKIE, access, httponly=True, samesite="Lax")
        response.set_cookie("refresh_token", uuid.uuid4().hex, httponly=True, samesite="Lax")
        response.set_cookie(dify.CSRF_COOKIE, csrf, samesite="Lax")
        return response

    def console(answer: dict):
        csrf = state["sessions"].get(request.cookies.get(dify.ACCESS_COOKIE, ""))
        if csrf is None:
            return _error(401, "unauthorized", "Invalid Authorization token.")
        if request.headers.get(dify.CSRF_HEADER) != csrf or request.cookies.get(dify.CSRF_COOKIE) != csrf:
            return _error(401, "unauthorized", "CSRF token is missing or invalid.")
        return jsonify(answer)

    @app.get(dify.APPS)
    @app.get(dify.DATASETS)
    def lists():
        page, limit = int(request.args["page"]), int(request.args["limit"])
        return console({"page": page, "limit": limit, "total": 0, "has_more": False, "data": []})

    @app.get(dify.PROFILE)
    def profile():
        return console({"id": str(uuid.uuid4()), "name": "Load Test", "email": EMAIL})

    @app.post(dify.CHAT)
    def chat():
        if bearer() != keys["app"]:
            return _error(401, "unauthorized", "Access token is invalid")
        body = request.get_json()
        if body.get("response_mode") != "streaming" or not body.get("query") or not body.get("user"):
            return _error(400, "invalid_param", "query, user and response_mode are required")
        ids = {"task_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4())}

        def events():
            yield "event: ping\n\n"
            if g.fail:  # a model's failure comes inside a 200 stream
                error = {"event": "error", "status": 400, "code": "completion_request_error",
                         "message": "[models] Rate Limit Error", **ids}
                yield "data: " + json.dumps(error) + "\n\n"
                return
            for word in ("A load test ", "puts traffic ", "on a system."):
                yield "data: " + json.dumps({"event": "message", "answer": word, "created_at": 0, **ids}) + "\n\n"
            end = {"event": "message_end", "metadata": {"usage": {"total_tokens": 12}}, **ids}
            yield "data: " + json.dumps(end) + "\n\n"

        return Response(stream_with_context(events()), mimetype="text/event-stream")

    @app.post(dify.UPLOAD)
    def upload():
        if bearer() != keys["app"]:
            return _error(401, "unauthorized", "Access token is invalid")
        file = request.files.get("file")
        if file is None or not request.form.get("user"):
            return _error(400, "no_file_uploaded", "Please upload your file.")
        content = file.read()
        return jsonify({"id": str(uuid.uuid4()), "name": file.filename, "size": len(content), "extension": "txt",
                        "mime_type": file.mimetype, "created_by": str(uuid.uuid4()), "created_at": 0}), 201

    @app.post("/v1/datasets/<dataset_id>/retrieve")
    def retrieve(dataset_id):
        if bearer() != keys["dataset"] or dataset_id != keys["dataset_id"]:
            return _error(401, "unauthorized", "Access token is invalid")
        query = request.get_json()["query"]
        segment = {"id": str(uuid.uuid4()), "content": "Dify is an LLM app platform.", "document_id": str(uuid.uuid4())}
        return jsonify({"query": {"content": query}, "records": [{"segment": segment, "score": 0.9}]})

    return app


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    out: Path

    @property
    def report(self) -> dict:
        return json.loads((self.out / "report.json").read_text())


@pytest.fixture(scope="module")
def keys():
    return {
        "app": "app-" + secrets.token_urlsafe(18),
        "dataset": "dataset-" + secrets.token_urlsafe(18),
        "dataset_id": str(uuid.uuid4()),
        "password": "pw-" + secrets.token_urlsafe(12),
        "access_token": "at-" + secrets.token_urlsafe(18),
        "csrf_token": "ct-" + secrets.token_urlsafe(18),
    }


@pytest.fixture(scope="module")
def runs(keys, tmp_path_factory) -> dict[str, Run]:
    """One load per behaviour of the stand-in, run side by side. The slow run's console users come with a
    browser session's tokens instead of a password (a rejected session would fail its error rate)."""
    behaviours = {"fast": Behaviour(), "slow": Behaviour(delay_s=SLOW_S), "erroring": Behaviour(fail_every=2)}
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
    base.update({credentials.APP_KEY_ENV: keys["app"], credentials.DATASET_KEY_ENV: keys["dataset"],
                 credentials.DATASET_ID_ENV: keys["dataset_id"]})
    login = {credentials.CONSOLE_EMAIL_ENV: EMAIL, credentials.CONSOLE_PASSWORD_ENV: keys["password"]}
    session = {credentials.CONSOLE_ACCESS_TOKEN_ENV: keys["access_token"],
               credentials.CONSOLE_CSRF_TOKEN_ENV: keys["csrf_token"]}
    servers, processes = [], {}
    try:
        for name, behaviour in behaviours.items():
            server = make_server("127.0.0.1", 0, standin(keys, behaviour), threaded=True, request_handler=_Quiet)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            out = tmp_path_factory.mktemp(name)
            command = [sys.executable, "-m", "loadtest", f"http://127.0.0.1:{server.server_port}", *LOAD_ARGS,
                       "--out", str(out)]
            env = {**base, **(session if name == "slow" else login)}
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
            processes[name] = (process, out)
        results = {}
        for name, (process, out) in processes.items():
            stdout, stderr = process.communicate(timeout=90)
            results[name] = Run(process.returncode, stdout, stderr, out)
        return results
    finally:
        for process, _ in processes.values():
            if process.poll() is None:
                process.kill()
        for server in servers:
            server.shutdown()


def _failed(run: Run) -> list[str]:
    return run.report["failed"]


def test_a_fast_deployment_passes(runs):
    run = runs["fast"]
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.report
    assert report["passed"] and not report["failed"]
    assert report["scenarios"] == ["chat", "knowledge", "console"]
    summary = report["summary"]
    assert summary["failures"] == 0 and summary["requests"] > 0
    for group in metrics.GROUPS:
        assert summary["groups"][group]["successes"] > 0, group
    recorded = {e["name"] for e in summary["endpoints"]}
    assert {metrics.CHAT, metrics.CHAT_FIRST_BYTE, metrics.CHAT_FIRST_TOKEN, metrics.CHAT_STREAM, metrics.RETRIEVE,
            metrics.LOGIN} <= recorded
    assert "Result: PASS" in run.stdout


def test_a_slow_deployment_fails_on_p95(runs):
    run = runs["slow"]
    assert run.returncode == 1, run.stdout + run.stderr
    failed = _failed(run)
    assert any(reason.startswith(metrics.GROUP_TITLES["console"]) for reason in failed), failed
    assert any(reason.startswith(metrics.GROUP_TITLES["service_api"]) for reason in failed), failed
    assert not any(reason.startswith("error rate") for reason in failed), failed
    console = run.report["summary"]["groups"]["console"]
    assert console["p95_ms"] >= SLOW_S * 1000
    assert not any(e["name"] == metrics.LOGIN for e in run.report["summary"]["endpoints"])
    assert "Result: FAIL" in run.stdout


def test_an_erroring_deployment_fails_on_the_error_rate(runs):
    run = runs["erroring"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert any(reason.startswith("error rate") for reason in _failed(run)), _failed(run)
    summary = run.report["summary"]
    assert summary["error_rate"] >= 0.5
    errors = {e["name"]: e["error"] for e in summary["errors"]}
    assert "HTTP 500 internal_server_error" in errors[metrics.RETRIEVE]
    assert errors[metrics.CHAT] == "stream error event: completion_request_error [models] Rate Limit Error"


def test_the_report_has_json_a_plot_and_locust_s_page(runs):
    for run in runs.values():
        report = run.report
        assert report["history"] and all("rps" in row and "p95_ms" in row for row in report["history"])
        assert (run.out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (run.out / "report.png").stat().st_size > 10_000
        assert "<html" in (run.out / "locust.html").read_text().lower()


def test_no_secret_is_written(runs, keys):
    hidden = [keys["app"], keys["dataset"], keys["password"], dify.encode_password(keys["password"]),
              keys["access_token"], keys["csrf_token"]]
    for name, run in runs.items():
        written = [run.stdout, run.stderr] + [p.read_text() for p in run.out.iterdir() if p.suffix != ".png"]
        for text in written:
            for secret in hidden:
                assert secret not in text, name


def test_the_throughput_target_scales_with_the_users(runs):
    preset = PRESETS["production"]
    targets = runs["fast"].report["targets"]
    assert targets["min_rps"] == pytest.approx(preset.targets.min_rps * 5 / preset.users)


def test_the_readme_table_is_the_presets():
    section = README.read_text().split("## Load test", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in PRESETS:
            rows[cells[0]] = cells
    assert set(rows) == set(PRESETS)
    for name, preset in PRESETS.items():
        numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", " ".join(rows[name][1:]))]
        t = preset.targets
        assert numbers == [preset.users, preset.spawn_rate, preset.duration_s / 60, t.min_rps,
                           t.p95_first_token_ms, t.p95_service_api_ms, t.p95_console_ms, t.max_error_rate * 100], name


@pytest.mark.parametrize("env, named", [
    ({}, credentials.APP_KEY_ENV),
    ({credentials.APP_KEY_ENV: "sk-123"}, credentials.APP_KEY_ENV),
    ({credentials.DATASET_KEY_ENV: "dataset-abc"}, credentials.DATASET_ID_ENV),
    ({credentials.CONSOLE_EMAIL_ENV: EMAIL}, credentials.CONSOLE_PASSWORD_ENV),
    ({credentials.CONSOLE_ACCESS_TOKEN_ENV: "t"}, credentials.CONSOLE_CSRF_TOKEN_ENV),
])
def test_incomplete_credentials_name_the_variable(env, named):
    with pytest.raises(credentials.CredentialsError, match=named):
        credentials.resolve(env=env)


def test_credentials_error_runs_nothing():
    result = subprocess.run([sys.executable, "-m", "loadtest", "http://127.0.0.1:9"], cwd=ROOT, text=True,
                            capture_output=True, env={k: v for k, v in os.environ.items() if not k.startswith("DIFY_")},
                            timeout=60)
    assert result.returncode == 2 and credentials.APP_KEY_ENV in result.stderr


def test_this_module_leaves_the_standard_library_unpatched():
    """The rest of the suite shares this module's process: nothing here may import gevent or Locust."""
    check = "import sys, tests.test_loadtest; print(sorted({'gevent', 'locust'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, text=True, capture_output=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("url, base", [
    ("https://dify.example.com/", "https://dify.example.com"),
    ("http://10.0.0.5:8080/dify", "http://10.0.0.5:8080/dify"),
])
def test_the_url_is_the_deployment_s_base(url, base):
    assert cli.base_url(url) == base


@pytest.mark.parametrize("url", ["dify.example.com", "https://dify.example.com/v1", "https://u:p@dify.example.com"])
def test_other_urls_are_refused(url):
    with pytest.raises(cli.UsageError, match="url"):
        cli.base_url(url)


def test_sse_lines_give_the_json_events():
    lines = [b"event: ping", b"", b'data: {"event": "message", "answer": "Hi"}', b"",
             b'data: {"event": "message_end"}']
    events = list(dify.sse_events(lines))
    assert [e["event"] for e in events] == ["message", "message_end"]
    assert dify.is_token(events[0]) and not dify.is_token(events[1])


def test_a_session_is_sent_under_both_cookie_names():
    cookie = dify.session_cookie("at", "ct")
    assert cookie.split("; ") == ["access_token=at", "csrf_token=ct", "__Host-access_token=at", "__Host-csrf_token=ct"]
