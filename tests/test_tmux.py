"""In a real 80x24 terminal (a tmux pane), no line of the rich output wraps.

capture-pane -J joins the lines the terminal wrapped; if nothing wrapped, the
joined capture has exactly the lines of the plain one.  Skipped without tmux.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

COMMANDS = ["compare", "check ksm-merge --expect no-op", "matrix",
            "explain ksm-merge --arch mips", "explore writer-zapper"]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def test_nothing_wraps_in_an_80x24_pane(tmp_path):
    done = tmp_path / "done"
    py = shlex.quote(sys.executable)
    script = ["unset COLUMNS NO_COLOR"]
    for c in COMMANDS:
        script += [f"echo '=== {c}'", f"{py} -m kvmspte {c} 2>/dev/null",
                   f"NO_COLOR=1 {py} -m kvmspte {c} 2>/dev/null"]
    script += [f"touch {shlex.quote(str(done))}", "sleep 60"]
    (tmp_path / "run.sh").write_text("\n".join(script) + "\n")
    sock = f"kvmspte-test-{os.getpid()}"
    tmux = ["tmux", "-L", sock, "-f", os.devnull]
    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24",
                    f"bash {shlex.quote(str(tmp_path / 'run.sh'))}"], check=True,
                   cwd=os.getcwd())
    try:
        for _ in range(300):
            if done.exists():
                break
            time.sleep(0.1)
        assert done.exists(), "the commands did not finish in the pane"
        size = subprocess.run([*tmux, "display", "-p", "-t", "t", "#{pane_width}"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert size == "80"
        cap = [*tmux, "capture-pane", "-p", "-t", "t", "-S", "-", "-E", "-"]
        plain = subprocess.run(cap, capture_output=True, text=True, check=True).stdout
        joined = subprocess.run([*cap, "-J"], capture_output=True, text=True,
                                check=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert all(f"=== {c}" in plain for c in COMMANDS)
    strip = [ln.rstrip() for ln in joined.splitlines()]
    assert [ln.rstrip() for ln in plain.splitlines()] == strip
    assert max(map(len, strip)) <= 80
