"""python-socketio clients spread over a three-node cluster (issue 8): every client sees every
message of its room exactly once in history order while every node sends at once; member lists,
presence and typing across nodes; seed clients (`chat message`) across nodes; kill -9 of a node,
after which its members leave within 10 s and its client recovers on another node with `since`."""

import threading
import time

import pytest

from conftest import (
    HARNESS_CHECK,
    Cluster,
    eventually,
    full_history,
    has,
    join_then_live,
    join_until_members,
    order,
    room_name,
    room_order_violation,
)


def send_many(client, room, prefix, n, acked, errors):
    """Sends n messages one after another (each waits for its ack); records acked Messages."""
    for i in range(n):
        cid = f"{prefix}-{i}"
        res = client.call("send", {"room": room, "text": cid, "cid": cid}, timeout=30)
        if res.get("ok"):
            acked[cid] = res["message"]
        else:
            errors.append((cid, res))


def test_every_client_gets_every_message_once_in_history_order(cluster, clients):
    room = room_name("deliv")
    watchers = []
    for n in range(3):
        c = clients.connect(cluster.node(n).url, name=f"pw{n}")
        assert c.call("join", {"room": room}, timeout=10)["ok"]
        watchers.append((f"pw{n}", c))
    senders = []
    for n in range(3):
        c = clients.connect(cluster.node(n).url, name=f"ps{n}")
        assert c.call("join", {"room": room}, timeout=10)["ok"]
        senders.append((f"ps{n}", c))
    acked, errors = {}, []
    threads = [
        threading.Thread(target=send_many, args=(c, room, name, 40, acked, errors))
        for name, c in senders
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(acked) == 120

    hist = full_history(senders[0][1], room)
    assert room_order_violation(hist) is None, room_order_violation(hist)
    assert sorted(m["id"] for m in hist) == sorted(m["id"] for m in acked.values())
    by_id = {m["id"]: m for m in hist}
    for cid, m in acked.items():
        assert by_id[m["id"]]["cid"] == cid and by_id[m["id"]].get("seq") == m.get("seq")
    for name, c in watchers + senders:
        eventually(
            lambda: len(c.recs["message"].of_room(room)) >= len(hist),
            15,
            lambda: f"{name}: {len(c.recs['message'].of_room(room))} of {len(hist)}\n{cluster.logs()}",
        )
    time.sleep(0.5)
    for name, c in watchers + senders:
        assert order(c.recs["message"].of_room(room)) == order(hist), name


def test_polling_client_on_another_node_gets_the_same_order(cluster, clients):
    room = room_name("poll")
    p = clients.connect(cluster.node(1).url, name="poller", transports=("polling",))
    assert p.transport() == "polling"
    assert p.call("join", {"room": room}, timeout=10)["ok"]
    senders = []
    for n in (0, 2):
        c = clients.connect(cluster.node(n).url, name=f"pollsend{n}")
        assert c.call("join", {"room": room}, timeout=10)["ok"]
        senders.append(c)
    acked, errors = {}, []
    threads = [threading.Thread(target=send_many, args=(c, room, f"pp{i}", 15, acked, errors)) for i, c in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(acked) == 30
    hist = full_history(senders[0], room)
    eventually(lambda: len(p.recs["message"].of_room(room)) >= 30, 30, lambda: f"poller has {len(p.recs['message'].of_room(room))}")
    time.sleep(0.5)
    assert order(p.recs["message"].of_room(room)) == order(hist)


def test_members_presence_and_typing_across_nodes(cluster, clients):
    room = room_name("pres")
    a = clients.connect(cluster.node(0).url, name="py-ann")
    assert a.call("join", {"room": room}, timeout=10)["members"] == ["py-ann"]
    b = clients.connect(cluster.node(1).url, name="py-ben")
    assert b.call("join", {"room": room}, timeout=10)["ok"]
    join_until_members(b, room, ["py-ann", "py-ben"], count=2)
    a.recs["presence"].wait(lambda i: has(i, {"room": room, "name": "py-ben", "action": "join"}), what="ann told ben joined")
    c = clients.connect(cluster.node(2).url, name="py-cat", transports=("polling",))
    assert c.call("join", {"room": room}, timeout=10)["ok"]
    join_until_members(c, room, ["py-ann", "py-ben", "py-cat"], count=3)
    for x in (a, b):
        x.recs["presence"].wait(lambda i: has(i, {"room": room, "name": "py-cat", "action": "join"}), what="told cat joined")
    rooms = a.call("rooms", {}, timeout=10)
    assert has(rooms["rooms"], {"name": room, "members": 3}), rooms

    renamed = b.call("rename", {"name": "py-bert"}, timeout=10)
    assert renamed["ok"] and renamed["name"] == "py-bert", renamed
    rename = {"room": room, "name": "py-bert", "action": "rename", "old": "py-ben"}
    for x in (a, b, c):
        x.recs["presence"].wait(lambda i: has(i, rename), what="rename seen")

    assert c.call("typing", {"room": room, "typing": True}, timeout=10)["ok"]
    for x in (a, b):
        x.recs["typing"].wait(lambda i: has(i, {"room": room, "name": "py-cat", "typing": True}), what="typing from node 2")
    assert c.call("typing", {"room": room, "typing": False}, timeout=10)["ok"]
    for x in (a, b):
        x.recs["typing"].wait(lambda i: has(i, {"room": room, "name": "py-cat", "typing": False}), what="typing stop from node 2")
    assert not [t for t in c.recs["typing"].items if t.get("name") == "py-cat"], "the typist is not told about itself"

    c.disconnect()
    # cat polls: if python-engineio's close does not reach the server (seen once under load in
    # CI), the server notices the silent client at the Engine.IO heartbeat timeout (25 s + 20 s).
    for x in (a, b):
        x.recs["presence"].wait(lambda i: has(i, {"room": room, "name": "py-cat", "action": "leave"}), 50, what="cat's disconnect")
    assert b.call("leave", {"room": room}, timeout=10)["ok"]
    a.recs["presence"].wait(lambda i: has(i, {"room": room, "name": "py-bert", "action": "leave"}), what="bert left")
    d = clients.connect(cluster.node(2).url, name="py-dan")
    assert d.call("join", {"room": room}, timeout=10)["ok"]
    join_until_members(d, room, ["py-ann", "py-dan"], count=2)


def test_seed_clients_across_nodes(cluster, clients):
    tag = room_name("seed")
    s0 = clients.connect(cluster.node(0).url)
    s1 = clients.connect(cluster.node(1).url, transports=("polling",))
    v = clients.connect(cluster.node(2).url, name="py-vee")
    sent0 = [f"{tag}-a{i}" for i in range(5)]
    for t in sent0:
        s0.emit("chat message", t)
    s1.emit("chat message", f"{tag}-b")
    assert v.call("send", {"room": "lobby", "text": f"{tag}-v"}, timeout=10)["ok"]
    expected = set(sent0) | {f"{tag}-b", f"py-vee: {tag}-v"}
    for s in (s0, s1):
        got = s.recs["chat message"].wait(lambda i: expected <= set(i), 30, what="every lobby message")
        mine = [x for x in got if tag in x]
        assert len(mine) == len(expected), f"each once: {mine}"
        assert [x for x in mine if x in sent0] == sent0, "a seed client's messages in the order sent"
    v.recs["message"].wait(lambda i: {f"{tag}-b", *sent0} <= {m["text"] for m in i}, what="v1 gets seed messages")
    lobby = [m for m in v.call("history", {"room": "lobby", "limit": 100}, timeout=10)["messages"] if tag in m["text"]]
    as_seed = [m["text"] if m["name"].startswith("guest-") else f"{m['name']}: {m['text']}" for m in lobby]
    for s in (s0, s1):
        assert [x for x in s.recs["chat message"].items if tag in x] == as_seed, "history order"


@pytest.mark.skipif(HARNESS_CHECK, reason="needs several nodes")
def test_kill9_members_leave_and_client_recovers_on_another_node(clients):
    cl = Cluster(3)
    try:
        room = room_name("k9")
        obs = clients.connect(cl.node(0).url, name="py-obs")
        assert obs.call("join", {"room": room}, timeout=10)["ok"]
        victim = clients.connect(cl.node(2).url, name="py-victim")
        assert victim.call("join", {"room": room}, timeout=10)["ok"]
        ghost = clients.connect(cl.node(2).url, name="py-ghost")
        assert ghost.call("join", {"room": room}, timeout=10)["ok"]
        sender = clients.connect(cl.node(1).url, name="py-sender")
        assert sender.call("join", {"room": room}, timeout=10)["ok"]
        # Presence reaches other nodes through Redis a moment after a join is answered (and a
        # node that just started learns the others by snapshot): wait until node 0 lists them.
        eventually(
            lambda: {"py-victim", "py-ghost", "py-sender"}
            <= set(obs.call("join", {"room": room}, timeout=10)["members"]),
            10,
            "node 0 lists the members of nodes 1 and 2",
        )
        acked, errors = {}, []
        stop = threading.Event()

        def traffic():
            i = 0
            while not stop.is_set():
                cid = f"k9-{i}"
                res = sender.call("send", {"room": room, "text": cid, "cid": cid}, timeout=30)
                if res.get("ok"):
                    acked[cid] = res["message"]
                else:
                    errors.append(res)
                i += 1
                time.sleep(0.02)

        t = threading.Thread(target=traffic)
        t.start()
        victim.recs["message"].wait(lambda i: len(i) >= 10, what="victim gets traffic")
        t0 = time.time()
        cl.nodes[2].kill9()
        eventually(lambda: not victim.connected, 10, "victim sees its node go")
        seen_before = victim.recs["message"].of_room(room)
        time.sleep(1.0)  # offline for a moment, so there is something to recover
        again = clients.connect(cl.node(0).url, name="py-victim", identity=victim.welcome["identity"])
        j = again.call("join", {"room": room, "since": seen_before[-1]["id"]}, timeout=10)
        assert j["ok"] and j["more"] is False
        assert j["messages"], "the victim missed messages while offline and gets them from join since"
        obs.recs["presence"].wait(lambda i: has(i, {"room": room, "name": "py-ghost", "action": "leave"}), 15, what="ghost leaves")
        left_after = time.time() - t0
        assert left_after <= 10.5, f"members of the dead node left after {left_after:.1f} s (bound 10 s)"
        time.sleep(max(0.0, 2 - (time.time() - t0)))
        stop.set()
        t.join(30)
        assert errors == []
        hist = full_history(obs, room)
        assert room_order_violation(hist) is None, room_order_violation(hist)
        assert sorted(m["id"] for m in hist) == sorted(m["id"] for m in acked.values()), "exactly the acked messages"
        def victim_saw():
            return seen_before + join_then_live(j["messages"], again.recs["message"].of_room(room))

        eventually(lambda: len(victim_saw()) >= len(hist), 10, lambda: f"victim recovers: {len(victim_saw())} of {len(hist)}")
        eventually(lambda: len(obs.recs["message"].of_room(room)) >= len(hist), 10, "observer")
        time.sleep(0.5)
        assert order(victim_saw()) == order(hist)
        assert order(obs.recs["message"].of_room(room)) == order(hist)
        join_until_members(sender, room, ["py-obs", "py-sender", "py-victim"], count=3)
        print(f"kill -9: ghost left after {left_after:.2f} s; {len(hist)} messages; victim missed {len(j['messages'])}")
    finally:
        clients.close()
        cl.close()
