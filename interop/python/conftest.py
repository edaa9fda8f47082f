"""Fixtures for the Python interop suite: a fresh store per module and store kind (SQLite in a temp
dir, or a fresh PostgreSQL schema created with psql), the real `chatroom` binary started on it, and
python-socketio clients that record what they receive. The contract is docs/PROTOCOL.md."""

import os
import pathlib
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
import socketio

from recorder import Recorder as BaseRecorder

# The cluster suite (issue 8) runs on its own from cluster/ (scripts/test.sh), not in this one.
collect_ignore = ["cluster"]

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
BIN = pathlib.Path(os.environ.get("CHATROOM_BIN", TARGET / "debug" / "chatroom"))
PG_BASE = os.environ.get("CHATROOM_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
STORES = [s.strip() for s in os.environ.get("CHATROOM_TEST_STORES", "sqlite,postgres").split(",")]


def _psql(sql):
    subprocess.run(["psql", PG_BASE, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True)


@pytest.fixture(scope="module", params=STORES)
def store_url(request):
    """A database URL for a fresh, empty store of the parametrized kind."""
    if request.param == "sqlite":
        d = tempfile.mkdtemp(prefix="chatroom-py-")
        yield f"sqlite://{d}/x.db"
        shutil.rmtree(d, ignore_errors=True)
    elif request.param == "postgres":
        schema = f"t_{secrets.token_hex(6)}"
        _psql(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in PG_BASE else "?"
        yield f"{PG_BASE}{sep}options=" + urllib.parse.quote(f"-c search_path={schema}", safe="")
        _psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    else:
        raise ValueError(request.param)


class Server:
    """The chatroom binary on 127.0.0.1 with `--port 0`; `url` is parsed from its stdout line."""

    def __init__(self, db, rate_limit="off"):
        if not BIN.exists():
            raise RuntimeError(f"server binary not found: {BIN} (set CHATROOM_BIN)")
        self.proc = subprocess.Popen(
            [str(BIN), "--host", "127.0.0.1", "--port", "0", "--db", db, "--rate-limit", rate_limit],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url = None
        deadline = time.time() + 30
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                m = re.match(r"^listening on (http://\S+)$", line.strip())
                if m and not found.is_set():
                    self.url = m.group(1).rstrip("/")
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.time() > deadline:
                self.proc.kill()
                raise RuntimeError(f"server did not start (exit {self.proc.poll()})")

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture(scope="module")
def server(store_url):
    srv = Server(store_url)
    yield srv
    assert srv.stop() == 0, "server exits 0 on SIGTERM"


class Recorder(BaseRecorder):
    """The shared recorder, with what the single-server tests also ask of it."""

    def wait_count(self, n, timeout=10):
        return self.wait(lambda items: len(items) >= n, timeout)


class Clients:
    """Opens python-socketio clients and disconnects all of them at the end of a test."""

    def __init__(self, url):
        self.url = url
        self.clients = []

    def connect(self, name=None, transports=("websocket",), events=("chat message", "message", "welcome", "error")):
        c = socketio.Client(reconnection=False)
        recs = {e: Recorder(c, e) for e in events}
        c.recs = recs
        self.clients.append(c)
        auth = {"name": name} if name is not None else None
        c.connect(self.url, transports=list(transports), auth=auth, wait_timeout=10)
        c.welcome = recs["welcome"].wait_count(1)[0]
        return c

    def close(self):
        for c in self.clients:
            try:
                c.disconnect()
            except Exception:  # noqa: BLE001 - best effort cleanup of an already broken client
                pass


@pytest.fixture
def clients(server):
    cs = Clients(server.url)
    yield cs
    cs.close()
