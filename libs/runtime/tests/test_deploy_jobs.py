"""The Kubernetes chart's one-shot Jobs: the keys kept in a Secret made once, and each app's schema."""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from festflow_runtime import kube_secret, schema


@pytest.fixture
def api_server():
    """An HTTP server answering as the Kubernetes API does to a Secret's creation: 201, then 409."""
    made: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the handler's name is http.server's)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen = {"path": self.path, "auth": self.headers["Authorization"], "body": body}
            exists = any(m["body"]["metadata"]["name"] == body["metadata"]["name"] for m in made)
            made.append(seen)
            self.send_response(409 if exists else 201)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass
    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", made
    server.shutdown()


def test_the_keys_secret_is_made_once_and_then_kept(api_server):
    api, made = api_server
    files = {"jwt-private.pem": b"PRIVATE", "jwt-public.pem": b"PUBLIC"}
    assert kube_secret.create_once(api, "shop", "sa-token", "festflow-keys", files) is True
    assert kube_secret.create_once(api, "shop", "sa-token", "festflow-keys", {"jwt-private.pem": b"NEW"}) is False
    first = made[0]
    assert first["path"] == "/api/v1/namespaces/shop/secrets" and first["auth"] == "Bearer sa-token"
    assert first["body"]["kind"] == "Secret" and first["body"]["metadata"]["name"] == "festflow-keys"
    assert base64.b64decode(first["body"]["data"]["jwt-public.pem"]) == b"PUBLIC"


APP_DB = """
import sqlalchemy as sa
from festflow_runtime import database

metadata = sa.MetaData()
sa.Table("orders", metadata, sa.Column("order_id", sa.String(36), primary_key=True))


def make_engine(url):
    return database.make_engine(url)


async def create_schema(engine):
    await database.create_schema(engine, metadata)
"""


def test_the_schema_job_creates_an_apps_tables_and_says_what_it_needs(tmp_path, monkeypatch, capsys):
    import sqlite3
    (tmp_path / "some_app").mkdir()
    (tmp_path / "some_app" / "__init__.py").write_text("")
    (tmp_path / "some_app" / "db.py").write_text(APP_DB)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert schema.main(["schema", "some_app.db"]) == 2 and "set DATABASE_URL" in capsys.readouterr().err
    assert schema.main(["schema"]) == 2
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/orders.db")
    assert schema.main(["schema", "some_app.db"]) == 0
    assert schema.main(["schema", "some_app.db"]) == 0  # again: nothing missing, nothing changed
    tables = {row[0] for row in sqlite3.connect(tmp_path / "orders.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"orders"}


def test_the_keys_job_says_what_is_wrong_outside_a_pod_or_without_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert kube_secret.main(["kube_secret", "festflow-keys", str(tmp_path)]) == 2
    assert "holds no file" in capsys.readouterr().err  # an empty folder: the keygens made nothing
    (tmp_path / "jwt-public.pem").write_text("PUBLIC")
    assert kube_secret.main(["kube_secret", "festflow-keys", str(tmp_path)]) == 2
    assert "not in a Kubernetes pod" in capsys.readouterr().err
    assert kube_secret.main(["kube_secret"]) == 2
