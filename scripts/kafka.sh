#!/usr/bin/env bash
# Local Apache Kafka for diffwatch: one KRaft node (broker + controller) on 127.0.0.1, run from
# jars that Maven fetches from Maven Central into .cache/kafka/<version>/libs (git-ignored).
#
#   scripts/kafka.sh fetch    download the broker jars (once; skipped when already there)
#   scripts/kafka.sh start    fetch if needed, format storage if new, start in the background and
#                             wait until the broker answers metadata requests; prints the
#                             bootstrap address. Harmless when already running.
#   scripts/kafka.sh stop     controlled shutdown (SIGTERM), SIGKILL after KAFKA_STOP_TIMEOUT
#   scripts/kafka.sh status   running or not (exit 0 / 3)
#
# Environment (defaults in brackets):
#   KAFKA_BROKERS          when set, an external cluster is used: start/stop do nothing
#   KAFKA_PORT             client listener port [19092]; the controller uses KAFKA_PORT+1000
#   KAFKA_VERSION          broker version [see `version=` below]
#   KAFKA_HEAP             maximum JVM heap [768m]
#   KAFKA_DATA_RESET=1     wipe the data dir (.cache/kafka/data-<port>) on start, restarting a
#                          running broker if needed
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to answer [90]
#   KAFKA_STOP_TIMEOUT     seconds to wait for a controlled shutdown before SIGKILL [30]
#   KAFKA_MAVEN_REPO       Maven local repository for fetch [Maven's default, ~/.m2/repository]
#   JAVA_HOME              Java 17+ to use [java on PATH]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# 4.3.1: the newest 4.x line that has had a patch release. kafkajs 2.2.4 passes every API diffwatch
# uses against 4.1.2, 4.3.1 and 4.4.0 (test/support/kafka.integration.test.ts): the protocol
# versions it speaks are still above the floors that KIP-896 raised in 4.0.
version="${KAFKA_VERSION:-4.3.1}"
port="${KAFKA_PORT:-19092}"
case "$port" in '' | *[!0-9]*) echo "kafka: KAFKA_PORT must be a port number, got '$port'" >&2; exit 2 ;; esac
if [ "$port" -lt 1024 ] || [ "$port" -gt 64535 ]; then
  echo "kafka: KAFKA_PORT must be between 1024 and 64535 (the controller uses KAFKA_PORT+1000), got $port" >&2
  exit 2
fi
cport=$((port + 1000))
cache="$root/.cache/kafka"
libs="$cache/$version/libs"
data="$cache/data-$port"
props="$cache/server-$port.properties"
pidfile="$cache/broker-$port.pid"
logfile="$cache/broker-$port.log"
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"

say() { echo "kafka: $*"; }
die() { echo "kafka: error: $*" >&2; exit 1; }

need_java() {
  command -v "$java_bin" >/dev/null 2>&1 ||
    die "no Java found. The local broker needs a Java 17+ runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17), or set KAFKA_BROKERS=host:port to use an existing Kafka cluster"
  local major
  major="$("$java_bin" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\)[."].*/\1/p' | head -n 1)"
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    die "Kafka 4 needs Java 17 or newer; $("$java_bin" -version 2>&1 | head -n 1) found. Install openjdk-17 (or set JAVA_HOME to one)"
  fi
}

fetch() {
  if [ -f "$libs/.complete" ]; then
    say "Apache Kafka $version jars already in ${libs#"$root"/}"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "Maven is needed to fetch the Kafka jars from Maven Central (apt-get install maven), or set KAFKA_BROKERS=host:port to use an existing cluster"
  say "fetching Apache Kafka $version from Maven Central into ${libs#"$root"/} ..."
  # Into a scratch folder first, renamed when complete: an interrupted fetch leaves no half set.
  local tmp="$libs.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$root/scripts/kafka/pom.xml" -Dkafka.version="$version" \
      ${KAFKA_MAVEN_REPO:+-Dmaven.repo.local="$KAFKA_MAVEN_REPO"} \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp"; then
    rm -rf "$tmp"
    die "Maven could not fetch Apache Kafka $version (is Maven Central reachable? Proxy settings go in ~/.m2/settings.xml)"
  fi
  [ -f "$tmp/kafka_2.13-$version.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$version.jar is missing after the fetch"; }
  rm -rf "$libs"
  mv "$tmp" "$libs"
  touch "$libs/.complete"
  say "$(find "$libs" -name '*.jar' | wc -l | tr -d ' ') jars, $(du -sh "$libs" | cut -f1) in ${libs#"$root"/}"
}

# The pid in the pid file, if that process is alive and is our broker for this port (a stale pid
# file must never make us signal an unrelated process that got the same pid).
running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile")"
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -qF "kafka.Kafka $props" || return 1
  echo "$pid"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Kafka cluster ids are 16 random bytes in URL-safe base64 without padding; Kafka itself avoids
# ids starting with '-' (they read as command-line options), and so do we.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    case "$id" in -*) ;; *) echo "$id"; return 0 ;; esac
  done
}

