#!/bin/sh
# Container entrypoint: `serve` (default) runs gunicorn; `migrate` applies the
# database migrations and exits (the chart's migration Job and the compose
# file's one-shot service run it, so ordinary starts never migrate).
set -eu

# Every command builds the app, which writes its metrics under this directory.
mkdir -p "${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"

case "${1:-serve}" in
  serve)
    exec gunicorn -c /srv/gunicorn.conf.py "app:create_app()"
    ;;
  migrate)
    exec flask --app app db upgrade
    ;;
  flask)
    shift
    exec flask --app app "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
