#!/usr/bin/env bash
# A production-like Viatique stack on one machine (`make serve`):
#   DEBUG=0, the cache on Redis, Celery on a Redis broker, gunicorn with 3 workers
#   (whitenoise serves the static files) and one Celery worker, started again when it dies.
#
# Environment (all optional):
#   PY              the Python of the virtualenv (default .venv/bin/python)
#   HOST, PORT      where gunicorn listens (default 127.0.0.1:8000)
#   REDIS_URL       the shared cache (default redis://127.0.0.1:6379/0)
#   CELERY_BROKER_URL      the broker (default: REDIS_URL)
#   CELERY_RESULT_BACKEND  where task results go (default: REDIS_URL, see demo_host/settings.py)
#   DATABASE_URL    mysql://... or postgres://...; SQLite under VIATIQUE_VAR_DIR (var/) when unset
#   VIATIQUE_VAR_DIR       SQLite file, collected static files, uploaded scans, secret key (default var/)
#   SECRET_KEY      Django's secret key; when unset, a random one is created once in
#                   $VIATIQUE_VAR_DIR/secret_key (mode 600) and kept for the next runs
#   CELERY_BROKER_TRANSPORT_OPTIONS  JSON; the demo host sets the visibility timeout from the task
#                   time limits unless it is given (see docs/operations.md, "The scan pipeline's tasks")
#   CELERY_DEFAULT_QUEUE / VIATIQUE_CELERY_QUEUE   the queue(s) the worker consumes
#   WEB_WORKERS (default 3), CELERY_CONCURRENCY (default 2), STOP_TIMEOUT (default 30 s)
#   CELERY_RESTART_DELAY (default 1 s): the pause before a dead Celery worker is started again,
#                   doubled for each further worker that dies within a minute of its start (at most
#                   60 s); after 5 of those in a row the stack stops (the worker cannot start)
#
# gunicorn restarts its own workers; serve.sh restarts the Celery worker when it dies (a crash, an
# out-of-memory kill) and stops the stack when gunicorn's master exits.
# Ctrl-C, SIGTERM or SIGHUP stops gunicorn and the Celery worker with all their children
# (warm shutdown: running requests and tasks finish); a second Ctrl-C kills them.
# (A shell without job control starts background commands with SIGINT ignored, and that
# cannot be undone: `make serve &` in a script stops with SIGTERM only.)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# An absolute path to the interpreter, without resolving the virtualenv's symlink.
PY="${PY:-.venv/bin/python}"
case "$PY" in
  */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;;
  *) PY="$(command -v "$PY")" ;;
esac
[ -x "$PY" ] || { echo "serve.sh: no Python at $PY (run 'make venv')" >&2; exit 2; }

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
WEB_WORKERS="${WEB_WORKERS:-3}"
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-2}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"
CELERY_RESTART_DELAY="${CELERY_RESTART_DELAY:-1}"
CELERY_STABLE_SECONDS=60     # a worker that ran this long was not crashing at start
CELERY_MAX_QUICK_EXITS=5     # workers in a row dead within CELERY_STABLE_SECONDS that stop the stack
CELERY_MAX_RESTART_DELAY=60

export DEBUG=0
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-$REDIS_URL}"
export CELERY_DEFAULT_QUEUE="${CELERY_DEFAULT_QUEUE:-viatique-demo}"
export PYTHONUNBUFFERED=1
# Tasks go to VIATIQUE_CELERY_QUEUE when set, else to the default queue: the worker consumes both.
QUEUES="$CELERY_DEFAULT_QUEUE"
if [ -n "${VIATIQUE_CELERY_QUEUE:-}" ] && [ "$VIATIQUE_CELERY_QUEUE" != "$CELERY_DEFAULT_QUEUE" ]; then
  QUEUES="$VIATIQUE_CELERY_QUEUE,$CELERY_DEFAULT_QUEUE"
fi

# The address people type in their browser, and the Host headers Django must accept.
case "$HOST" in
  0.0.0.0|::|'[::]')
    BROWSE_HOST=127.0.0.1
    EXTRA_HOSTS="$(hostname)"
    for ip in $(hostname -I 2>/dev/null || true); do EXTRA_HOSTS="$EXTRA_HOSTS,$ip"; done ;;
  *)
    BROWSE_HOST="$HOST"
    EXTRA_HOSTS="$HOST" ;;
esac
export ALLOWED_HOSTS="${ALLOWED_HOSTS:+$ALLOWED_HOSTS,}$EXTRA_HOSTS"
BASE="http://$BROWSE_HOST:$PORT"

