#!/usr/bin/env bash
# Local Apache Kafka (KRaft, single node) + Trino (Iceberg connector, spooled results on S3Mock)
# for Aurum Scenarios.
#
#   bash deploy/local/services.sh up       fetch (Maven Central, cached), start, wait, create topics/tables
#   bash deploy/local/services.sh down     stop both (SIGTERM, SIGKILL after a timeout)
#   bash deploy/local/services.sh status   what runs
#
# Everything lives in .services/ at the repository root (git-ignored):
#   m2/        Maven local repository used for the fetch (reused across runs)
#   dist/      trino-server-core tarball + plugin zips as fetched (removed once unpacked)
#   kafka/     libs/ (broker classpath), config/, data/ (KRaft log dirs)
#   trino-server-core-<v>/  unpacked server, plugin/iceberg added
#   trino/     etc/ (rendered from trino/etc), data/, warehouse/ (Iceberg files)
#   s3mock/    the S3Mock executable jar; s3/data/ its buckets (Trino's spooled result segments)
#   trino-cli/ Trino's CLI (executable jar; the export bench's baseline)
#   logs/      kafka/server.log, kafka.out, trino-server.log, trino.out, s3mock.out, mvn.log
#   run/       pid files
#   env        the environment for the service and the integration tests
#
# Overrides (environment): AURUM_SERVICES_DIR, AURUM_SERVICES_M2 (Maven local repo),
# KAFKA_JAVA_HOME (JDK 17+), TRINO_JAVA_HOME (JDK 24+ for Trino 476), PGHOST/PGPORT/PGUSER.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
SVC=$(realpath -m "${AURUM_SERVICES_DIR:-$ROOT/.services}")
M2=$(realpath -m "${AURUM_SERVICES_M2:-$SVC/m2}")
LOGS="$SVC/logs"
RUN="$SVC/run"

