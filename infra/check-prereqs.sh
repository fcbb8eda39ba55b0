#!/usr/bin/env bash
# Says exactly which of the few things a fresh machine needs is missing, and how to get it.
set -u
. "$(dirname "$0")/env.sh"
missing=0
need() { # need CMD "how to get it"
  if ! command -v "$1" >/dev/null 2>&1; then log "missing: $1 — $2"; missing=1; fi
}
need python3 "install Python 3.11 (Debian: apt-get install python3 python3-venv)"
if command -v python3 >/dev/null && ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  log "missing: Python >= 3.11 (found $(python3 -V 2>&1)) — install Python 3.11"; missing=1
fi
need java "install Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
if command -v java >/dev/null; then
  jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${jv:-0}" -ge 17 ] || { log "missing: Java >= 17 (found ${jv:-?}) — apt-get install openjdk-17-jre-headless"; missing=1; }
fi
need mvn "install Maven (Debian: apt-get install maven); it fetches the Kafka jars from Maven Central"
[ -x "$FOLLOWUP_PG_BIN/initdb" ] && [ -x "$FOLLOWUP_PG_BIN/pg_ctl" ] || {
  log "missing: PostgreSQL 15 server binaries in $FOLLOWUP_PG_BIN — apt-get install postgresql-15 (or set FOLLOWUP_PG_BIN)"; missing=1; }
exit $missing
