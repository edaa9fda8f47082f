"""Collects the payloads of one Socket.IO event for a test to wait on; shared by the
single-server suite (conftest.py) and the cluster suite (cluster/conftest.py)."""

import threading


class Recorder:
    """Collects the payloads of one event; `wait(pred)` blocks until `pred(items)` holds."""

    def __init__(self, client, event):
        self.items = []
        self.cond = threading.Condition()

        def on(*args):
            with self.cond:
                self.items.append(args[0] if len(args) == 1 else list(args))
                self.cond.notify_all()

        client.on(event, on)

    def wait(self, pred, timeout=10, what="condition"):
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self.items), timeout):
                raise AssertionError(f"timed out waiting for {what}; have {len(self.items)}: {self.items[-3:]!r}")
            return list(self.items)
