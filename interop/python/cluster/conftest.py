"""Cluster harness for the python-socketio suite of issue 8: N nodes of the real `chatroom`
binary on free ports, one fresh PostgreSQL schema (`?schema=`, created by the first node, dropped
with psql afterwards) and a unique `--redis-prefix` on the shared Redis, python-socketio clients
spread over the nodes. Kept apart from interop/python's single-server suite (own pytest.ini) so
`scripts/test.sh` can bound and report the cluster suites on their own."""

import json
import os
import pathlib
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from inorder import InOrderClient

# The single-server suite's helpers one folder up (this suite is its own pytest root).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from recorder import Recorder as BaseRecorder  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[3]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
BIN = pathlib.Path(os.environ.get("CHATROOM_BIN", TARGET / "debug" / "chatroom"))
PG_BASE = os.environ.get("CHATROOM_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CHATROOM_TEST_REDIS", "redis://127.0.0.1:6379")
LOG_ROOT = pathlib.Path(os.environ.get("CHATROOM_CLUSTER_LOGS", pathlib.Path(tempfile.gettempdir()) / "chatroom-cluster-logs"))
# Harness self-check only (as in interop/node/lib/cluster.js): one node, no --redis, so the
# single-node parts can run against a binary without cluster support. Multi-node tests skip.
HARNESS_CHECK = os.environ.get("CHATROOM_CLUSTER_HARNESS_CHECK") == "1"


