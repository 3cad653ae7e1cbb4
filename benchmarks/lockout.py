"""Benchmark of what the lockout adds to every handler call, and of the graders' redacted graded PDF.

Usage: ``python benchmarks/lockout.py [--calls 2000] [--pages 8] [--redis-url redis://127.0.0.1:6379/14]``

With the demo host's settings on a django-redis cache (under a key prefix of its own, deleted at
the end), times ``--calls`` times each:

- ``check``: :func:`viatique_xblock.platform.lockout.check` for a learner nobody locked (what every handler
  call pays: one pipelined round trip reading the user's and the address's locks);
- ``check_locked``: the same for a locked-out learner (the 429 path);
- ``failure``: one denied request counted (the Lua script: INCR, EXPIRE, SET NX EX);
- the baseline: a Redis ``PING`` round trip on the same connection.

Then the graded PDF a grader of an anonymous exam gets: the cover's name area redacted
(:func:`viatique_xblock.pdf.redact.redact_area`) in a scanner-style PDF of ``--pages`` pages
(one 150 dpi greyscale JPEG each), against the baseline of opening and saving the same PDF.

Prints the figures and the ratios to the baselines; the last line is one JSON object.
"""
import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

from pipeline import load  # noqa: E402  (benchmarks/ is this script's folder)


def setup_django(redis_url, var_dir):
    sys.path[:0] = [REPO_DIR, os.path.join(REPO_DIR, "demo")]
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "VIATIQUE_SETTINGS"):
        os.environ.pop(name, None)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # DEBUG off refuses the published one
    os.environ.update(DJANGO_SETTINGS_MODULE="demo_host.settings", DEBUG="0", REDIS_URL=redis_url,
                      CACHE_KEY_PREFIX=f"viatique-bench-{uuid.uuid4().hex[:10]}", VIATIQUE_VAR_DIR=var_dir)
    import django

    django.setup()


def per_call_ms(action, calls):
    """Milliseconds per call of ``action(index)``, best of three runs of ``calls`` calls."""
    best = None
    for _run in range(3):
        started = time.perf_counter()
        for index in range(calls):
            action(index)
        elapsed = (time.perf_counter() - started) * 1000 / calls
        best = elapsed if best is None else min(best, elapsed)
    return best


def lockout_figures(calls):
    from django.core.cache import caches

    from viatique_xblock.errors import LockedOut
    from viatique_xblock.platform import compat, conf, lockout, redis_client

    cache = caches[conf.get("CACHE_ALIAS")]
    client = redis_client.raw_client(cache)
    assert client is not None, "the benchmark needs a django-redis cache"

    def learner(name):
        return compat.ViatiqueUser(user_id=name, username=name, full_name=name, anonymous_id=f"anon-{name}",
                                   role=compat.LEARNER)

    free, locked = learner("bench-free"), learner("bench-locked")
    for _attempt in range(conf.get("LOCKOUT_USER_FAILURES")):
        lockout._fail(cache, lockout.USER, locked.username, conf.get("LOCKOUT_USER_FAILURES"))

    def check_locked(_index):
        try:
            lockout.check(locked, "192.0.2.1")
        except LockedOut:
            return
        raise AssertionError("not locked")

    try:
        figures = {
            "ping_ms": per_call_ms(lambda _index: client.ping(), calls),
            "check_ms": per_call_ms(lambda _index: lockout.check(free, "192.0.2.1"), calls),
            "check_locked_ms": per_call_ms(check_locked, calls),
            # a subject of its own per call, so no lock starts (a lock start also writes rows)
            "failure_ms": per_call_ms(lambda index: lockout._fail(cache, lockout.USER, f"bench-{index}", 10 ** 6),
                                      calls),
        }
    finally:
        cache.delete_pattern("*")  # this run's key prefix only
    return figures


def scanner_pdf(pages):
    import pymupdf

    rng = random.Random(6)
    doc = pymupdf.open()
    for _page in range(pages):
        pix = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 1240, 1754), False)
        pix.set_rect(pix.irect, (235,))
        for _speck in range(400):  # some ink, so the JPEG is not trivial
            x, y = rng.randrange(1200), rng.randrange(1700)
            pix.set_rect(pymupdf.IRect(x, y, x + 30, y + 4), (20,))
        page = doc.new_page(width=595, height=842)
        page.insert_image(page.rect, stream=pix.tobytes("jpeg", jpg_quality=75))
    return doc.tobytes()


def redaction_figures(pages, repeat=5):
    import pymupdf

    from viatique_xblock.pdf.redact import redact_area

    data = scanner_pdf(pages)

    def best(action):
        times = []
        for _run in range(repeat):
            started = time.perf_counter()
            action()
            times.append((time.perf_counter() - started) * 1000)
        return min(times)

    def open_and_save():
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            doc.tobytes(garbage=3, deflate=True)

    return {"pdf_pages": pages, "pdf_bytes": len(data),
            "redact_ms": best(lambda: redact_area(data, 0, (0.0, 0.0, 1.0, 0.12))),
            "open_save_baseline_ms": best(open_and_save)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    var_dir = tempfile.mkdtemp(prefix="viatique-bench-")
    try:
        setup_django(args.redis_url, var_dir)
        load_start = load()
        result = {"calls": args.calls, **lockout_figures(args.calls), **redaction_figures(args.pages)}
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    result["check_ratio_to_ping"] = result["check_ms"] / result["ping_ms"]
    result["failure_ratio_to_ping"] = result["failure_ms"] / result["ping_ms"]
    result["redact_ratio_to_open_save"] = result["redact_ms"] / result["open_save_baseline_ms"]
    result["load_average"] = [load_start, load()]
    print(f"Redis PING round trip           {result['ping_ms']:.3f} ms (baseline)")
    print(f"lockout check, not locked       {result['check_ms']:.3f} ms ({result['check_ratio_to_ping']:.2f}x PING)")
    print(f"lockout check, locked out       {result['check_locked_ms']:.3f} ms")
    print(f"one denial counted              {result['failure_ms']:.3f} ms ({result['failure_ratio_to_ping']:.2f}x PING)")
    print(f"{args.pages}-page graded PDF, cover redacted for a grader: {result['redact_ms']:.1f} ms "
          f"({result['redact_ratio_to_open_save']:.2f}x opening and saving it: {result['open_save_baseline_ms']:.1f} ms)")
    print(f"load average {result['load_average']}")
    print(json.dumps({key: round(value, 4) if isinstance(value, float) else value for key, value in result.items()}))


if __name__ == "__main__":
    main()
