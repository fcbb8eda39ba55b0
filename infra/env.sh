# Sourced by every infra script: paths and ports, all overridable from the environment.
# Defaults avoid the standard ports (5432, 9092) so another PostgreSQL or Kafka can keep running.
FOLLOWUP_ROOT=${FOLLOWUP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FOLLOWUP_HOME=${FOLLOWUP_HOME:-$FOLLOWUP_ROOT/.local}
FOLLOWUP_KAFKA_PORT=${FOLLOWUP_KAFKA_PORT:-19092}
FOLLOWUP_KAFKA_CONTROLLER_PORT=${FOLLOWUP_KAFKA_CONTROLLER_PORT:-$((FOLLOWUP_KAFKA_PORT + 1))}
FOLLOWUP_PG_PORT=${FOLLOWUP_PG_PORT:-15432}
FOLLOWUP_PROMETHEUS_PORT=${FOLLOWUP_PROMETHEUS_PORT:-19090}
FOLLOWUP_PG_BIN=${FOLLOWUP_PG_BIN:-/usr/lib/postgresql/15/bin}
FOLLOWUP_PARTITIONS=${FOLLOWUP_PARTITIONS:-6}
FOLLOWUP_KAFKA_HEAP=${FOLLOWUP_KAFKA_HEAP:-768m}
# Shared Maven-resolved jars: one download serves the dev stack and the test stack.
FOLLOWUP_KAFKA_LIBS=${FOLLOWUP_KAFKA_LIBS:-$FOLLOWUP_ROOT/.local/kafka-libs}
FOLLOWUP_KAFKA_BOOTSTRAP=${FOLLOWUP_KAFKA_BOOTSTRAP:-127.0.0.1:$FOLLOWUP_KAFKA_PORT}
FOLLOWUP_SERVICES=${FOLLOWUP_SERVICES-"scheduling visits issues analytics"}
RUN_DIR=$FOLLOWUP_HOME/run
LOG_DIR=$FOLLOWUP_HOME/logs
mkdir -p "$RUN_DIR" "$LOG_DIR"

log() { printf '[followup] %s\n' "$*" >&2; }
die() { printf '[followup] ERROR: %s\n' "$*" >&2; exit 1; }

# pid_alive FILE: true when FILE holds the pid of a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

service_port() {
  case $1 in
    scheduling) echo "${FOLLOWUP_SCHEDULING_PORT:-8001}" ;;
    visits) echo "${FOLLOWUP_VISITS_PORT:-8002}" ;;
    issues) echo "${FOLLOWUP_ISSUES_PORT:-8003}" ;;
    analytics) echo "${FOLLOWUP_ANALYTICS_PORT:-8004}" ;;
    *) die "unknown service $1" ;;
  esac
}
