#!/usr/bin/env bash
# Single-node KRaft Kafka 4.x from Maven Central jars: fetch | start | stop | status.
set -euo pipefail
. "$(dirname "$0")/env.sh"
KDIR=$FOLLOWUP_HOME/kafka
PIDFILE=$RUN_DIR/kafka.pid
LOG=$LOG_DIR/kafka.log

fetch() {
  if [ -f "$FOLLOWUP_KAFKA_LIBS/.complete" ]; then return 0; fi
  log "fetching Apache Kafka jars from Maven Central into $FOLLOWUP_KAFKA_LIBS (first use only)"
  mkdir -p "$FOLLOWUP_KAFKA_LIBS"
  mvn -q -B -f "$FOLLOWUP_ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$FOLLOWUP_KAFKA_LIBS" \
    || die "mvn could not resolve the Kafka jars (is Maven Central reachable?)"
  touch "$FOLLOWUP_KAFKA_LIBS/.complete"
}

configure() {
  mkdir -p "$KDIR/data"
  cat > "$KDIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$FOLLOWUP_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$FOLLOWUP_KAFKA_PORT,CONTROLLER://127.0.0.1:$FOLLOWUP_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$FOLLOWUP_KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KDIR/data
num.partitions=$FOLLOWUP_PARTITIONS
auto.create.topics.enable=false
log.retention.ms=-1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
PROPS
}

start() {
  if pid_alive "$PIDFILE"; then log "kafka already running (pid $(cat "$PIDFILE"), 127.0.0.1:$FOLLOWUP_KAFKA_PORT)"; return 0; fi
  fetch
  configure
  if [ ! -f "$KDIR/data/meta.properties" ]; then
    # 16 random bytes, base64url without padding; never starting with '-' (the tool would read a flag).
    cid=$(python3 -c 'import base64,os
while True:
    c = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not c.startswith("-"): print(c); break')
    java -cp "$FOLLOWUP_KAFKA_LIBS/*" -Dlog4j2.configurationFile="$FOLLOWUP_ROOT/infra/log4j2.properties" \
      -Dfollowup.kafka.log="$LOG_DIR/kafka-format.log" \
      kafka.tools.StorageTool format -t "$cid" -c "$KDIR/server.properties" --ignore-formatted >>"$LOG_DIR/kafka-format.log" 2>&1 \
      || die "formatting Kafka storage failed; see $LOG_DIR/kafka-format.log"
  fi
  log "starting kafka on 127.0.0.1:$FOLLOWUP_KAFKA_PORT (log: $LOG)"
  nohup java -Xms256m -Xmx"$FOLLOWUP_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$FOLLOWUP_ROOT/infra/log4j2.properties" -Dfollowup.kafka.log="$LOG" \
    -cp "$FOLLOWUP_KAFKA_LIBS/*" kafka.Kafka "$KDIR/server.properties" >>"$LOG_DIR/kafka.stdout" 2>&1 &
  echo $! > "$PIDFILE"
}

stop() {
  if pid_alive "$PIDFILE"; then
    pid=$(cat "$PIDFILE"); log "stopping kafka (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "kafka did not stop in 30 s; killing"; kill -9 "$pid"; }
  fi
  rm -f "$PIDFILE"
}

status() {
  if pid_alive "$PIDFILE"; then echo "kafka       running  pid $(cat "$PIDFILE")  127.0.0.1:$FOLLOWUP_KAFKA_PORT  log $LOG"
  else echo "kafka       stopped"; fi
}

case ${1:-} in
  fetch) fetch ;; start) start ;; stop) stop ;; status) status ;;
  *) die "usage: kafka.sh fetch|start|stop|status" ;;
esac
