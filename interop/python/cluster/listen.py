"""A python-socketio room member driven by the Node cluster suite (interop/node/cluster), so
clients of both libraries sit in one room on different nodes: connects to URL as NAME, joins ROOM,
prints one JSON line per event (`joined`, then each `message`), and disconnects when stdin closes.

    python3 listen.py URL NAME ROOM [websocket|polling]
"""

import json
import os
import sys
import threading

from inorder import InOrderClient


def main():
    url, name, room = sys.argv[1:4]
    transport = sys.argv[4] if len(sys.argv) > 4 else "websocket"
    out_lock = threading.Lock()

    def emit(kind, data):
        with out_lock:
            sys.stdout.write(json.dumps({"kind": kind, "data": data}) + "\n")
            sys.stdout.flush()

    # CHATROOM_PY_DEBUG=1: python-socketio/engineio log every packet to stderr (the test keeps it).
    debug = os.environ.get("CHATROOM_PY_DEBUG") == "1"
    client = InOrderClient(reconnection=False, logger=debug, engineio_logger=debug)
    client.on("message", lambda m: emit("message", m))
    client.on("disconnect", lambda *args: emit("disconnect", [str(a) for a in args]))
    client.connect(url, transports=[transport], auth={"name": name}, wait_timeout=10)
    res = client.call("join", {"room": room}, timeout=10)
    emit("joined", res)
    sys.stdin.read()  # until the test closes our stdin
    client.disconnect()


if __name__ == "__main__":
    main()
