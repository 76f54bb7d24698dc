"""The README's test command: the whole suite against the built wheel, installed fresh.

    python3 tests/run_installed.py [PYTEST-ARGS...]

1. copies the tracked sources to a temporary folder (so no stale ``build/`` of the
   checkout can leak into the wheel, and nothing is written into the checkout), builds
   the wheel there and installs it, non-editable, with the ``test`` extra, into a new
   virtual environment;
2. runs ``python -m pytest`` on this checkout's ``tests/`` from another temporary
   folder, on one pytest-xdist worker per CPU (``-n auto``, unless PYTEST-ARGS choose),
   with ``--import-mode=importlib`` and no cache provider, so ``kvmspte`` can
   only be imported from site-packages; ``KVMSPTE_TEST_INSTALLED=1`` makes the suite
   assert that, and tests/test_installed.py runs every subcommand through the
   installed ``kvmspte`` console script.

Needs only Python 3.11+ and access to the package index.  Exit status: pytest's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__",
                                ".pytest_cache", ".hypothesis", "*.pyc")


def sh(*cmd: str, cwd: Path | None = None, env: dict | None = None) -> int:
    return subprocess.run(cmd, cwd=cwd, env=env).returncode


def install(tmp: Path, extras: str = "") -> Path | None:
    """Build the wheel from a copy of the tracked sources and install it (not editable) into
    a new virtual environment under tmp; its python, or None when that failed."""
    src, venv = tmp / "src", tmp / "venv"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    py = venv / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"}
    if sh(sys.executable, "-m", "venv", str(venv)) or \
            sh(str(py), "-m", "pip", "install", "-q", f"{src}{extras}", env=env):
        return None
    return py


def main(argv: list[str]) -> int:
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kvmspte-test-") as tmp:
        tmp = Path(tmp)
        py = install(tmp, "[test]")
        if py is None:
            print("run_installed: could not build and install the wheel", file=sys.stderr)
            return 3
        print(f"run_installed: wheel installed in a fresh venv in {time.monotonic() - t0:.1f}s",
              file=sys.stderr)
        work = tmp / "work"
        work.mkdir()
        env = {**os.environ, "KVMSPTE_TEST_INSTALLED": "1"}
        env.pop("PYTHONPATH", None)
        return sh(str(py), "-m", "pytest", str(ROOT / "tests"), "--rootdir", str(ROOT),
                  "--import-mode=importlib", "-p", "no:cacheprovider", *_workers(argv), *argv,
                  cwd=work, env=env)


def _workers(argv: list[str]) -> list[str]:
    """One pytest-xdist worker per CPU unless the caller chose (-n 0 runs in one process)."""
    chosen = any(a.startswith(("-n", "--numprocesses")) for a in argv)
    return [] if chosen else ["-n", "auto"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
