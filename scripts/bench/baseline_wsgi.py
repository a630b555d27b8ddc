"""The floor of the benchmark: a bare WSGI callable that answers "ok".

bench.py serves it with the project's own gunicorn.conf.py (same worker class,
workers, threads, keep-alive, max_requests) so that the app's numbers can be
read as a fraction of what gunicorn itself can do on this machine:

    gunicorn -c gunicorn.conf.py --pythonpath scripts/bench baseline_wsgi:app
"""

from __future__ import annotations

_BODY = b"ok"
_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_BODY)))]


def app(environ, start_response):
    start_response("200 OK", list(_HEADERS))
    return [_BODY]
