#!/usr/bin/env bash
# pnpm setup:engines: the load engines the export tests run, kept out of the default install.
#   Artillery (npm, ~460 MB): into .engines/artillery, with install scripts off.
#   Apache JMeter 2.13 and a JDK (Debian): jmeter, jmeter-http, openjdk-17-jdk-headless (apt-get,
#   as root; otherwise the command is printed and the script exits 2).
# k6 has no package on this machine's registries: its export is checked for shape only.
set -euo pipefail
cd "$(dirname "$0")/.."

ARTILLERY_VERSION=2.0.34
if [ ! -x .engines/artillery/node_modules/.bin/artillery ]; then
  echo "setup:engines: installing artillery@$ARTILLERY_VERSION into .engines/artillery" >&2
  mkdir -p .engines/artillery
  [ -f .engines/artillery/package.json ] || echo '{"private": true}' > .engines/artillery/package.json
  npm install --prefix .engines/artillery --no-audit --no-fund --ignore-scripts --loglevel=error "artillery@$ARTILLERY_VERSION"
fi

missing=()
[ -f /usr/share/jmeter/bin/ApacheJMeter.jar ] || missing+=(jmeter jmeter-http)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup:engines: JMeter needs Debian packages; run as root: apt-get install ${missing[*]}" >&2
    exit 2
  fi
  echo "setup:engines: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup:engines: artillery $(.engines/artillery/node_modules/.bin/artillery version 2>/dev/null | grep -o 'Artillery: [0-9.]*' || echo '?'), jmeter at /usr/share/jmeter" >&2
