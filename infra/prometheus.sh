#!/usr/bin/env bash
# Prometheus for the local stack (Debian's package, run by hand like Kafka): start | stop | status.
# Scrapes the four services on 127.0.0.1 and loads deploy/prometheus/alerts.yml.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"
PDIR=$FOLLOWUP_HOME/prometheus
PIDFILE=$RUN_DIR/prometheus.pid
LOG=$LOG_DIR/prometheus.log
PORT=$FOLLOWUP_PROMETHEUS_PORT

configure() {
  mkdir -p "$PDIR/data"
  {
    cat <<YAML
# Written by infra/prometheus.sh; the job names match compose and the k8s ServiceMonitors.
global: {scrape_interval: ${FOLLOWUP_SCRAPE_INTERVAL:-5s}, evaluation_interval: ${FOLLOWUP_SCRAPE_INTERVAL:-5s}}
rule_files: ["$FOLLOWUP_ROOT/deploy/prometheus/alerts.yml"]
scrape_configs:
YAML
    for svc in $FOLLOWUP_SERVICES; do
      printf '  - {job_name: %s, static_configs: [{targets: ["127.0.0.1:%s"]}]}\n' "$svc" "$(service_port "$svc")"
    done
  } > "$PDIR/prometheus.yml"
}

start() {
  if pid_alive "$PIDFILE"; then log "prometheus already running (pid $(cat "$PIDFILE"), 127.0.0.1:$PORT)"; return 0; fi
  local bin; bin=$("$HERE/tools.sh" prometheus)
  configure
  log "starting prometheus on 127.0.0.1:$PORT (log: $LOG)"
  nohup "$bin" --config.file="$PDIR/prometheus.yml" --storage.tsdb.path="$PDIR/data" \
    --web.listen-address="127.0.0.1:$PORT" --web.enable-lifecycle >>"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
}

wait_ready() {
  local deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; do
    pid_alive "$PIDFILE" || die "prometheus exited; last lines of $LOG:
$(tail -20 "$LOG")"
    [ $SECONDS -lt $deadline ] || die "prometheus not ready after 60 s (log: $LOG)"
    sleep 0.5
  done
}

stop() {
  if pid_alive "$PIDFILE"; then
    local pid; pid=$(cat "$PIDFILE"); log "stopping prometheus (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$PIDFILE"
}

status() {
  if pid_alive "$PIDFILE"; then
    printf 'prometheus  running  pid %s  http://127.0.0.1:%s  log %s\n' "$(cat "$PIDFILE")" "$PORT" "$LOG"
  else echo "prometheus  stopped"; fi
}

case ${1:-} in
  start) start ;; stop) stop ;; status) status ;; wait-ready) wait_ready ;; configure) configure ;;
  *) die "usage: prometheus.sh start|stop|status|wait-ready|configure" ;;
esac
