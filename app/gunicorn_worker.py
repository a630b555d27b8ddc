"""A gunicorn gthread worker that refuses new connections as soon as it drains.

Stock gthread stops accepting on SIGTERM but keeps its listening socket open
until the drain ends, so the kernel goes on completing handshakes that nobody
will answer: clients hang for up to graceful_timeout and are then reset. This
worker closes its listeners when it stops accepting, so (once the arbiter has
closed its copy too) new connections are refused at once, and the load
balancer retries them elsewhere, while requests in flight finish.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class DrainingThreadWorker(ThreadWorker):
    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()
