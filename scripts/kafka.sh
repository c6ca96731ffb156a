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
# Several nodes (KAFKA_BROKER_COUNT > 1; fault tests of replicated topics): a KRaft cluster of
# combined broker+controller nodes on loopback. Node i (1..N) listens on KAFKA_PORT+i-1 and its
# controller on KAFKA_CONTROLLER_PORT+i-1 [KAFKA_PORT+N]; all nodes are quorum voters, so with 3
# nodes one can be stopped and the quorum (2 of 3) and every partition (RF 3, min ISR 2) stay
# available. Combined nodes rather than a separate controller: 3 JVMs instead of 4 on a small
# machine, and stopping a node is then the harder case (a broker and a voter leave together).
#   KAFKA_BROKER_COUNT=3 KAFKA_PORT=19410 scripts/kafka.sh start|stop|status
#   KAFKA_BROKER_COUNT=3 KAFKA_PORT=19410 scripts/kafka.sh stop-node 2 | start-node 2
# start starts every node that is not running and waits for all; stop stops all nodes at once
# (one at a time, the last voters would wait on a lost quorum); data in .cache/kafka/cluster-<port>.
#
# Environment (defaults in brackets):
#   KAFKA_BROKERS          when set, an external cluster is used: start/stop do nothing
#   KAFKA_PORT             client listener port [19092]; the controller uses KAFKA_PORT+1000
#   KAFKA_BROKER_COUNT     nodes of a local cluster [1: the single node above]
#   KAFKA_CONTROLLER_PORT  first controller port of a cluster [KAFKA_PORT+KAFKA_BROKER_COUNT]
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
PROPS
  small_machine_props 4 >>"$props"
}

# Settings every broker of ours shares, appended to its properties; $1 = I/O threads.
small_machine_props() {
  cat <<PROPS

# Tests start consumer groups all the time; the default 3 s wait before the first rebalance
# would be added to each of them.
group.initial.rebalance.delay.ms=0

# Sized for one small machine.
num.network.threads=2
num.io.threads=$1
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

# ---- several nodes (KAFKA_BROKER_COUNT > 1) ------------------------------------------------------
# Each node reuses the single-node helpers (running_pid, wait_ready, port_taken) after use_node
# points their variables at it.
cluster_dir="$cache/cluster-$port"

use_node() {
  node="$1"
  port=$((${KAFKA_PORT:-19092} + node - 1))
  cport=$((${KAFKA_CONTROLLER_PORT:-$((${KAFKA_PORT:-19092} + count))} + node - 1))
  data="$cluster_dir/node-$node/data"
  props="$cluster_dir/node-$node/server.properties"
  pidfile="$cluster_dir/node-$node/broker.pid"
  logfile="$cluster_dir/node-$node/broker.log"
}

valid_node() {
  case "${1:-}" in '' | *[!0-9]*) die "give a node number 1..$count (got '${1:-}')" ;; esac
  [ "$1" -ge 1 ] && [ "$1" -le "$count" ] || die "node $1 does not exist: nodes are 1..$count"
}

write_node_props() {
  local voters="" i rf=3 isr=2
  for i in $(seq 1 "$count"); do
    voters="$voters${voters:+,}$i@127.0.0.1:$((${KAFKA_CONTROLLER_PORT:-$((${KAFKA_PORT:-19092} + count))} + i - 1))"
  done
  [ "$count" -lt 3 ] && rf="$count" && isr=1
  mkdir -p "$(dirname "$props")"
  cat >"$props" <<PROPS
# Generated by scripts/kafka.sh on each start; edit the script, not this file.
# Node $node of a $count-node local KRaft cluster: broker and controller, loopback only.
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data

auto.create.topics.enable=false
num.partitions=1
# Replicated by default: acks=all needs 2 of 3 replicas, so one node may be down without loss
# or refusal; an unclean leader (a replica that missed writes) is never elected.
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
PROPS
  small_machine_props 2 >>"$props"
}

cluster_id() {
  mkdir -p "$cluster_dir"
  [ -s "$cluster_dir/cluster.id" ] || new_cluster_id >"$cluster_dir/cluster.id"
  cat "$cluster_dir/cluster.id"
}

