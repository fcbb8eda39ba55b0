#!/usr/bin/env bash
# `make demo`: a fresh stack of its own on the simulated clock, then a year played on it.
#   up    (default) wipes the demo's Kafka and databases, starts the stack, plays, leaves it up
#   down  stops the demo's stack
# Its own home and ports, so a `make up` stack (19092, 15432, 8001-8004, 19090) keeps running.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export FOLLOWUP_HOME=${FOLLOWUP_DEMO_HOME:-$(cd "$HERE/.." && pwd)/.local/demo}
export FOLLOWUP_KAFKA_PORT=${FOLLOWUP_DEMO_KAFKA_PORT:-39092}
export FOLLOWUP_PG_PORT=${FOLLOWUP_DEMO_PG_PORT:-35432}
export FOLLOWUP_PROMETHEUS_PORT=${FOLLOWUP_DEMO_PROMETHEUS_PORT:-19190}
export FOLLOWUP_SCHEDULING_PORT=8101 FOLLOWUP_VISITS_PORT=8102 FOLLOWUP_ISSUES_PORT=8103 \
  FOLLOWUP_ANALYTICS_PORT=8104
export FOLLOWUP_CLOCK=simulated
# Readiness reports any lag at all: the demo waits on it between the steps of a day.
export FOLLOWUP_READINESS_MAX_LAG=0
export FOLLOWUP_TOKENS_FILE=$FOLLOWUP_HOME/tokens.json
. "$HERE/env.sh"
export FOLLOWUP_KAFKA_BOOTSTRAP
UV=${UV:-$("$HERE/bootstrap-uv.sh")}
export UV_PROJECT_ENVIRONMENT=${UV_PROJECT_ENVIRONMENT:-$FOLLOWUP_ROOT/.venv}
FOLLOWUP=("$UV_PROJECT_ENVIRONMENT/bin/followup")
CUSTOMERS=${CUSTOMERS:-2000} MONTHS=${MONTHS:-12} SEED=${SEED:-1} POLICY=${POLICY:-home-cinema}

fresh() {
  "$HERE/stack.sh" down >/dev/null 2>&1 || true
  # A simulated clock never moves back: a replayed year needs empty topics and databases.
  rm -rf "$FOLLOWUP_HOME/kafka/data" "$FOLLOWUP_HOME/prometheus/data"
  "$HERE/pg.sh" start
  "$UV_PROJECT_ENVIRONMENT/bin/python" - "$("$HERE/pg.sh" dsn postgres)" $FOLLOWUP_SERVICES <<'PYEOF'
import asyncio, sys
import asyncpg
async def main(dsn: str, *names: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
asyncio.run(main(*sys.argv[1:]))
PYEOF
}

case ${1:-up} in
  up)
    "${FOLLOWUP[@]}" demo tokens --customers "$CUSTOMERS" --months "$MONTHS" --seed "$SEED" \
      --out "$FOLLOWUP_TOKENS_FILE" >/dev/null
    fresh
    "$HERE/stack.sh" up >"$LOG_DIR/demo-stack.log" 2>&1 \
      || { tail -20 "$LOG_DIR/demo-stack.log"; die "the demo stack did not start"; }
    log "demo stack up (simulated clock; log: $LOG_DIR/demo-stack.log)"
    "${FOLLOWUP[@]}" demo play --customers "$CUSTOMERS" --months "$MONTHS" --seed "$SEED" \
      --policy "$POLICY" --log-file "$LOG_DIR/demo.log" \
      --bench-out "$FOLLOWUP_ROOT/.local/bench/demo.json" \
      --prometheus "http://127.0.0.1:$FOLLOWUP_PROMETHEUS_PORT"
    ;;
  down) "$HERE/stack.sh" down ;;
  *) die "usage: demo.sh up|down" ;;
esac
