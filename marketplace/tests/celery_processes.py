"""Start real Celery processes (worker, beat) for integration tests.

They run the project's own Celery app against Redis, in a child process with its own
environment, and are stopped when the `with` block ends.
"""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDIS_TEST_URL = os.environ.get("CELERY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def celery_process(*args: str, env: dict[str, str], log_path: Path):
    """Run `celery -A marketplace <args>` until the block ends; its output goes to `log_path`."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketplace", *args],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.test_settings", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
