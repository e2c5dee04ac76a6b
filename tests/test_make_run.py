"""`make run`, as a user runs it: it serves, prints a roadmap fetched from its own server,
and stops with exit 0; with its address in use it fails at once, saying so, without
connecting to whoever holds the address.

Each test runs the real Makefile target (ROADMAP_LISTEN picks a free port), so it is
skipped when `make run` would first bootstrap `.venv` or `gen/` (a test must not
reinstall the environment it runs in): `make gen` brings them up to date.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import termios
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.server_process import free_port

REPO = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make") or "make"
ROADMAP_PRINTED = "unit reference-mid-maturity"
TIMEOUT = 120.0  # the rules check, a server start and a call, on a busy machine


@pytest.fixture(autouse=True)
def _environment_up_to_date() -> None:
    question = subprocess.run(
        [MAKE, "-q", "gen/.generated-stamp"], cwd=REPO, capture_output=True, check=False
    )
    if question.returncode != 0:
        pytest.skip("`make run` would bootstrap .venv or gen/ first: run `make gen`")


class MakeRun:
    """`make run` on ``address``, on a pseudo-terminal (as at a shell) or on pipes."""

    def __init__(self, address: str, *, terminal: bool) -> None:
        self.address = address
        self._output: list[bytes] = []
        # a free port for the web app too (make run serves it on 8080 by default)
        self.http = f"127.0.0.1:{free_port()}"
        env = {**os.environ, "ROADMAP_LISTEN": address, "ROADMAP_HTTP_LISTEN": self.http}
        if terminal:
            self._read, child = pty.openpty()
            self.process = subprocess.Popen(
                [MAKE, "--no-print-directory", "run"],
                cwd=REPO,
                env=env,
                stdin=child,
                stdout=child,
                stderr=child,
                start_new_session=True,
                preexec_fn=_controlling_terminal,  # noqa: PLW1509 (no threads in the child)
            )
            os.close(child)
        else:
            self.process = subprocess.Popen(
                [MAKE, "--no-print-directory", "run"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            assert self.process.stdout is not None
            self._read = self.process.stdout.fileno()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        while True:
            ready, _, _ = select.select([self._read], [], [], 0.2)
            if not ready:
                if self.process.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self._read, 65536)
            except OSError:  # the terminal's other end closed
                return
            if not chunk:
                return
            self._output.append(chunk)

    @property
    def output(self) -> str:
        return b"".join(self._output).decode(errors="replace").replace("\r\n", "\n")

    def wait_output(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while text not in self.output:
            assert self.process.poll() is None, f"make run exited early:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} after {TIMEOUT} s:\n{self.output}"
            time.sleep(0.05)

    def ctrl_c(self) -> None:
        os.write(self._read, b"\x03")  # the terminal sends SIGINT to its foreground group

    def recipe_shell(self) -> int:
        """The shell make runs the recipe in."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        (shell,) = children.read_text().split()
        return int(shell)

    def wait(self) -> int:
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        else:
            os.close(self._read)
        return code


def _controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _server_gone(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_make_run_with_its_address_in_use_fails_at_once_and_queries_nobody() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        run = MakeRun(address, terminal=False)
        code = run.wait()
        holder.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing ever connected to the address
            holder.accept()
    assert code != 0, run.output
    assert f"make run: cannot serve on {address} and {run.http}" in run.output
    assert "Address already in use" in run.output
    assert "nothing was queried" in run.output
    assert ROADMAP_PRINTED not in run.output
    assert "serving gRPC on" not in run.output


def test_ctrl_c_at_the_terminal_stops_make_run_with_exit_0() -> None:
    run = MakeRun(f"127.0.0.1:{free_port()}", terminal=True)
    run.wait_output("Ctrl-C stops")
    assert ROADMAP_PRINTED in run.output
    assert f"the web app and HTTP/JSON on http://{run.http}/" in run.output
    with urllib.request.urlopen(f"http://{run.http}/", timeout=10) as page:
        assert b"Roadmap Engine" in page.read()
    run.ctrl_c()
    assert run.wait() == 0, run.output
    assert '"event": "stopped"' in run.output  # the server drained, then exited
    assert "make: ***" not in run.output
    assert _server_gone(run.address)


def test_sigterm_to_the_recipe_stops_make_run_with_exit_0() -> None:
    run = MakeRun(f"127.0.0.1:{free_port()}", terminal=False)
    run.wait_output("Ctrl-C stops")
    os.kill(run.recipe_shell(), signal.SIGTERM)
    assert run.wait() == 0, run.output
    assert '"event": "stopped"' in run.output
    assert "make: ***" not in run.output
    assert _server_gone(run.address)


def test_sigterm_to_make_itself_still_stops_the_server_gracefully() -> None:
    """GNU make ends by re-raising a SIGTERM sent to it (after its recipe ended), so its
    status is -SIGTERM; what the recipe owes is a drained server and nothing left."""
    run = MakeRun(f"127.0.0.1:{free_port()}", terminal=False)
    run.wait_output("Ctrl-C stops")
    run.process.send_signal(signal.SIGTERM)
    assert run.wait() == -signal.SIGTERM, run.output
    assert '"event": "stopped"' in run.output
    assert _server_gone(run.address)
