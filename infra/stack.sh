#!/usr/bin/env bash
# The local stack: infra-up | up | down | status | wait-ready.
#   infra-up  PostgreSQL (one database per service) + Kafka (contract topics)
#   up        infra-up + migrations + the four services + Prometheus; returns once all is ready
#   down      stops exactly what `up` started (by pid files)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"
UV=${UV:-$("$HERE/bootstrap-uv.sh")}
export UV_PROJECT_ENVIRONMENT=${UV_PROJECT_ENVIRONMENT:-$FOLLOWUP_ROOT/.venv}
PY="$UV run --frozen --project $FOLLOWUP_ROOT --all-packages"

pg_dsn() { "$HERE/pg.sh" dsn "$1"; }

sync_python() {
  (cd "$FOLLOWUP_ROOT" && "$UV" sync --frozen --all-packages --quiet) || die "uv sync failed"
}

infra_up() {
  "$HERE/check-prereqs.sh" || die "prerequisites missing (see above)"
  sync_python
  "$HERE/pg.sh" start
  for svc in $FOLLOWUP_SERVICES; do
    $PY python - "$(pg_dsn postgres)" "$svc" <<'PYEOF'
import asyncio, sys
import asyncpg
async def main(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
asyncio.run(main(*sys.argv[1:]))
PYEOF
  done
  "$HERE/kafka.sh" start
  $PY python "$HERE/kafka_admin.py" ensure-topics --bootstrap "$FOLLOWUP_KAFKA_BOOTSTRAP" \
    --partitions "$FOLLOWUP_PARTITIONS" --timeout 120
}

start_service() {
  local svc=$1 port pidfile
  port=$(service_port "$svc"); pidfile=$RUN_DIR/$svc.pid
  if pid_alive "$pidfile"; then return 0; fi
  log "starting $svc on :$port (log: $LOG_DIR/$svc.log)"
  (
    cd "$FOLLOWUP_ROOT"
    export FOLLOWUP_SERVICE=$svc FOLLOWUP_PORT=$port FOLLOWUP_PG_DSN="$(pg_dsn "$svc")" \
      FOLLOWUP_KAFKA_BOOTSTRAP="$FOLLOWUP_KAFKA_BOOTSTRAP" FOLLOWUP_CLOCK="${FOLLOWUP_CLOCK:-wall}" \
      FOLLOWUP_ENV="${FOLLOWUP_ENV:-development}"
    # The venv's interpreter directly (not `uv run`), so the pid file names the service itself.
    nohup "$UV_PROJECT_ENVIRONMENT/bin/python" -m "followup.$svc.main" >>"$LOG_DIR/$svc.log" 2>&1 &
    echo $! > "$pidfile"
  )
}

wait_ready() {
  local deadline=$((SECONDS + ${FOLLOWUP_READY_TIMEOUT:-120})) svc port
  for svc in $FOLLOWUP_SERVICES; do
    port=$(service_port "$svc")
    until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
      pid_alive "$RUN_DIR/$svc.pid" || die "$svc exited; last lines of $LOG_DIR/$svc.log:
$(tail -20 "$LOG_DIR/$svc.log")"
      [ $SECONDS -lt $deadline ] || die "$svc not ready after ${FOLLOWUP_READY_TIMEOUT:-120} s: $(curl -sS "http://127.0.0.1:$port/readyz" 2>&1)"
      sleep 0.5
    done
  done
}

all_ready() {
  local svc
  pid_alive "$RUN_DIR/kafka.pid" && "$HERE/pg.sh" status | grep -q running || return 1
  pid_alive "$RUN_DIR/prometheus.pid" || return 1
  for svc in $FOLLOWUP_SERVICES; do
    pid_alive "$RUN_DIR/$svc.pid" || return 1
    curl -fsS "http://127.0.0.1:$(service_port "$svc")/readyz" >/dev/null 2>&1 || return 1
  done
}

print_endpoints() {
  local svc port
  echo
  printf '  %-11s %-28s %s\n' service url "API docs"
  for svc in $FOLLOWUP_SERVICES; do
    port=$(service_port "$svc")
    printf '  %-11s %-28s %s\n' "$svc" "http://127.0.0.1:$port" "http://127.0.0.1:$port/docs"
  done
  printf '  %-11s %s\n' kafka "$FOLLOWUP_KAFKA_BOOTSTRAP" postgres "$(pg_dsn postgres)" \
    prometheus "http://127.0.0.1:$FOLLOWUP_PROMETHEUS_PORT (alerts: /alerts)"
  echo "  dev token: Authorization: Bearer ${FOLLOWUP_DEV_TOKEN:-dev-admin}"
}

up() {
  local started=$SECONDS
  if all_ready; then
    log "already up; nothing to do"
    print_endpoints
    return 0
  fi
  infra_up
  for svc in $FOLLOWUP_SERVICES; do
    $PY followup migrate "$svc" --dsn "$(pg_dsn "$svc")" >>"$LOG_DIR/migrate.log" 2>&1 \
      || die "migrating $svc failed; see $LOG_DIR/migrate.log"
  done
  for svc in $FOLLOWUP_SERVICES; do start_service "$svc"; done
  "$HERE/prometheus.sh" start
  wait_ready
  "$HERE/prometheus.sh" wait-ready
  log "all up in $((SECONDS - started)) s (clock: ${FOLLOWUP_CLOCK:-wall})"
  print_endpoints
}

down() {
  local svc pid
  for svc in $FOLLOWUP_SERVICES; do
    if pid_alive "$RUN_DIR/$svc.pid"; then
      pid=$(cat "$RUN_DIR/$svc.pid"); log "stopping $svc (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$RUN_DIR/$svc.pid"
  done
  "$HERE/prometheus.sh" stop
  "$HERE/kafka.sh" stop
  "$HERE/pg.sh" stop
}

status() {
  local svc port
  "$HERE/pg.sh" status
  "$HERE/kafka.sh" status
  "$HERE/prometheus.sh" status
  for svc in $FOLLOWUP_SERVICES; do
    port=$(service_port "$svc")
    if pid_alive "$RUN_DIR/$svc.pid"; then
      ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
      printf '%-11s running  pid %s  http://127.0.0.1:%s  readyz %s  log %s\n' "$svc" \
        "$(cat "$RUN_DIR/$svc.pid")" "$port" "$ready" "$LOG_DIR/$svc.log"
    else
      printf '%-11s stopped\n' "$svc"
    fi
  done
}

case ${1:-} in
  infra-up) infra_up ;; up) up ;; down) down ;; status) status ;; wait-ready) wait_ready ;;
  *) die "usage: stack.sh infra-up|up|down|status|wait-ready" ;;
esac
