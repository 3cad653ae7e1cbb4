"""Check a Viatique deployment from the web side: ``manage.py viatique_doctor [--json]``.

1. Viatique's system checks (``viatique.*``): errors fail, warnings are reported.
2. The cache of leases and lockout (``VIATIQUE['CACHE_ALIAS']``): a key written is read back,
   and the backend is not a per-process one.
3. The storage (``VIATIQUE['STORAGE']``): a file written is read back.
4. Unless ``--no-celery``: the task ``viatique.health_report`` goes to the configured queue
   through :func:`viatique_xblock.platform.queue.send`; the worker that runs it must see
   the same database (vendor and name), the same cache key and the same storage file.

Exit status 0 when all is well, 1 otherwise, with a message saying what differs. With
``--json`` the last line of the output is the whole report as JSON. The cache key and the
storage file written for the check are deleted, and so is the task's result.
"""
import json
import uuid

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.core import checks as django_checks
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from viatique_xblock.platform import checks as viatique_checks, conf, queue, storage
from viatique_xblock.workers.health import health_report


class Command(BaseCommand):
    help = (
        "Check that this deployment's cache, storage and Celery workers are shared: "
        "the worker must see the web side's database, cache and storage."
    )
    requires_system_checks = []  # the checks are part of the report, not a precondition

    def add_arguments(self, parser):
        parser.add_argument("--no-celery", action="store_true", help="Do not send a task to a Celery worker.")
        parser.add_argument("--timeout", type=float, default=30.0,
                            help="Seconds to wait for the worker's answer (default 30).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on the last line.")

    def handle(self, *args, **options):
        nonce = uuid.uuid4().hex
        report = {"ok": True, "problems": [], "nonce": nonce}
        cache = caches[conf.get("CACHE_ALIAS")]
        store = storage.get_storage()
        cache_key = f"viatique:health:{nonce}"
        file_name = storage.health_file_name(nonce)
        saved_name = None
        try:
            report["checks"] = self._system_checks(report)
            report["web"] = {"database": _database()}
            report["cache"] = self._check_cache(report, cache, cache_key, nonce, options["timeout"])
            report["storage"], saved_name = self._check_storage(report, store, file_name, nonce)
            if options["no_celery"]:
                report["celery"] = {"skipped": True}
            else:
                report["celery"] = self._check_worker(report, nonce, options["timeout"])
        finally:
            self._cleanup(cache, cache_key, store, saved_name)

        report["ok"] = not report["problems"]
        for line in self._summary(report):
            self.stdout.write(line)
        if options["json"]:
            self.stdout.write(json.dumps(report, sort_keys=True, default=str))
        if not report["ok"]:
            raise CommandError("Viatique doctor: " + " ".join(report["problems"]), returncode=1)

    # ------------------------------------------------------------------ checks

    def _system_checks(self, report):
        messages = [
            message for message in django_checks.run_checks(include_deployment_checks=False)
            if (message.id or "").startswith("viatique.")
        ]
        result = []
        for message in messages:
            result.append({"id": message.id, "level": _level_name(message.level), "msg": message.msg})
            if message.is_serious():
                report["problems"].append(f"System check {message.id}: {message.msg}")
        return result

    def _check_cache(self, report, cache, key, nonce, timeout):
        backend = _class_path(cache)
        result = {"backend": backend, "alias": conf.get("CACHE_ALIAS"), "read_back": False,
                  "per_process": backend in viatique_checks.PER_PROCESS_CACHES}
        try:
            # The key must outlive the wait for the worker.
            cache.set(key, nonce, timeout=int(timeout) + 60)
            result["read_back"] = cache.get(key) == nonce
        except Exception as exc:  # noqa: BLE001  (a broken cache is what we report)
            result["error"] = f"{type(exc).__name__}: {exc}"
        if not result["read_back"]:
            report["problems"].append(
                f"The cache {result['alias']!r} ({backend}) did not return the key just written"
                + (f": {result['error']}." if "error" in result else ".")
            )
        # A per-process cache is reported by viatique.E001 outside DEBUG, and by the worker's
        # cache_seen whenever a real worker runs: "per_process" is information only.
        return result

    def _check_storage(self, report, store, name, nonce):
        backend = _class_path(store)
        result = {"backend": backend, "name": name, "read_back": False}
        saved = None
        try:
            saved = store.save(name, ContentFile(nonce.encode()))
            result["saved_as"] = saved
            with store.open(saved) as handle:
                result["read_back"] = handle.read().decode() == nonce
        except Exception as exc:  # noqa: BLE001
            result["error"] = f"{type(exc).__name__}: {exc}"
        if not result["read_back"]:
            report["problems"].append(
                f"The storage ({backend}) is not writable or did not return the file just written"
                + (f": {result['error']}." if "error" in result else ".")
            )
        elif saved != name:
            report["problems"].append(
                f"The storage saved {name!r} as {saved!r}: a leftover file of that name is in the way."
            )
        return result, saved

    def _check_worker(self, report, nonce, timeout):
        options = queue.task_options()
        app = health_report.app
        result = {
            "queue": options.get("queue") or app.conf.task_default_queue,
            "eager": bool(app.conf.task_always_eager),
        }
        if result["eager"]:
            result["note"] = "Celery runs tasks eagerly in this process (no broker): no worker was checked."
        try:
            async_result = queue.send("viatique.health_report", nonce)
        except Exception as exc:  # noqa: BLE001
            report["problems"].append(f"Could not send the health task to queue {result['queue']!r}: "
                                      f"{type(exc).__name__}: {exc}.")
            return result
        result["task_id"] = async_result.id
        try:
            seen = async_result.get(timeout=timeout, propagate=False)
        except CeleryTimeoutError:
            async_result.revoke()
            report["problems"].append(
                f"No Celery worker answered on queue {result['queue']!r} within {timeout:g} s "
                f"(is a worker consuming it, with this broker?)."
            )
            return result
        except Exception as exc:  # noqa: BLE001  (result backend unreachable, ...)
            report["problems"].append(f"Could not read the health task's result: {type(exc).__name__}: {exc}.")
            return result
        finally:
            _forget(async_result)
        if not isinstance(seen, dict):
            report["problems"].append(f"The health task failed on the worker: {seen!r}.")
            return result
        result["worker"] = seen
        web_db = _database()
        worker_db = seen.get("database") or {}
        result["database_match"] = (worker_db.get("vendor"), worker_db.get("name")) == (
            web_db["vendor"], web_db["name"])
        if not result["database_match"]:
            report["problems"].append(
                f"The worker sees another database: {worker_db.get('vendor')} {worker_db.get('name')!r}, "
                f"the web side {web_db['vendor']} {web_db['name']!r}."
            )
        if not seen.get("cache_seen"):
            report["problems"].append(
                f"The worker does not see the web side's cache key (worker cache "
                f"{seen.get('cache_backend')}): check REDIS_URL / CACHES and the key prefix."
            )
        if not seen.get("storage_seen"):
            report["problems"].append(
                f"The worker does not see the file the web side wrote (worker storage "
                f"{seen.get('storage_backend')}): web and workers need the same storage."
            )
        return result

    # ----------------------------------------------------------------- helpers

    def _cleanup(self, cache, key, store, saved_name):
        try:
            cache.delete(key)
        except Exception:  # noqa: BLE001  (already reported)
            pass
        if saved_name:
            try:
                store.delete(saved_name)
            except Exception:  # noqa: BLE001
                pass

    def _summary(self, report):
        def mark(flag):
            return "ok" if flag else "FAIL"

        checks_ok = not any(c["level"] in ("ERROR", "CRITICAL") for c in report.get("checks", []))
        yield f"system checks: {mark(checks_ok)} ({len(report.get('checks', []))} message(s))"
        cache = report.get("cache", {})
        yield (f"cache: {mark(cache.get('read_back'))} ({cache.get('backend')}"
               + (", per-process" if cache.get("per_process") else "") + ")")
        store = report.get("storage", {})
        yield f"storage: {mark(store.get('read_back'))} ({store.get('backend')})"
        celery = report.get("celery", {})
        if celery.get("skipped"):
            yield "celery: skipped (--no-celery)"
        elif "worker" in celery:
            worker = celery["worker"]
            yield (f"celery: worker {worker.get('host')} on queue {celery['queue']!r}: database "
                   f"{mark(celery.get('database_match'))}, cache {mark(worker.get('cache_seen'))}, "
                   f"storage {mark(worker.get('storage_seen'))}"
                   + (" (eager: no worker checked)" if celery.get("eager") else ""))
        else:
            yield f"celery: FAIL (queue {celery.get('queue')!r})"
        for problem in report["problems"]:
            yield f"  - {problem}"
        yield "Viatique doctor: all is well." if report["ok"] else "Viatique doctor: problems found."


def _database():
    return {"vendor": connection.vendor, "name": str(connection.settings_dict.get("NAME"))}


def _class_path(obj):
    return type(obj).__module__ + "." + type(obj).__name__


def _level_name(level):
    for name in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
        if level >= getattr(django_checks, name):
            return name
    return str(level)


def _forget(async_result):
    """Delete the task's result from the result backend (nothing to leave behind)."""
    try:
        async_result.forget()
    except Exception:  # noqa: BLE001  (eager results, backends without forget)
        pass
