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
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROADMAP = str(Path(sys.executable).parent / "roadmap")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, log_dir: Path, *args: str, listen: str | None = None) -> None:
        self.listen = listen or f"127.0.0.1:{free_port()}"
        self.target = self.listen
        self.log_path = log_dir / f"server-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [ROADMAP, "serve", "--listen", self.listen, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

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
        self._log.flush()
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]