jvm_opts=(-Xms256m "-Xmx${KAFKA_HEAP:-768m}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=$root/scripts/kafka/log4j2.yaml")

write_props() {
  cat >"$props" <<PROPS
# Generated by scripts/kafka.sh on each start; edit the script, not this file.
# One KRaft node that is broker and controller, on loopback only.
process.roles=broker,controller
node.id=1
# A static single-voter quorum: nothing ever joins or leaves it, so the dynamic quorum of KIP-853
# (controller.quorum.bootstrap.servers + format --standalone) would add nothing.
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data

# diffwatch creates every topic explicitly, with the partition count it wants. With auto-creation
# on, a misspelt topic name in a producer or test would quietly get its own 1-partition topic.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# Internal topics on a single node: replication factor 1, few partitions (fast first group join).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Tests start consumer groups all the time; the default 3 s wait before the first rebalance
# would be added to each of them.
group.initial.rebalance.delay.ms=0

# Sized for one small machine.
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=268435456
log.retention.hours=24
PROPS
}

format_storage() {
  local id out
  id="$(new_cluster_id)"
  if ! out="$("$java_bin" "${jvm_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
      --cluster-id "$id" --config "$props" --ignore-formatted 2>&1)"; then
    echo "$out" >&2
    die "formatting $data failed"
  fi
  say "formatted ${data#"$root"/} (cluster id $id)"
}

wait_ready() {
  local pid="$1" timeout="${KAFKA_START_TIMEOUT:-90}"
  if command -v node >/dev/null 2>&1 && [ -d "$root/node_modules/kafkajs" ]; then
    node "$root/scripts/kafka/wait-ready.mjs" "127.0.0.1:$port" "$timeout" "$pid"
    return
  fi
  # No node_modules yet: ask with Kafka's own tool (slower, a JVM per attempt).
  local deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || { echo "kafka: the broker process (pid $pid) exited during start-up" >&2; return 2; }
    if "$java_bin" -cp "$libs/*" "-Dlog4j2.configurationFile=$root/scripts/kafka/log4j2.yaml" \
        org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$port" >/dev/null 2>&1; then
      say "127.0.0.1:$port answers metadata requests"
      return 0
    fi
    sleep 1
  done
  echo "kafka: 127.0.0.1:$port did not answer within $timeout s" >&2
  return 1
}

start() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS=$KAFKA_BROKERS is set: an external cluster is used, nothing to start"
    return 0
  fi
  need_java
  fetch
  mkdir -p "$cache"
  local pid
  if pid="$(running_pid)"; then
    if [ "${KAFKA_DATA_RESET:-0}" = "1" ]; then
      say "KAFKA_DATA_RESET=1: restarting the broker on 127.0.0.1:$port with empty data"
      stop
    else
      say "already running on 127.0.0.1:$port (pid $pid)"
      wait_ready "$pid"
      say "bootstrap: 127.0.0.1:$port"
      return 0
    fi
  fi
  rm -f "$pidfile"
  port_taken "$port" && die "port $port is in use by another process (not a broker started by this script); pick another KAFKA_PORT"
  port_taken "$cport" && die "controller port $cport (KAFKA_PORT+1000) is in use by another process; pick another KAFKA_PORT"
  if [ "${KAFKA_DATA_RESET:-0}" = "1" ]; then rm -rf "$data"; fi
  write_props
  [ -f "$data/meta.properties" ] || format_storage
  if [ -f "$logfile" ]; then mv -f "$logfile" "$logfile.1"; fi

  local began=$SECONDS rc=0
  nohup "$java_bin" "${jvm_opts[@]}" -cp "$libs/*" kafka.Kafka "$props" </dev/null >"$logfile" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_ready "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "kafka: last lines of ${logfile#"$root"/}:" >&2
    tail -n 40 "$logfile" >&2 || true
    stop >&2 || true
    die "the broker did not start (if its data dir came from another Kafka version, retry with KAFKA_DATA_RESET=1)"
  fi
  say "Apache Kafka $version (KRaft, single node) up in $((SECONDS - began)) s, pid $pid, log ${logfile#"$root"/}"
  say "bootstrap: 127.0.0.1:$port"
}

stop() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    say "KAFKA_BROKERS=$KAFKA_BROKERS is set: an external cluster is used, nothing to stop"
    return 0
  fi
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    say "not running on 127.0.0.1:$port"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "kafka: no controlled shutdown within ${KAFKA_STOP_TIMEOUT:-30} s; sending SIGKILL to pid $pid" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  say "stopped the broker on 127.0.0.1:$port (pid $pid)"
}

status() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then say "KAFKA_BROKERS=$KAFKA_BROKERS is set: an external cluster is used"; fi
  local pid
  if pid="$(running_pid)"; then
    say "running on 127.0.0.1:$port (pid $pid, data ${data#"$root"/}, log ${logfile#"$root"/})"
  else
    say "not running on 127.0.0.1:$port"
    return 3
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: scripts/kafka.sh fetch|start|stop|status   (see the top of the script for settings)" >&2
    exit 2
    ;;
esac
