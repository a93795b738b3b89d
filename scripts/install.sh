#!/usr/bin/env bash
# Installs everything FestFlow needs that is missing, idempotently:
#   Debian packages (RabbitMQ, Nginx, Chromium, PostgreSQL, Java, Maven),
#   the locked Python environment (uv workspace, uv.lock),
#   the Apache Kafka broker's jars from Maven Central (into .cache/kafka-<version>/libs),
#   Stripe's test server (stripe-mock) and helm (which renders and lints the Kubernetes chart), each built
#   with go install of a named version from the Go module proxy into .cache/go-bin.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

KAFKA_VERSION="3.9.1"
APT_PACKAGES=(rabbitmq-server nginx-light chromium postgresql openjdk-17-jre-headless maven)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # nginx-light is interchangeable with any Debian nginx flavour that is already present
  if [ "$pkg" = nginx-light ] && command -v nginx >/dev/null 2>&1; then continue; fi
  if [ "$pkg" = openjdk-17-jre-headless ] && command -v java >/dev/null 2>&1; then continue; fi
  if [ "$pkg" = maven ] && command -v mvn >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Keep apt from starting system-wide services: FestFlow runs its own, project-local instances.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$created_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi

echo "==> Python environment (uv.lock)"
scripts/uv.sh sync --frozen --all-packages --quiet

kafka_dir="$root/.cache/kafka-$KAFKA_VERSION"
if [ ! -f "$kafka_dir/.complete" ]; then
  echo "==> fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$kafka_dir"
  # Maven 3.8 writes colour codes even when quiet and not on a terminal: its output goes to a log,
  # shown only when the fetch fails
  if ! mvn -B -q -f scripts/kafka/pom.xml -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_dir/libs" \
      >"$root/.cache/kafka-fetch.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$root/.cache/kafka-fetch.log" >&2
    exit 1
  fi
  touch "$kafka_dir/.complete"
fi
# Go tools the project runs, each a named version built with go install from the Go module proxy:
# Stripe's own test server, which the payment tests call, and helm, which renders the Kubernetes chart
go_bin="$root/.cache/go-bin"
go_tool() {  # go_tool NAME MODULE VERSION: builds NAME into .cache/go-bin unless that version is there
  local name="$1" module="$2" version="$3"
  if [ "$(cat "$go_bin/.$name-version" 2>/dev/null)" = "$version" ] && [ -x "$go_bin/$name" ]; then return; fi
  if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
    echo "==> installing Debian package: golang-go"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  fi
  local go_cmd
  go_cmd="$(command -v go || echo /usr/local/go/bin/go)"
  echo "==> building $name: go install $module@$version"
  mkdir -p "$go_bin"
  GOBIN="$go_bin" GOFLAGS=-mod=mod "$go_cmd" install "$module@$version"
  echo "$version" > "$go_bin/.$name-version"
}
go_tool stripe-mock github.com/stripe/stripe-mock v0.203.0
go_tool helm helm.sh/helm/v4/cmd/helm v4.3.2
echo "==> all dependencies present"
