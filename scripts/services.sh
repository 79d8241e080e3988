#!/usr/bin/env bash
# Start the local PostgreSQL and Redis the test suite talks to, if they are not running.
set -u
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
# The serving suite scrapes a real Prometheus; benchmarks/serving.py loads servers with wrk;
# the web UI suite (tests/ui) drives Debian's Chromium through Playwright, which never downloads a browser.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing prometheus, wrk and chromium (Debian packages)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus wrk chromium) \
      >/dev/null 2>&1 || true
  fi
fi
exit 0