def http_json(url, timeout=3):
    """GET url → (status, parsed JSON or None)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None


class Node:
    """One `chatroom` process on 127.0.0.1:<free port>; stderr goes to `log_path`."""

    def __init__(self, name, db, args, log_path):
        if not BIN.exists():
            raise RuntimeError(f"server binary not found: {BIN} (set CHATROOM_BIN)")
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        argv = [str(BIN), "--host", "127.0.0.1", "--port", "0", "--db", db, "--rate-limit", "off", "--limits", "off", *args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.url = None
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                m = re.match(r"^listening on (http://\S+)$", line.strip())
                if m and not found.is_set():
                    self.url = m.group(1).rstrip("/")
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.time() + 30
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.time() > deadline:
                self.proc.kill()
                raise RuntimeError(f"{name} did not start (exit {self.proc.poll()}): {self.tail()}")
        self.wait_ready()

    def wait_ready(self, timeout=20):
        """`/readyz` 200; a binary without `/readyz` (404) is ready when `/healthz` is 200."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                status, body = http_json(f"{self.url}/readyz")
                if status == 404:
                    status, body = http_json(f"{self.url}/healthz")
                if status == 200:
                    return body
                last = (status, body)
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready: {last!r}")

    def tail(self, n=30):
        self.log.flush()
        try:
            return "\n".join(pathlib.Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Cluster:
    """`n` nodes on one schema and one Redis prefix; `node(i)` is nodes[i % len(nodes)]."""

    def __init__(self, n=3, redis=REDIS):
        self.schema = f"cl_{secrets.token_hex(6)}"
        self.prefix = f"py{secrets.token_hex(5)}"
        sep = "&" if "?" in PG_BASE else "?"
        self.db = f"{PG_BASE}{sep}schema={self.schema}"
        self.log_dir = LOG_ROOT / f"{time.strftime('%Y%m%dT%H%M%S')}-{self.schema}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.nodes = []
        count = 1 if HARNESS_CHECK else n
        try:
            for i in range(count):
                args = [] if HARNESS_CHECK else ["--redis", redis, "--redis-prefix", self.prefix, "--node-name", f"py{i}-{self.prefix}"]
                self.nodes.append(Node(f"node{i}", self.db, args, self.log_dir / f"node{i}.log"))
        except Exception:
            self.close()
            raise

    def node(self, i):
        return self.nodes[i % len(self.nodes)]

    def logs(self, n=20):
        return "\n".join(f"--- {x.name} ({x.url}):\n{x.tail(n)}" for x in self.nodes)

    def close(self):
        for x in self.nodes:
            x.stop()
        subprocess.run(["psql", PG_BASE, "-q", "-c", f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"], capture_output=True)


class Recorder(BaseRecorder):
    """The shared recorder, with what the cluster tests also ask of it."""

    def of_room(self, room):
        with self.cond:
            return [m for m in self.items if isinstance(m, dict) and m.get("room") == room]


EVENTS = ("chat message", "message", "welcome", "error", "presence", "typing", "disconnect")


class Clients:
    """Opens python-socketio clients on any node; disconnects all of them at the end."""

    def __init__(self):
        self.clients = []

    def connect(self, url, name=None, identity=None, transports=("websocket",)):
        c = InOrderClient(reconnection=False)
        c.recs = {e: Recorder(c, e) for e in EVENTS}
        self.clients.append(c)
        auth = None
        if name is not None:
            auth = {"name": name}
            if identity is not None:
                auth["identity"] = identity
        c.connect(url, transports=list(transports), auth=auth, wait_timeout=10)
        c.welcome = c.recs["welcome"].wait(lambda i: len(i) >= 1, what="welcome")[0]
        return c

    def close(self):
        for c in self.clients:
            try:
                c.disconnect()
            except Exception:  # noqa: BLE001 - best-effort cleanup of an already broken client
                pass
        self.clients = []


def full_history(client, room):
    """Every message of `room`, oldest first (pages back 100 at a time)."""
    pages = []
    before = None
    while True:
        payload = {"room": room, "limit": 100}
        if before is not None:
            payload["before"] = before
        res = client.call("history", payload, timeout=30)
        assert res["ok"], res
        pages.insert(0, res["messages"])
        if not res["more"] or not res["messages"]:
            break
        before = res["messages"][0]["id"]
    return [m for page in pages for m in page]


def order(messages):
    """(id, seq) of each message: what "the same order as history" compares."""
    return [(m["id"], m.get("seq")) for m in messages]


def has(items, subset):
    """Whether some item carries every field of `subset` with the same value (the protocol lets
    fields be added, so payload checks compare the documented fields only)."""
    return any(isinstance(x, dict) and all(x.get(k) == v for k, v in subset.items()) for x in items)


def join_until_members(client, room, members, count=None, timeout=3):
    """`join` until the answer lists exactly `members` (and `count` connections, if given).
    Presence reaches other nodes through Redis a moment after a join is answered; joining again
    is harmless (it announces nothing) and shows the list once the nodes agree."""
    last = {}

    def agreed():
        last["res"] = res = client.call("join", {"room": room}, timeout=10)
        assert res["ok"], res
        return res["members"] == members and (count is None or res["count"] == count)

    eventually(agreed, timeout, lambda: f"join {room}: {last.get('res')!r}, expected members {members} count {count}")
    return last["res"]


def join_then_live(join_messages, live):
    """The join answer, then the live messages newer than its last one: a `since` answer and
    live delivery may overlap right after a `join`, and clients drop by id what they have. Only
    that overlap is forgiven; any other duplicate or gap still shows when compared to history."""
    in_answer = {m["id"] for m in join_messages}
    last = join_messages[-1]["id"] if join_messages else None
    kept = [m for m in live if not (last is not None and m["id"] <= last and m["id"] in in_answer)]
    return join_messages + kept


def room_order_violation(hist):
    """None, or the first place where ids do not increase or (on a cluster) seq is not 1, 2, 3, …"""
    for i, m in enumerate(hist):
        if i and not hist[i - 1]["id"] < m["id"]:
            return f"ids not increasing at {i}"
        if not HARNESS_CHECK and m.get("seq") != i + 1:
            return f"seq at {i} is {m.get('seq')!r}, expected {i + 1}"
    return None


def eventually(pred, timeout, what):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError(f"timeout after {timeout} s: {what() if callable(what) else what}")
        time.sleep(0.05)


def room_name(prefix="py"):
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def cluster():
    cl = Cluster(3)
    yield cl
    cl.close()


@pytest.fixture
def clients():
    cs = Clients()
    yield cs
    cs.close()