KAFKA_VERSION=4.1.1
TRINO_VERSION=476
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
TRINO_PORT=8080
S3_PORT=9000
S3MOCK_VERSION=4.12.4
S3_BUCKET=aurum-spooling
KAFKA_JAVA_HOME=${KAFKA_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
TRINO_JAVA_HOME=${TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
ICEBERG_DB=aurum_iceberg
# The catalog database is the machine's, shared by every checkout; the Iceberg files are this
# checkout's (.services/trino/warehouse). One catalog name per checkout keeps their tables apart.
ICEBERG_CATALOG="aurum_$(printf '%s' "$SVC" | md5sum | cut -c1-8)"

TOPICS=(
  "aurum.scenario.request.v1:3"
  "aurum.scenario.output.v1:1"
  "aurum.scenario.request.dlq.v1:1"
  "aurum.scenario.cache.invalidation.v1:1"
)

TRINO_HOME="$SVC/trino-server-core-$TRINO_VERSION"
KAFKA_LIBS="$SVC/kafka/libs"

log() { printf '[services %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# (bounded: a connect to a hung server can block for minutes once its backlog is full)
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

# pid of a service we started, if it is still that process; empty otherwise
live_pid() {
  local name=$1 marker=$2 pid
  [[ -f "$RUN/$name.pid" ]] || return 0
  pid=$(<"$RUN/$name.pid")
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$marker"; then
    echo "$pid"
  else
    rm -f "$RUN/$name.pid"
  fi
}
kafka_pid() { live_pid kafka kafka.Kafka; }
s3_pid() { live_pid s3 "s3mock-$S3MOCK_VERSION"; }
trino_pid() { live_pid trino io.trino.server.TrinoServer; }

java_major() { # JAVA_HOME -> major version (empty when there is no java)
  [[ -x "$1/bin/java" ]] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}

# pick_jdk VAR MIN WHAT: keep $VAR when it is a JDK >= MIN, else take one from /usr/lib/jvm
pick_jdk() {
  local var=$1 min=$2 what=$3 home v
  home=${!var}
  v=$(java_major "$home")
  if [[ -n "$v" ]] && (( v >= min )); then return; fi
  for home in /usr/lib/jvm/*; do
    v=$(java_major "$home")
    if [[ -n "$v" ]] && (( v >= min )); then
      log "$what: ${!var} is not a JDK $min+, using $home (Java $v)"
      printf -v "$var" '%s' "$home"
      return
    fi
  done
  die "$what needs a JDK $min+ (none at ${!var} or in /usr/lib/jvm); set $var"
}

# ---------------------------------------------------------------- fetch (Maven)
fetch() {
  local need=0
  [[ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || need=1
  if [[ ! -d "$TRINO_HOME/plugin/iceberg" ]]; then
    [[ -f "$SVC/dist/trino-server-core-$TRINO_VERSION.tar.gz" ]] || need=1
    [[ -f "$SVC/dist/trino-iceberg-$TRINO_VERSION.zip" ]] || need=1
  fi
  [[ -f "$SVC/s3mock/s3mock-$S3MOCK_VERSION-exec.jar" ]] || need=1
  [[ -f "$SVC/trino-cli/trino-cli-$TRINO_VERSION-executable.jar" ]] || need=1
  if (( need )); then
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    log "fetching Kafka $KAFKA_VERSION and Trino $TRINO_VERSION from Maven Central (Maven repo: $M2)"
    rm -rf "$KAFKA_LIBS"
    mvn -q -B -f "$HERE/pom.xml" \
      -Dmaven.repo.local="$M2" -Dservices.dir="$SVC" \
      -Dkafka.version="$KAFKA_VERSION" -Dtrino.version="$TRINO_VERSION" -Ds3mock.version="$S3MOCK_VERSION" \
      dependency:copy-dependencies@kafka dependency:copy@trino >"$LOGS/mvn.log" 2>&1 \
      || { tail -40 "$LOGS/mvn.log" >&2; die "Maven fetch failed (log: $LOGS/mvn.log)"; }
  fi
  if [[ ! -d "$TRINO_HOME/plugin/iceberg" ]]; then
    log "unpacking Trino $TRINO_VERSION"
    local tmp="$SVC/.unpack.$$"
    rm -rf "$tmp" "$TRINO_HOME" && mkdir -p "$tmp"
    tar xzf "$SVC/dist/trino-server-core-$TRINO_VERSION.tar.gz" -C "$tmp"
    # Plugins not used here; dropping them shortens startup.
    rm -rf "$tmp/trino-server-core-$TRINO_VERSION/plugin/functions-python"
    if command -v unzip >/dev/null; then
      (cd "$tmp" && unzip -q "$SVC/dist/trino-iceberg-$TRINO_VERSION.zip")
    else
      (cd "$tmp" && "$TRINO_JAVA_HOME/bin/jar" xf "$SVC/dist/trino-iceberg-$TRINO_VERSION.zip")
    fi
    # The iceberg plugin zip bundles org.postgresql:postgresql (JDBC catalog driver).
    ls "$tmp/trino-iceberg-$TRINO_VERSION"/org.postgresql_postgresql-*.jar >/dev/null 2>&1 \
      || die "trino-iceberg-$TRINO_VERSION.zip has no PostgreSQL JDBC driver"
    mv "$tmp/trino-iceberg-$TRINO_VERSION" "$tmp/trino-server-core-$TRINO_VERSION/plugin/iceberg"
    mv "$tmp/trino-server-core-$TRINO_VERSION" "$TRINO_HOME"
    # The archives stay in the Maven repo ($M2); the copies are not needed any more.
    rm -rf "$tmp"
  fi
  rm -rf "$SVC/dist"
}

# The key Trino signs spooled segment URIs with: made once per checkout, kept with its services.
spooling_secret() {
  local f="$SVC/trino/spooling.key"
  [[ -s "$f" ]] || { mkdir -p "$SVC/trino"; head -c 32 /dev/urandom | base64 >"$f"; }
  cat "$f"
}

render() { # template -> destination, substituting @SERVICES_DIR@, @TRINO_HOME@, @ICEBERG_CATALOG@, @S3_PORT@, @SPOOLING_SECRET@
  mkdir -p "$(dirname "$2")"
  sed -e "s#@SERVICES_DIR@#$SVC#g" -e "s#@TRINO_HOME@#$TRINO_HOME#g" -e "s#@ICEBERG_CATALOG@#$ICEBERG_CATALOG#g" \
    -e "s#@S3_PORT@#$S3_PORT#g" -e "s#@SPOOLING_SECRET@#$(spooling_secret)#g" "$1" >"$2"
}

# ---------------------------------------------------------------- Kafka
kafka_java() {
  "$KAFKA_JAVA_HOME/bin/java" "$@"
}
kafka_tool() { # class args...
  kafka_java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$HERE/kafka/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_start() {
  local pid
  pid=$(kafka_pid)
  if [[ -n "$pid" ]] && port_open $KAFKA_PORT; then log "kafka already running (pid $pid)"; return; fi
  if [[ -n "$pid" ]]; then log "kafka (pid $pid) still starting"; return; fi
  for p in $KAFKA_PORT $KAFKA_CONTROLLER_PORT; do
    port_open "$p" && die "port $p is taken by a process not started by services.sh"
  done
  local conf="$SVC/kafka/config/server.properties"
  render "$HERE/kafka/server.properties" "$conf"
  mkdir -p "$SVC/kafka/data" "$LOGS/kafka"
  if [[ ! -f "$SVC/kafka/data/meta.properties" ]]; then
    [[ -s "$SVC/kafka/cluster.id" ]] || kafka_tool kafka.tools.StorageTool random-uuid >"$SVC/kafka/cluster.id"
    log "formatting Kafka storage (cluster id $(<"$SVC/kafka/cluster.id"))"
    kafka_tool kafka.tools.StorageTool format -t "$(<"$SVC/kafka/cluster.id")" -c "$conf" --standalone \
      >>"$LOGS/kafka.out" 2>&1 || { tail -20 "$LOGS/kafka.out" >&2; die "kafka storage format failed"; }
  fi
  log "starting kafka $KAFKA_VERSION (Java $KAFKA_JAVA_HOME)"
  (
    cd "$SVC/kafka"
    exec setsid nohup "$KAFKA_JAVA_HOME/bin/java" -Xms256m -Xmx512m \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
      -Djava.awt.headless=true \
      -Dkafka.logs.dir="$LOGS/kafka" \
      -Dlog4j2.configurationFile="$HERE/kafka/log4j2-server.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$conf" </dev/null >>"$LOGS/kafka.out" 2>&1
  ) &
  echo $! >"$RUN/kafka.pid"
}

kafka_wait() {
  local deadline=$((SECONDS + 120)) pid
  until port_open $KAFKA_PORT && kafka_tool org.apache.kafka.tools.TopicCommand \
      --bootstrap-server 127.0.0.1:$KAFKA_PORT --list >/dev/null 2>&1; do
    pid=$(kafka_pid)
    [[ -n "$pid" ]] || { tail -30 "$LOGS/kafka.out" "$LOGS/kafka/server.log" >&2 2>/dev/null || true; die "kafka exited during startup"; }
    (( SECONDS < deadline )) || die "kafka not ready after 120 s (logs: $LOGS/kafka/)"
    sleep 1
  done
  log "kafka ready on 127.0.0.1:$KAFKA_PORT"
}

kafka_topics() {
  local existing t name parts
  existing=$(kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:$KAFKA_PORT --list)
  for t in "${TOPICS[@]}"; do
    name=${t%%:*} parts=${t##*:}
    if grep -qxF "$name" <<<"$existing"; then continue; fi
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:$KAFKA_PORT \
      --create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 >/dev/null
    log "created topic $name ($parts partitions)"
  done
}

# ---------------------------------------------------------------- S3 (Trino's spooled results)
# S3Mock (com.adobe.testing:s3mock, Maven Central): an S3-compatible server for Trino's spooling
# protocol. Segments live in $SVC/s3 and are dropped when it stops; nothing else is stored there.
s3_start() {
  local pid
  pid=$(s3_pid)
  if [[ -n "$pid" ]] && port_open $S3_PORT; then log "s3 already running (pid $pid)"; return; fi
  if [[ -n "$pid" ]]; then log "s3 (pid $pid) still starting"; return; fi
  port_open $S3_PORT && die "port $S3_PORT is taken by a process not started by services.sh"
  mkdir -p "$SVC/s3" "$LOGS"
  log "starting S3Mock $S3MOCK_VERSION on 127.0.0.1:$S3_PORT (bucket $S3_BUCKET)"
  (
    cd "$SVC/s3"
    # Its main connector serves plain HTTP on loopback. S3Mock always opens a second HTTP
    # connector, on every interface; httpPort=0 gives it a free port, unused here.
    exec setsid nohup "$KAFKA_JAVA_HOME/bin/java" -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -jar "$SVC/s3mock/s3mock-$S3MOCK_VERSION-exec.jar" \
      --server.port=$S3_PORT --server.address=127.0.0.1 --server.ssl.enabled=false \
      --com.adobe.testing.s3mock.httpPort=0 \
      --com.adobe.testing.s3mock.store.root="$SVC/s3/data" \
      --com.adobe.testing.s3mock.store.initialBuckets=$S3_BUCKET \
      --logging.file.name="$LOGS/s3mock.log" </dev/null >>"$LOGS/s3mock.out" 2>&1
  ) &
  echo $! >"$RUN/s3.pid"
}

s3_wait() {
  local deadline=$((SECONDS + 120))
  until curl -sf "http://127.0.0.1:$S3_PORT/$S3_BUCKET?list-type=2&max-keys=1" >/dev/null 2>&1; do
    [[ -n "$(s3_pid)" ]] || { tail -30 "$LOGS/s3mock.out" >&2 2>/dev/null || true; die "S3Mock exited during startup"; }
    (( SECONDS < deadline )) || die "S3Mock not ready after 120 s (log: $LOGS/s3mock.out)"
    sleep 1
  done
  log "s3 ready on http://127.0.0.1:$S3_PORT"
}

# ---------------------------------------------------------------- Trino
iceberg_db() { # the Iceberg JDBC catalog's database + tables in the machine's PostgreSQL
  command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
  local have
  have=$(psql -d postgres -tAc "select 1 from pg_database where datname='$ICEBERG_DB'") \
    || die "cannot reach PostgreSQL at $PGHOST:$PGPORT as $PGUSER"
  if [[ -z "$have" ]]; then
    psql -d postgres -qc "create database $ICEBERG_DB" || die "cannot create database $ICEBERG_DB on $PGHOST:$PGPORT"
    log "created PostgreSQL database $ICEBERG_DB (Iceberg JDBC catalog)"
  fi
  PGOPTIONS='--client-min-messages=warning' psql -d "$ICEBERG_DB" -q -v ON_ERROR_STOP=1 \
    -f "$HERE/iceberg-jdbc-catalog.sql" || die "cannot create the Iceberg JDBC catalog tables"
  if [[ ! -d "$SVC/trino/warehouse" ]]; then
    # Fresh (or wiped) warehouse: catalog rows left from an earlier .services/ would point at
    # metadata files that no longer exist, so forget them.
    psql -d "$ICEBERG_DB" -q -v ON_ERROR_STOP=1 \
      -c "delete from iceberg_tables where catalog_name = '$ICEBERG_CATALOG'" \
      -c "delete from iceberg_namespace_properties where catalog_name = '$ICEBERG_CATALOG'" \
      || die "cannot reset the Iceberg JDBC catalog"
    mkdir -p "$SVC/trino/warehouse"
  fi
}

trino_start() {
  local pid
  pid=$(trino_pid)
  if [[ -n "$pid" ]] && port_open $TRINO_PORT; then log "trino already running (pid $pid)"; return; fi
  if [[ -n "$pid" ]]; then
    log "trino (pid $pid) still starting"; return
  fi
  port_open $TRINO_PORT && die "port $TRINO_PORT is taken by a process not started by services.sh"
  rm -rf "$SVC/trino/etc"
  local f
  while IFS= read -r f; do
    render "$ROOT/trino/etc/$f" "$SVC/trino/etc/$f"
  done < <(cd "$ROOT/trino/etc" && find . -type f -name '*.properties' -o -type f -name 'jvm.config' | sed 's#^\./##')
  mkdir -p "$SVC/trino/data" "$SVC/trino/warehouse" "$LOGS"
  # airlift rotates trino-server.log at every start; keep the last 3 rotated files
  { ls -1t "$LOGS"/trino-server.log-* 2>/dev/null || true; } | tail -n +4 | xargs -r rm -f
  local -a jvm node
  mapfile -t jvm < <(grep -Ev '^\s*(#|$)' "$SVC/trino/etc/jvm.config")
  mapfile -t node < <(grep -Ev '^\s*(#|$)' "$SVC/trino/etc/node.properties" | sed 's/^/-D/')
  log "starting trino $TRINO_VERSION (Java $TRINO_JAVA_HOME)"
  (
    # Trino refuses to start below 4096 open files.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    (( $(ulimit -n) >= 4096 )) || die "open files limit $(ulimit -n) < 4096"
    # Trino reads etc/spooling-manager.properties relative to its working directory; like Trino's
    # own launcher, run in the data folder with etc/ linked into it.
    ln -sfn "$SVC/trino/etc" "$SVC/trino/data/etc"
    cd "$SVC/trino/data"
    exec setsid nohup "$TRINO_JAVA_HOME/bin/java" "${jvm[@]}" \
      "${node[@]}" \
      -Dconfig="$SVC/trino/etc/config.properties" \
      -Dlog.levels-file="$SVC/trino/etc/log.properties" \
      -Dlog.output-file="$LOGS/trino-server.log" -Dlog.enable-console=false \
      -cp "$TRINO_HOME/lib/*" io.trino.server.TrinoServer </dev/null >>"$LOGS/trino.out" 2>&1
  ) &
  echo $! >"$RUN/trino.pid"
}

trino_wait() {
  local deadline=$((SECONDS + 300)) pid info
  until info=$(curl -sf "http://127.0.0.1:$TRINO_PORT/v1/info" 2>/dev/null) && grep -q '"starting":false' <<<"$info"; do
    pid=$(trino_pid)
    [[ -n "$pid" ]] || { tail -40 "$LOGS/trino.out" "$LOGS/trino-server.log" >&2 2>/dev/null || true; die "trino exited during startup"; }
    (( SECONDS < deadline )) || die "trino not ready after 300 s (logs: $LOGS/trino-server.log)"
    sleep 1
  done
  # "starting":false comes a few seconds before the coordinator is usable as a worker: in that
  # window a partitioned INSERT fails with "nodes is empty" (NodePartitioningManager's node map
  # is still empty). Probe with such an INSERT into a scratch table until it goes through.
  trino_query "create schema if not exists iceberg.services_probe" >/dev/null
  trino_query "create or replace table iceberg.services_probe.ready (p varchar, m varchar, d date)
    with (partitioning = array['p', 'm', 'day(d)'])" >/dev/null
  local probe_out
  until probe_out=$(trino_query "insert into iceberg.services_probe.ready
      select 'p', 'm' || cast(i % 3 as varchar), date_add('day', i % 5, date '2025-01-01')
      from unnest(sequence(1, 1000)) as t(i)" 2>&1); do
    [[ "$probe_out" == *"nodes is empty"* ]] || die "trino probe query failed: $probe_out"
    (( SECONDS < deadline )) || die "trino cannot run queries after 300 s (logs: $LOGS/trino-server.log)"
    sleep 0.5
  done
  trino_query "delete from iceberg.services_probe.ready" >/dev/null
  log "trino ready on http://127.0.0.1:$TRINO_PORT"
}

trino_query() {
  AURUM_TRINO_URL="http://127.0.0.1:$TRINO_PORT" AURUM_TRINO_USER=aurum bun "$HERE/trino-sql.ts" --query "$1"
}

trino_ddl() {
  AURUM_TRINO_URL="http://127.0.0.1:$TRINO_PORT" AURUM_TRINO_USER=aurum \
    bun "$HERE/trino-sql.ts" "$ROOT/trino/ddl/iceberg_market.sql" 2>&1 | sed 's/^/  trino: /' \
    || die "applying trino/ddl/iceberg_market.sql failed"
}

write_env() {
  cat >"$SVC/env" <<EOF
AURUM_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
AURUM_TRINO_URL=http://127.0.0.1:$TRINO_PORT
AURUM_TRINO_CATALOG=iceberg
AURUM_TRINO_SCHEMA=market
AURUM_TRINO_USER=aurum
TRINO_CLI_JAR=$SVC/trino-cli/trino-cli-$TRINO_VERSION-executable.jar
TRINO_CLI_JAVA=$TRINO_JAVA_HOME/bin/java
EOF
  log "environment (also in $SVC/env):"
  sed 's/^/  /' "$SVC/env"
}

# ---------------------------------------------------------------- stop / status
stop_one() { # name pidfn ports...
  local name=$1 pidfn=$2 pid; shift 2
  pid=$($pidfn)
  if [[ -z "$pid" ]]; then
    local p; for p in "$@"; do port_open "$p" && log "$name: port $p is open but not ours; left alone"; done
    log "$name not running"; return
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 45)) busy
  while :; do
    busy=0
    kill -0 "$pid" 2>/dev/null && busy=1
    for p in "$@"; do port_open "$p" && busy=1; done
    (( busy )) || break
    if (( SECONDS >= deadline )); then
      log "$name did not stop in 45 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1; deadline=$((SECONDS + 15))
      kill -0 "$pid" 2>/dev/null || { for p in "$@"; do while port_open "$p" && (( SECONDS < deadline )); do sleep 0.5; done; done; break; }
    fi
    sleep 0.5
  done
  rm -f "$RUN/$name.pid"
  log "$name stopped"
}

status_one() { # name pidfn port url
  local name=$1 pid; pid=$($2)
  if [[ -n "$pid" ]]; then
    local rss; rss=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ')
    if port_open "$3"; then
      echo "$name: running (pid $pid, $4, RSS $((rss / 1024)) MB)"
    else
      echo "$name: starting (pid $pid, port $3 not open yet)"
    fi
    return 0
  elif port_open "$3"; then
    echo "$name: port $3 is open, but not started by services.sh"
  else
    echo "$name: stopped"
  fi
  return 1
}

cmd_up() {
  local t0=$SECONDS
  mkdir -p "$SVC" "$LOGS" "$RUN"
  command -v bun >/dev/null || die "bun not found (it runs deploy/local/trino-sql.ts)"
  command -v curl >/dev/null || die "curl not found"
  pick_jdk KAFKA_JAVA_HOME 17 Kafka
  pick_jdk TRINO_JAVA_HOME 24 "Trino $TRINO_VERSION"
  fetch
  kafka_start
  s3_start
  iceberg_db
  s3_wait
  trino_start
  kafka_wait
  kafka_topics
  trino_wait
  trino_ddl
  write_env
  log "up in $((SECONDS - t0)) s"
}

cmd_down() {
  mkdir -p "$RUN"
  stop_one trino trino_pid $TRINO_PORT &
  stop_one kafka kafka_pid $KAFKA_PORT $KAFKA_CONTROLLER_PORT &
  stop_one s3 s3_pid $S3_PORT &
  wait
}

cmd_status() {
  local rc=0
  mkdir -p "$RUN"
  status_one kafka kafka_pid $KAFKA_PORT "127.0.0.1:$KAFKA_PORT" || rc=1
  status_one trino trino_pid $TRINO_PORT "http://127.0.0.1:$TRINO_PORT" || rc=1
  status_one s3 s3_pid $S3_PORT "http://127.0.0.1:$S3_PORT" || rc=1
  [[ -f "$SVC/env" ]] && echo "env file: $SVC/env"
  return $rc
}

# Stop or start Kafka alone (the outage tests use these; `up` must have run once).
cmd_kafka() {
  mkdir -p "$RUN"
  case "$1" in
    stop) stop_one kafka kafka_pid $KAFKA_PORT $KAFKA_CONTROLLER_PORT ;;
    start)
      pick_jdk KAFKA_JAVA_HOME 17 Kafka
      kafka_start
      kafka_wait
      ;;
  esac
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kafka-stop) cmd_kafka stop ;;
  kafka-start) cmd_kafka start ;;
  *) echo "usage: $0 up|down|status|kafka-stop|kafka-start" >&2; exit 2 ;;
esac
