#!/usr/bin/env bash
# A private PostgreSQL 15 cluster from the machine's Debian binaries: start | stop | status | dsn.
set -euo pipefail
. "$(dirname "$0")/env.sh"
PGHOME=$FOLLOWUP_HOME/postgres
# initdb refuses to run as root: run the server as the `postgres` user, which must be able to
# enter every parent directory; when it cannot (a checkout under /root, say), keep the cluster
# in a per-checkout directory under /var/tmp instead.
if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
  if ! runuser -u postgres -- test -x "$FOLLOWUP_HOME" 2>/dev/null; then
    PGHOME=/var/tmp/followup-pg-$(printf '%s' "$FOLLOWUP_HOME" | md5sum | cut -c1-12)
  fi
else
  as_pg() { "$@"; }
fi
DATA=$PGHOME/data
SOCK=$PGHOME/sock
LOG=$LOG_DIR/postgres.log

start() {
  mkdir -p "$PGHOME"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGHOME"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $DATA"
    as_pg mkdir -p "$DATA" "$SOCK"
    as_pg "$FOLLOWUP_PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PGHOME/initdb.log" 2>&1 \
      || die "initdb failed; see $PGHOME/initdb.log"
    cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $FOLLOWUP_PG_PORT
unix_socket_directories = '$SOCK'
max_connections = 300
shared_buffers = 512MB
max_wal_size = 4GB
synchronous_commit = on
fsync = on
CONF
  fi
  # pg_ctl trusts the pid file: a postmaster just killed and not yet reaped still looks alive.
  # Believe it only once the server answers; else wait for the old process to be gone.
  local deadline=$((SECONDS + 30))
  while as_pg "$FOLLOWUP_PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; do
    if "$FOLLOWUP_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$FOLLOWUP_PG_PORT"; then
      log "postgres already running (127.0.0.1:$FOLLOWUP_PG_PORT)"; return 0
    fi
    [ $SECONDS -lt $deadline ] || die "postgres neither answers nor stops (pid $(head -1 "$DATA/postmaster.pid"))"
    sleep 0.5
  done
  [ "$(id -u)" = 0 ] && { touch "$LOG"; chown postgres "$LOG"; }
  log "starting postgres on 127.0.0.1:$FOLLOWUP_PG_PORT (log: $LOG)"
  as_pg "$FOLLOWUP_PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null \
    || die "postgres did not start; see $LOG"
  head -1 "$DATA/postmaster.pid" > "$RUN_DIR/postgres.pid"
}

stop() {
  if [ -f "$DATA/PG_VERSION" ] && as_pg "$FOLLOWUP_PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "stopping postgres"
    as_pg "$FOLLOWUP_PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
  rm -f "$RUN_DIR/postgres.pid"
}

status() {
  if [ -f "$DATA/PG_VERSION" ] && as_pg "$FOLLOWUP_PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "postgres    running  pid $(head -1 "$DATA/postmaster.pid")  127.0.0.1:$FOLLOWUP_PG_PORT  log $LOG  data $DATA"
  else echo "postgres    stopped"; fi
}

dsn() { echo "postgresql://postgres@127.0.0.1:$FOLLOWUP_PG_PORT/${1:-postgres}"; }

case ${1:-} in
  start) start ;; stop) stop ;; status) status ;; dsn) dsn "${2:-}" ;;
  *) die "usage: pg.sh start|stop|status|dsn [db]" ;;
esac
