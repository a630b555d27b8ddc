#!/bin/sh
# As the official image does: a redis-server started without a config file
# would refuse other containers (protected mode), so turn that off; the
# container's network is the boundary.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
