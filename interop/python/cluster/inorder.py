"""A python-socketio client whose event handlers run in the order the packets arrived.

python-engineio's threading client hands every received packet to a new thread, so two packets
that arrived in order can reach the handlers in either order — harmless for an application,
fatal for a test that checks the order the *server* sent (issue 8: "in the same order as
history"). Here packets are handled on the reading thread, one after another. Handlers must
therefore not block on the same client (no `call()` inside a handler); the tests only record.
"""

import engineio
import socketio


class _InOrderEngineIO(engineio.Client):
    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    """`socketio.Client` with in-order dispatch (see the module doc)."""

    def _engineio_client_class(self):
        return _InOrderEngineIO
