#!/usr/bin/env bash
# The README's test command, and what .ci/run calls: installs what the tests need on a fresh
# Debian machine (pnpm, the workspace's packages, and the real parts the browser, proxy and
# cluster tests start: Chromium, nginx, Redis, haproxy, taskset), typechecks, then runs
# `pnpm test` with the arguments given. Without root it names the missing packages and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi
echo "pnpm $(pnpm --version), node $(node --version)"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the tests need Debian packages that are missing; install them, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "${CI:-}" = "true" ]; then pnpm install --frozen-lockfile; else pnpm install; fi
if ! pnpm typecheck; then
  echo "typecheck failed" >&2
  exit 2
fi
pnpm test "$@"
