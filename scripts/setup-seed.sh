#!/usr/bin/env bash
# pnpm setup:seed: the original experiment's stack, kept out of the default install.
#   Flask, gunicorn, gevent, mongoengine and pymongo from Debian, for Debian's own python3
#   (/usr/bin/python3, which need not be the first python3 on PATH): apt-get, as root; otherwise
#   the command is printed and the script exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(python3-flask gunicorn python3-gevent python3-mongoengine python3-pymongo)
probe() {
  /usr/bin/python3 -c 'import importlib.util as u, sys; print(" ".join(m for m in sys.argv[1:] if u.find_spec(m) is None))' flask gunicorn gevent mongoengine pymongo 2>/dev/null || echo python3
}
missing=$(probe)
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup:seed: missing for /usr/bin/python3: $missing; run as root: apt-get install -y ${PACKAGES[*]}" >&2
    exit 2
  fi
  echo "setup:seed: installing ${PACKAGES[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  missing=$(probe)
  if [ -n "$missing" ]; then
    echo "setup:seed: still missing after the install: $missing" >&2
    exit 1
  fi
fi
/usr/bin/python3 - <<'PY' >&2
import flask, gunicorn, gevent, mongoengine, pymongo
from importlib.metadata import version
print("setup:seed: /usr/bin/python3 with " + ", ".join(f"{p} {version(p)}" for p in ("flask", "gunicorn", "gevent", "mongoengine", "pymongo")))
PY