# The var dir as an absolute path: gunicorn and Celery run from demo/, manage.py from here.
VAR_DIR="${VIATIQUE_VAR_DIR:-$ROOT/var}"
case "$VAR_DIR" in /*) ;; *) VAR_DIR="$ROOT/$VAR_DIR" ;; esac
export VIATIQUE_VAR_DIR="$VAR_DIR"
mkdir -p "$VAR_DIR"

# A secret key of this var dir's own, unless SECRET_KEY is given: the demo host refuses the published
# one with DEBUG off (signed download links could be forged). demo_host/settings.py reads the file, so
# the key stays out of the processes' environment and every manage.py run on this var dir uses it.
if [ -z "${SECRET_KEY:-}" ]; then
  KEY_FILE="$VAR_DIR/secret_key"
  if [ ! -s "$KEY_FILE" ]; then
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$KEY_FILE.new.$$" \
      && mv -f "$KEY_FILE.new.$$" "$KEY_FILE")
    echo "serve.sh: created a random secret key in $KEY_FILE (kept for the next runs)"
  fi
  chmod 600 "$KEY_FILE"
fi

manage() { "$PY" demo/manage.py "$@"; }

# Preflight: Redis must answer before anything starts.
"$PY" - "$REDIS_URL" "$CELERY_BROKER_URL" <<'EOF' || exit 1
import sys
import redis
for url in dict.fromkeys(sys.argv[1:]):
    if not url.startswith(("redis://", "rediss://", "unix://")):
        continue  # another kind of broker: Celery reports its own errors
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        sys.exit(f"serve.sh: Redis is not reachable at {url}: {exc}. Start redis-server or set REDIS_URL.")
EOF

echo "Database: ${DATABASE_URL:-SQLite under ${VIATIQUE_VAR_DIR:-var/}} | cache: $REDIS_URL | broker: $CELERY_BROKER_URL"
# The deployment checks first, so a per-process cache (viatique.E001) stops the stack
# before the database is touched.
manage check --fail-level ERROR
manage migrate --noinput -v 0
manage collectstatic --noinput -v 0
manage viatique_demo_seed

# Each server runs in its own session (process group), so a stop reaches every child
# and Ctrl-C in the terminal reaches only this script, which stops them in order.
if command -v setsid >/dev/null 2>&1; then DETACH=(setsid); else DETACH=(); fi
# Gunicorn >= 24 opens a control socket, by default one per user: two stacks would share it.
GUNICORN_EXTRA=()
if "$PY" -m gunicorn --help 2>/dev/null | grep -q -- '--no-control-socket'; then GUNICORN_EXTRA=(--no-control-socket); fi
GUNICORN_PID=""
CELERY_PID=""
CELERY_STARTED_AT=0
QUICK_EXITS=0
STOP_REQUESTED=""
trap 'STOP_REQUESTED=INT' INT
trap 'STOP_REQUESTED=TERM' TERM
trap 'STOP_REQUESTED=HUP' HUP  # the terminal closed: the servers, in sessions of their own, would stay

group_alive() { [ -n "$1" ] && kill -0 -- "-$1" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
signal_groups() {
  local sig=$1 pid
  for pid in "$GUNICORN_PID" "$CELERY_PID"; do
    if [ -n "$pid" ]; then
      if [ ${#DETACH[@]} -gt 0 ]; then kill "-$sig" -- "-$pid" 2>/dev/null || true
      else pkill "-$sig" -P "$pid" 2>/dev/null || true; kill "-$sig" "$pid" 2>/dev/null || true; fi
    fi
  done
}

stop_stack() {
  trap 'echo "serve.sh: killing the stack"; signal_groups KILL' INT TERM HUP
  echo "serve.sh: stopping gunicorn (pid $GUNICORN_PID) and the Celery worker (pid $CELERY_PID)..."
  # TERM: gunicorn finishes running requests, Celery its running tasks (warm shutdown).
  [ -n "$GUNICORN_PID" ] && kill -TERM "$GUNICORN_PID" 2>/dev/null || true
  [ -n "$CELERY_PID" ] && kill -TERM "$CELERY_PID" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT)) killed=""
  while group_alive "$GUNICORN_PID" || group_alive "$CELERY_PID" || alive "$GUNICORN_PID" || alive "$CELERY_PID"; do
    if [ -z "$killed" ] && [ "$SECONDS" -ge "$deadline" ]; then
      echo "serve.sh: still running after ${STOP_TIMEOUT}s, killing" >&2
      signal_groups KILL
      killed=1
    fi
    sleep 0.2
  done
  wait 2>/dev/null || true
  echo "serve.sh: stopped."
}

start_celery() {
  (cd "$ROOT/demo" && exec "${DETACH[@]}" "$PY" -m celery -A demo_host worker \
    -Q "$QUEUES" --concurrency "$CELERY_CONCURRENCY" -n "viatique-serve-$PORT@%h" --loglevel INFO) &
  CELERY_PID=$!
  CELERY_STARTED_AT=$SECONDS
}

# The Celery worker died (its main process is gone): kill what is left of it, wait, start a new one.
# Returns 1 (the stack must stop) when a stop was asked for meanwhile, or when the worker keeps dying
# right after its start. The tasks it was running are delivered again by the broker (they are
# idempotent): with Redis, once their visibility timeout has passed (docs/operations.md).
restart_celery() {
  local old=$CELERY_PID status=0 lived delay i
  wait "$old" 2>/dev/null || status=$?
  lived=$((SECONDS - CELERY_STARTED_AT))
  # its pool processes, if the main process died alone
  if [ ${#DETACH[@]} -gt 0 ]; then kill -KILL -- "-$old" 2>/dev/null || true
  else pkill -KILL -P "$old" 2>/dev/null || true; fi
  if [ "$lived" -lt "$CELERY_STABLE_SECONDS" ]; then QUICK_EXITS=$((QUICK_EXITS + 1)); else QUICK_EXITS=0; fi
  if [ "$QUICK_EXITS" -ge "$CELERY_MAX_QUICK_EXITS" ]; then
    echo "serve.sh: the Celery worker died $QUICK_EXITS times in a row within ${CELERY_STABLE_SECONDS}s of its start; stopping the stack" >&2
    return 1
  fi
  delay=$CELERY_RESTART_DELAY
  for ((i = 1; i < QUICK_EXITS; i++)); do delay=$((delay * 2)); done
  [ "$delay" -gt "$CELERY_MAX_RESTART_DELAY" ] && delay=$CELERY_MAX_RESTART_DELAY
  echo "serve.sh: the Celery worker (pid $old) exited with status $status after ${lived}s; starting a new one in ${delay}s" >&2
  # a sleep in the background, so that Ctrl-C or SIGTERM (the traps) interrupt the wait at once
  sleep "$delay" &
  local sleeper=$!
  wait "$sleeper" 2>/dev/null || true
  kill "$sleeper" 2>/dev/null || true
  [ -n "$STOP_REQUESTED" ] && return 1
  start_celery
  echo "serve.sh: Celery worker pid $CELERY_PID started again (queues: $QUEUES)"
}

"${DETACH[@]}" "$PY" -m gunicorn demo_host.wsgi \
  --chdir "$ROOT/demo" \
  --bind "$HOST:$PORT" \
  --workers "$WEB_WORKERS" \
  --graceful-timeout 20 \
  --access-logfile - \
  --access-logformat 'gunicorn %(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s' \
  --error-logfile - "${GUNICORN_EXTRA[@]}" &
GUNICORN_PID=$!
start_celery
echo "serve.sh: gunicorn master pid $GUNICORN_PID, Celery worker pid $CELERY_PID (queues: $QUEUES)"

# Wait until gunicorn answers, then say where to go.
ready=""
for _ in $(seq 1 120); do
  [ -n "$STOP_REQUESTED" ] && break
  alive "$GUNICORN_PID" || break
  if "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' "$BASE/" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ -n "$ready" ]; then
  cat <<EOF

Viatique is serving on $BASE/ ($WEB_WORKERS gunicorn workers, 1 Celery worker started again if it dies; Ctrl-C stops)
  instructor: $BASE/scenario/viatique.0/?student=instructor_1
  grader:     $BASE/scenario/viatique.0/?student=staff_1
  learner:    $BASE/scenario/viatique.0/?student=learner_1

EOF
fi

# Run until a signal comes or gunicorn dies; a dead Celery worker is replaced.
status=0
while [ -z "$STOP_REQUESTED" ] && alive "$GUNICORN_PID"; do
  if ! alive "$CELERY_PID"; then
    restart_celery || { [ -n "$STOP_REQUESTED" ] || status=1; break; }
    continue
  fi
  wait -n 2>/dev/null || true
done
if [ -z "$STOP_REQUESTED" ] && ! alive "$GUNICORN_PID"; then
  echo "serve.sh: gunicorn exited; stopping the stack" >&2
  status=1
fi
stop_stack
exit "$status"
