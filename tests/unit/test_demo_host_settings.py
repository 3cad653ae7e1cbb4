"""The demo host's settings that make `make serve` safe to expose: its secret key and the Redis broker's
visibility timeout; and the secret key scripts/serve.sh keeps per var dir.

Each case loads ``demo_host.settings`` in a fresh Python process with its own environment.
"""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
PUBLISHED = "viatique-demo-host-not-secret"

#: prints what the settings decided, or the ImproperlyConfigured message
PROBE = """
import json
from django.core.exceptions import ImproperlyConfigured
try:
    import demo_host.settings as settings
except ImproperlyConfigured as error:
    print(json.dumps({"refused": str(error)}))
else:
    print(json.dumps({"secret_key": settings.SECRET_KEY, "transport": settings.CELERY_BROKER_TRANSPORT_OPTIONS}))
"""


def load_settings(var_dir, **env):
    base = {name: value for name, value in os.environ.items()
            if name not in ("SECRET_KEY", "DEBUG", "VIATIQUE_SETTINGS", "CELERY_BROKER_TRANSPORT_OPTIONS",
                            "DJANGO_SETTINGS_MODULE")}
    base.update(VIATIQUE_VAR_DIR=str(var_dir), PYTHONPATH=str(REPO_DIR / "demo"), **env)
    done = subprocess.run([sys.executable, "-c", PROBE], env=base, cwd=REPO_DIR, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_debug_off_refuses_the_published_secret_key_with_a_clear_message(tmp_path):
    result = load_settings(tmp_path, DEBUG="0")
    assert PUBLISHED in result["refused"] and "SECRET_KEY" in result["refused"]
    assert str(tmp_path / "secret_key") in result["refused"]
    assert load_settings(tmp_path, DEBUG="0", SECRET_KEY=PUBLISHED)["refused"]


def test_debug_on_runs_with_the_published_key(tmp_path):
    assert load_settings(tmp_path, DEBUG="1")["secret_key"] == PUBLISHED


def test_the_key_comes_from_the_environment_else_from_the_var_dirs_file(tmp_path):
    assert load_settings(tmp_path, DEBUG="0", SECRET_KEY="from-the-environment")["secret_key"] == "from-the-environment"
    (tmp_path / "secret_key").write_text("from-the-file\n")
    assert load_settings(tmp_path, DEBUG="0")["secret_key"] == "from-the-file"
    assert load_settings(tmp_path, DEBUG="1")["secret_key"] == "from-the-file"
    assert load_settings(tmp_path, DEBUG="0", SECRET_KEY="from-the-environment")["secret_key"] == "from-the-environment"


def test_the_visibility_timeout_follows_the_task_time_limit_unless_configured(tmp_path):
    # the hard time limit (900 s by default), plus the longest retry countdown (60 s) and a margin
    assert load_settings(tmp_path, DEBUG="1")["transport"] == {"visibility_timeout": 990}
    assert load_settings(tmp_path, DEBUG="1", VIATIQUE_SETTINGS='{"TASK_TIME_LIMIT": 1800}')["transport"] == {
        "visibility_timeout": 1890}
    # options given keep their value; a timeout is added when they have none
    assert load_settings(tmp_path, DEBUG="1", CELERY_BROKER_TRANSPORT_OPTIONS='{"visibility_timeout": 5}')[
        "transport"] == {"visibility_timeout": 5}
    assert load_settings(tmp_path, DEBUG="1", CELERY_BROKER_TRANSPORT_OPTIONS='{"fanout_prefix": true}')[
        "transport"] == {"fanout_prefix": True, "visibility_timeout": 990}


def run_serve_until_redis(var_dir, **env):
    """scripts/serve.sh up to its Redis preflight, which fails here (nothing listens on port 1): what it does
    before, such as keeping the secret key, is done; nothing is started."""
    base = {name: value for name, value in os.environ.items() if name not in ("SECRET_KEY", "CELERY_BROKER_URL")}
    base.update(VIATIQUE_VAR_DIR=str(var_dir), REDIS_URL="redis://127.0.0.1:1/0", PY=sys.executable, **env)
    done = subprocess.run([str(REPO_DIR / "scripts" / "serve.sh")], env=base, cwd=REPO_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Redis is not reachable" in done.stderr, done.stdout + done.stderr
    return done.stdout


def test_serve_creates_a_random_key_per_var_dir_readable_by_its_owner_only_and_keeps_it(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    assert "created a random secret key" in run_serve_until_redis(first)
    key_file = first / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50 and key != PUBLISHED
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # kept for the next runs (and its mode put back)
    key_file.chmod(0o644)
    assert "created" not in run_serve_until_redis(first)
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # another var dir, another key
    run_serve_until_redis(second)
    assert (second / "secret_key").read_text().strip() != key
    # the settings of that var dir take it, with DEBUG off
    assert load_settings(first, DEBUG="0")["secret_key"] == key


def test_serve_with_a_secret_key_given_writes_none(tmp_path):
    run_serve_until_redis(tmp_path, SECRET_KEY="given-by-the-operator")
    assert not (tmp_path / "secret_key").exists()
