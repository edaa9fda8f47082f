"""python-socketio against chatroom (docs/PROTOCOL.md): the seed protocol over WebSocket and over
long-polling, a v1 join/send/ack/history round trip, and the HTTP routes — on SQLite and PostgreSQL."""

import re
import secrets
import time

import requests

TEXTS = ["héllo wörld — 你好", "😀🎉👍🏽", "<img src=x onerror=alert(1)>"]


def test_seed_websocket_exchange(clients):
    a = clients.connect()
    b = clients.connect()
    assert re.fullmatch(r"guest-[0-9a-f]{4}", a.welcome["name"])
    assert a.welcome["rooms"] == ["lobby"]
    assert a.transport() == "websocket"
    for t in TEXTS:
        a.emit("chat message", t)
    b.emit("chat message", "from b ✓")
    expected = sorted(TEXTS + ["from b ✓"])
    for c in (a, b):
        got = c.recs["chat message"].wait_count(4)
        assert sorted(got) == expected


def test_seed_sender_order(clients):
    # Both on WebSocket: python-engineio's polling client picks up a stream of single
    # messages only about one per second — against the Node original too — which would make
    # this a timing test of that client rather than of the order the server keeps.
    a = clients.connect()
    b = clients.connect()
    sent = [f"py-order-{i}" for i in range(20)]
    for t in sent:
        a.emit("chat message", t)
    for c in (a, b):
        assert c.recs["chat message"].wait_count(len(sent)) == sent


def test_seed_polling_exchange(clients):
    p = clients.connect(transports=("polling",))
    w = clients.connect(transports=("websocket",))
    assert p.transport() == "polling"
    p.emit("chat message", "from polling 📮")
    w.recs["chat message"].wait(lambda i: "from polling 📮" in i)
    w.emit("chat message", "from websocket 🔌")
    p.recs["chat message"].wait(lambda i: "from websocket 🔌" in i)
    for c in (p, w):
        assert c.recs["chat message"].wait_count(2) == ["from polling 📮", "from websocket 🔌"]
    assert p.transport() == "polling"


def test_seed_non_string_is_bad_request(clients):
    s = clients.connect()
    s.emit("chat message", {"not": "a string"})
    err = s.recs["error"].wait_count(1)[0]
    assert err["code"] == "bad_request"
    s.emit("chat message", "still fine")
    s.recs["chat message"].wait(lambda i: "still fine" in i)


def test_v1_join_send_ack_history_round_trip(clients):
    room = f"py-{secrets.token_hex(4)}"
    alice = clients.connect("  py-alice ")
    assert alice.welcome == {**alice.welcome, "name": "py-alice", "rooms": ["lobby"]}
    bob = clients.connect("py-bob", transports=("polling",))

    j = alice.call("join", {"room": room}, timeout=10)
    assert j["ok"] is True
    assert j["room"] == room and j["members"] == ["py-alice"] and j["messages"] == [] and j["more"] is False
    j = bob.call("join", {"room": room}, timeout=10)
    assert j["members"] == ["py-alice", "py-bob"]

    cid = f"py-{secrets.token_hex(6)}"
    before = int(time.time() * 1000)
    ack = alice.call("send", {"room": room, "text": "hi from Python 🐍", "cid": cid}, timeout=10)
    assert ack["ok"] is True
    m = ack["message"]
    assert isinstance(m["id"], int) and m["room"] == room and m["name"] == "py-alice"
    assert m["text"] == "hi from Python 🐍" and m["cid"] == cid
    assert before - 5000 <= m["ts"] <= int(time.time() * 1000) + 5000

    for c in (alice, bob):
        got = c.recs["message"].wait(lambda i: any(x.get("cid") == cid for x in i))
        assert [x for x in got if x.get("cid") == cid] == [m]

    plain = alice.call("send", {"room": room, "text": "no cid"}, timeout=10)
    assert plain["ok"] is True and "cid" not in plain["message"]
    assert plain["message"]["id"] > m["id"]

    h = bob.call("history", {"room": room}, timeout=10)
    assert h["ok"] is True and h["more"] is False
    assert h["messages"] == [m, plain["message"]]
    h1 = bob.call("history", {"room": room, "before": plain["message"]["id"], "limit": 1}, timeout=10)
    assert h1["messages"] == [m] and h1["more"] is False

    again = alice.call("send", {"room": room, "text": "hi from Python 🐍", "cid": cid}, timeout=10)
    assert again["ok"] is True and again["message"] == m
    assert bob.call("history", {"room": room}, timeout=10)["messages"] == [m, plain["message"]]

    carol = clients.connect("py-carol")
    since = carol.call("join", {"room": room, "since": m["id"]}, timeout=10)
    assert since["messages"] == [plain["message"]] and since["more"] is False

    bad = alice.call("send", {"room": room, "text": "   "}, timeout=10)
    assert bad["ok"] is False and bad["error"]["code"] == "empty"
    bad = alice.call("history", {"room": room, "limit": 0}, timeout=10)
    assert bad["ok"] is False and bad["error"]["code"] == "bad_request"


def test_v1_and_seed_share_the_lobby(clients):
    seed = clients.connect()
    v = clients.connect("py-dave")
    seed.emit("chat message", "seed says hi")
    got = v.recs["message"].wait(lambda i: any(x["text"] == "seed says hi" for x in i))
    assert [x["name"] for x in got if x["text"] == "seed says hi"] == [seed.welcome["name"]]
    assert v.call("send", {"room": "lobby", "text": "v1 says hi"}, timeout=10)["ok"] is True
    seed.recs["chat message"].wait(lambda i: "py-dave: v1 says hi" in i)


def test_http_routes(server):
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    page = requests.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers.get("content-type", "")
    js = requests.get(f"{server.url}/socket.io/socket.io.js", timeout=10)
    assert js.status_code == 200 and "javascript" in js.headers.get("content-type", "")