# Launches node $node in the background unless it runs; does not wait (the quorum needs a
# majority of nodes up before any of them answers).
launch_node() {
  local pid out
  if pid="$(running_pid)"; then say "node $node already running on 127.0.0.1:$port (pid $pid)"; return 0; fi
  rm -f "$pidfile"
  port_taken "$port" && die "port $port (node $node) is in use by another process; pick another KAFKA_PORT"
  port_taken "$cport" && die "controller port $cport (node $node) is in use by another process; pick another KAFKA_CONTROLLER_PORT"
  write_node_props
  if [ ! -f "$data/meta.properties" ]; then
    out="$("$java_bin" "${jvm_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
      --cluster-id "$(cluster_id)" --config "$props" --ignore-formatted 2>&1)" || { echo "$out" >&2; die "formatting node $node failed"; }
  fi
  if [ -f "$logfile" ]; then mv -f "$logfile" "$logfile.1"; fi
  nohup "$java_bin" "${jvm_opts[@]}" -cp "$libs/*" kafka.Kafka "$props" </dev/null >"$logfile" 2>&1 &
  echo "$!" >"$pidfile"
}

await_node() {
  local pid
  pid="$(running_pid)" || die "node $node (127.0.0.1:$port) is not running; see ${logfile#"$root"/}"
  if ! wait_ready "$pid"; then
    tail -n 30 "$logfile" >&2 || true
    die "node $node did not answer on 127.0.0.1:$port"
  fi
}

stop_nodes() {
  local pids=() i pid deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
  for i in "$@"; do
    use_node "$i"
    if pid="$(running_pid)"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$i:$pid"); fi
    rm -f "$pidfile"
  done
  for entry in "${pids[@]}"; do
    pid="${entry#*:}"
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
      sleep 0.2
    done
    say "stopped node ${entry%%:*} (pid $pid)"
  done
}

cluster_main() {
  local i began=$SECONDS bootstrap=""
  for i in $(seq 1 "$count"); do bootstrap="$bootstrap${bootstrap:+,}127.0.0.1:$((${KAFKA_PORT:-19092} + i - 1))"; done
  if [ -n "${KAFKA_BROKERS:-}" ] && [ "${1:-}" != fetch ]; then say "KAFKA_BROKERS is set: an external cluster is used, nothing to do"; return 0; fi
  case "${1:-}" in
    fetch) fetch ;;
    start)
      need_java; fetch
      if [ "${KAFKA_DATA_RESET:-0}" = "1" ]; then stop_nodes $(seq 1 "$count"); rm -rf "$cluster_dir"; fi
      for i in $(seq 1 "$count"); do use_node "$i"; launch_node; done
      for i in $(seq 1 "$count"); do use_node "$i"; await_node; done
      say "Apache Kafka $version, $count-node KRaft cluster up in $((SECONDS - began)) s"
      say "bootstrap: $bootstrap" ;;
    stop) stop_nodes $(seq 1 "$count") ;;
    stop-node) valid_node "${2:-}"; stop_nodes "$2" ;;
    start-node)
      valid_node "${2:-}"; need_java; fetch; use_node "$2"; launch_node; await_node
      say "node $2 up on 127.0.0.1:$port in $((SECONDS - began)) s" ;;
    status)
      local down=0 pid
      for i in $(seq 1 "$count"); do
        use_node "$i"
        if pid="$(running_pid)"; then say "node $i running on 127.0.0.1:$port (controller $cport, pid $pid)"
        else say "node $i not running (127.0.0.1:$port)"; down=$((down + 1)); fi
      done
      [ "$down" -eq 0 ] || return 3 ;;
    *)
      echo "usage: KAFKA_BROKER_COUNT=N scripts/kafka.sh fetch|start|stop|status|stop-node I|start-node I" >&2
      return 2 ;;
  esac
}

count="${KAFKA_BROKER_COUNT:-1}"
case "$count" in '' | *[!0-9]*) echo "kafka: KAFKA_BROKER_COUNT must be a number, got '$count'" >&2; exit 2 ;; esac
if [ "$count" -gt 1 ]; then
  cluster_main "$@"
  exit $?
fi

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
