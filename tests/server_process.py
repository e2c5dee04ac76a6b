"""A real `roadmap serve` process for integration tests: started, probed, signalled."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import procfs

if TYPE_CHECKING:
    from collections.abc import Callable

ROADMAP = str(Path(sys.executable).parent / "roadmap")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(
        self,
        log_dir: Path,
        *args: str,
        listen: str = "127.0.0.1:0",
        env: dict[str, str] | None = None,
    ) -> None:
        self.listen = listen
        self._target: str | None = listen if listen.startswith("unix:") else None
        self.log_path = log_dir / f"server-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [ROADMAP, "serve", "--listen", self.listen, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    @property
    def target(self) -> str:
        """Where to call: the port the server logged when it bound (it listens on port 0)."""
        deadline = time.monotonic() + 20
        while self._target is None:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited {self.process.returncode}: {self.log_path.read_text()}"
                )
            listening = [e for e in self.logs() if e.get("event") == "listening"]
            if listening:
                self._target = f"127.0.0.1:{listening[0]['port']}"
            elif time.monotonic() > deadline:
                raise TimeoutError(f"server did not bind: {self.log_path.read_text()}")
            else:
                time.sleep(0.02)
        return self._target

    def health(self, timeout: float = 1.0) -> str:
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
            except grpc.RpcError as error:
                return str(error.code().name)
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def wait_serving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited {self.process.returncode}: {self.log_path.read_text()}"
                )
            if self.health(timeout=0.5) == "SERVING":
                return
            time.sleep(0.05)
        raise TimeoutError(f"server not SERVING after {timeout} s: {self.log_path.read_text()}")

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = 20.0) -> int:
        """The exit code of a process already told to stop (no second signal)."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]

    def events(self, name: str) -> list[dict[str, Any]]:
        """The log lines of one event."""
        return [e for e in self.logs() if e.get("event") == name]

    def wait_event(self, name: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Until the log holds ``count`` lines of event ``name``; those lines."""
        return self.wait_lines(lambda e: e.get("event") == name, count, timeout, name)

    def wait_lines(
        self,
        match: Callable[[dict[str, Any]], bool],
        count: int = 1,
        timeout: float = 20.0,
        what: str = "matching lines",
    ) -> list[dict[str, Any]]:
        """Until the log holds ``count`` lines that ``match``; those lines."""
        deadline = time.monotonic() + timeout
        while len(found := [e for e in self.logs() if match(e)]) < count:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited before {count} x {what}: {self.log_path.read_text()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} x {what} not logged: {self.log_path.read_text()}")
            time.sleep(0.02)
        return found


def resources(pid: int) -> dict[str, int]:
    """Resident memory (KiB, whole process tree), open descriptors and threads of ``pid``."""
    return {
        "rss_kib": procfs.tree_kib(pid, "VmRSS"),
        "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "threads": procfs.field(pid, "Threads"),
        "processes": len(procfs.tree(pid)),
    }
