"""The real `cockpit` in a real terminal, driven through tmux like a person:
it comes up, prices move, gauges update, `?` shows help, `q` exits with 0."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]

COCKPIT = Path(sys.executable).with_name("cockpit")


class Tmux:
    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"cockpit-test-{uuid.uuid4().hex[:8]}"
        self.exit_file = tmp_path / "exit_code"

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return out.stdout

    def start(self, command: str, width: int, height: int) -> None:
        shell = f"{command}; echo $? > {self.exit_file}"
        self.run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), shell)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def wait_for(self, predicate, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_cockpit_in_tmux(tmp_path, size):
    assert COCKPIT.exists(), "install the project first (pip install -e .)"
    tmux = Tmux(tmp_path)
    env = f"PI_COCKPIT_HOME={tmp_path / 'home'} TERM=xterm-256color"
    tmux.start(f"cd {tmp_path} && env {env} {COCKPIT} --speed 20", *size)
    try:
        first = tmux.wait_for(lambda s: "BTC/USD" in s and "PAPER" in s, 90, "the cockpit's first screen")
        later = tmux.wait_for(lambda s: s != first and "BTC/USD" in s, 30, "the screen to change")
        time.sleep(3)
        assert tmux.screen() != later, "prices and gauges should keep moving"
        tmux.keys("?")
        tmux.wait_for(lambda s: "escape closes" in s and "Pause or resume" in s, 30, "the help screen")
        tmux.keys("Escape")
        # wait for the help to close: a "q" sent right after ESC would read as alt+q
        tmux.wait_for(lambda s: "escape closes" not in s and "PAPER" in s, 30, "the main screen again")
        tmux.keys("q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not tmux.exit_file.exists():
            time.sleep(0.25)
        assert tmux.exit_file.exists(), f"cockpit did not exit on q; screen:\n{tmux.screen()}"
        assert tmux.exit_file.read_text().strip() == "0"
    finally:
        tmux.kill()
