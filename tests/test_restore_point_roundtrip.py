"""The self-hosted restore point, run for real: the exact dump and upload scripts the program renders, against
a local PostgreSQL server (an unprivileged user's, on 127.0.0.1) and a local S3 API (moto's server, with the
AWS CLI from PyPI, whose `s3` commands are the image's), then the README's restore: the databases (Dify's,
the plugin daemon's and pgvector's own) come back as they were before a "migration" that changed them."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from components.dump_restore_point import DUMP_SCRIPT, PREFIX, RESTORE_SCRIPT, UPLOAD_SCRIPT
from tests.conftest import tool_path

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD, BUCKET = "dify", "local-test-password", "dify"
DATABASES = ("dify", "dify_plugin", "dify_vectors")
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """initdb refuses root: run the server as `nobody` when the tests run as root."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = Path(tempfile.mkdtemp(prefix="restore-point-pg-"))
    base.chmod(0o755)
    data, sockets, pwfile = base / "data", base / "sockets", base / "pwfile"
    sockets.mkdir()
    pwfile.write_text(PASSWORD)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in (base, sockets, pwfile):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    port = _free_port()
    subprocess.run(_as_server_user([tool_path("initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
                                    f"--pwfile={pwfile}", "--no-instructions"]), check=True, capture_output=True)
    subprocess.run(_as_server_user([tool_path("pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start",
                                    "-o", f"-c listen_addresses=127.0.0.1 -c port={port} "
                                          f"-c unix_socket_directories={sockets}"]), check=True, capture_output=True)
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": USER, "PGPASSWORD": PASSWORD,
           "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "10",
           "PATH": os.pathsep.join([str(Path(tool_path("pg_dump")).parent), os.environ["PATH"]])}
    try:
        yield env
    finally:
        subprocess.run(_as_server_user([tool_path("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def store():
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def _psql(env, db, sql) -> str:
    return subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-d", db, "-c", sql], env=env, check=True,
                          capture_output=True, text=True).stdout


def _contents(env) -> dict[str, str]:
    return {
        "dify": _psql(env, "dify", "SELECT id, name, created FROM accounts ORDER BY id")
                + _psql(env, "dify", "SELECT last_value FROM accounts_id_seq")
                + _psql(env, "dify", "SELECT version_num FROM alembic_version"),
        "dify_plugin": _psql(env, "dify_plugin", "SELECT id, manifest FROM plugins ORDER BY id"),
        "dify_vectors": _psql(env, "dify_vectors", "SELECT id, text FROM embedding_vector_index_1 ORDER BY id"),
    }


def test_dump_upload_prune_and_restore_round_trip(server, store, tmp_path):
    env = server
    for db in DATABASES:
        _psql(env, "postgres", f'CREATE DATABASE "{db}"')
    _psql(env, "dify", "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL, "
                       "created timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z'); "
                       "CREATE INDEX accounts_name ON accounts (name); "
                       "INSERT INTO accounts (name) SELECT 'user-' || n FROM generate_series(1, 500) n; "
                       "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
                       "INSERT INTO alembic_version VALUES ('lts-head')")
    _psql(env, "dify_plugin", "CREATE TABLE plugins (id text PRIMARY KEY, manifest jsonb); "
                              "INSERT INTO plugins VALUES ('langgenius/openai', '{\"version\": \"0.2.1\"}')")
    _psql(env, "dify_vectors", "CREATE TABLE embedding_vector_index_1 (id uuid PRIMARY KEY, text text); "
                               "INSERT INTO embedding_vector_index_1 VALUES "
                               "('0b7f4a52-9d7e-4c1e-8f0a-3a4b5c6d7e8f', 'a chunk')")
    before = _contents(env)

    s3 = boto3.client("s3", endpoint_url=store, region_name="us-east-1", **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
    s3.create_bucket(Bucket=BUCKET)
    # Two earlier restore points; with keep 2 the oldest goes once the new one is up.
    for old in ("1.12.0/20250101T000000Z", "1.13.3/20260101T000000Z"):
        for db in DATABASES:
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{old}/{db}.dump", Body=b"old")

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    step = {**env, "RESTORE_POINT_DIR": str(scratch), "DIFY_DB": "dify", "DIFY_PLUGIN_DB": "dify_plugin",
            "DIFY_VECTOR_DB": "dify_vectors"}
    subprocess.run(["sh", "-c", DUMP_SCRIPT], env=step, check=True, capture_output=True, text=True)
    assert sorted(p.name for p in scratch.iterdir()) == ["dify.dump", "dify_plugin.dump", "dify_vectors.dump", "stamp"]

    # `aws` is the AWS CLI installed beside this Python (requirements-dev.txt).
    cli = {**KEYS, "PATH": os.pathsep.join([os.path.dirname(sys.executable), env["PATH"]]), "TMPDIR": str(tmp_path)}
    upload = {**step, **cli, "BUCKET": BUCKET, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": store,
              "S3_ADDRESSING_STYLE": "path", "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
              "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required", "RELEASE": "1.16.1", "KEEP": "2",
              "HOME": str(tmp_path)}
    result = subprocess.run(["sh", "-c", UPLOAD_SCRIPT], env=upload, check=True, capture_output=True, text=True)
    assert "pruning s3://dify/restore-points/1.12.0/20250101T000000Z/" in result.stdout
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    [stamp] = {k.split("/")[2] for k in keys if k.startswith(f"{PREFIX}/1.16.1/")}
    assert keys == sorted([f"{PREFIX}/1.13.3/20260101T000000Z/{db}.dump" for db in DATABASES]
                          + [f"{PREFIX}/1.16.1/{stamp}/{db}.dump" for db in DATABASES])
    assert list(scratch.iterdir()) == [], "the scratch directory is emptied after the upload"

    # A migration changes both databases (a new table, rows gone, a new schema revision).
    _psql(env, "dify", "CREATE TABLE workflow_new (id int); DELETE FROM accounts WHERE id > 10; "
                       "UPDATE alembic_version SET version_num = 'new-head'")
    _psql(env, "dify_plugin", "UPDATE plugins SET manifest = '{\"version\": \"9\"}'")
    _psql(env, "dify_vectors", "DELETE FROM embedding_vector_index_1")
    assert _contents(env) != before

    # The README's restore: fetch the dumps, then RESTORE_SCRIPT per database, dump on stdin.
    fetched = tmp_path / "fetched"
    subprocess.run(["aws", "s3", "cp", "--recursive", f"s3://{BUCKET}/{PREFIX}/1.16.1/{stamp}/", str(fetched)],
                   env=upload, check=True, capture_output=True)
    for db in DATABASES:
        with open(fetched / f"{db}.dump", "rb") as dump:
            subprocess.run(["sh", "-c", RESTORE_SCRIPT, "sh", db], env=env, stdin=dump, check=True,
                           capture_output=True)
    assert _contents(env) == before
    assert _psql(env, "dify", "SELECT count(*) FROM pg_tables WHERE tablename = 'workflow_new'").strip() == "0"
    assert _psql(env, "dify", "SELECT count(*) FROM pg_indexes WHERE indexname = 'accounts_name'").strip() == "1"


def test_the_readme_restores_with_the_tested_script():
    readme = (ROOT / "README.md").read_text()
    assert RESTORE_SCRIPT.strip() in readme
