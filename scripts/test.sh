#!/usr/bin/env bash
# Installs everything the tests need from nothing (Debian packages, services, Python packages),
# then runs the linters and the whole suite, browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v chromedriver >/dev/null || apt_packages+=(chromium-driver)
command -v redis-server >/dev/null || apt_packages+=(redis-server)
command -v pg_ctlcluster >/dev/null || apt_packages+=(postgresql)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "installing ${apt_packages[*]}"
  apt-get update -qq
  apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

pg_version=$(ls /etc/postgresql | sort -n | tail -n 1)
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  hba=/etc/postgresql/$pg_version/main/pg_hba.conf
  # A fresh Debian cluster asks loopback clients for a password; the tests connect as postgres.
  if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

scripts/bootstrap.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Debian's chromium wrapper script prints a harmless warning under sh; skip it.
export DASH_TEST_CHROMEPATH=${DASH_TEST_CHROMEPATH:-/usr/lib/chromium/chromium}
# Two worker processes: most of a test's time is spent waiting (on a browser, a server, a
# database), so two run side by side on two cores. Each test still has its own database, Redis
# prefix and ports. Work stealing evens out the long browser tests. `-n 0` runs them in one.
exec .venv/bin/python -m pytest --headless -q -n 2 --dist worksteal "$@"
