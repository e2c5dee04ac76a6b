"""Security of `roadmap serve` over real sockets: TLS and mutual TLS (certificates made
here), the Unix socket's permissions, refusing an address in use, usage errors for TLS
flags, and logs that never hold assessment contents or costs.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.client import RoadmapClient, ServiceError
from tests.server_process import ServerProcess

if TYPE_CHECKING:
    from collections.abc import Iterator

ROADMAP = str(Path(sys.executable).parent / "roadmap")
#: Faster start for servers whose engine does not matter here (no engine processes).
FAST = ("--engine-workers", "0")


# --- certificates, made for each run ------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA the server trusts for clients, and that signed the server's certificate
    server: Pair  # CN localhost, SAN localhost and 127.0.0.1
    client: Pair  # signed by ca
    other_ca: Path  # an unrelated CA
    stranger: Pair  # a client certificate signed by other_ca


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.key.chmod(0o600)
    return pair


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    made: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = {}
    for name in ("ca", "other-ca"):
        key = ec.generate_private_key(ec.SECP256R1())
        made[name] = (_certificate(f"test {name}", key, None, None), key)
    pairs = {}
    for name, issuer, usage in (
        ("server", "ca", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", "ca", ExtendedKeyUsageOID.CLIENT_AUTH),
        ("stranger", "other-ca", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate("localhost" if name == "server" else name, key, made[issuer], usage)
        pairs[name] = _write(directory, name, cert, key)
    cas = {name: _write(directory, name, *made[name]).cert for name in made}
    return Pki(cas["ca"], pairs["server"], pairs["client"], cas["other-ca"], pairs["stranger"])


# --- helpers ------------------------------------------------------------------------------


def refused(client: RoadmapClient) -> grpc.StatusCode:
    with pytest.raises(ServiceError) as raised:
        client.list_models()
    return raised.value.code


def roadmap(*commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run `roadmap` commands side by side (each start costs most of a second)."""
    runs = [
        subprocess.Popen(
            [ROADMAP, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    done = []
    for command, run in zip(commands, runs, strict=True):
        stdout, stderr = run.communicate(timeout=30)
        done.append(subprocess.CompletedProcess(command, run.returncode, stdout, stderr))
    return done


@pytest.fixture
def reap() -> Iterator[list[ServerProcess]]:
    """Servers a test expects to exit by themselves; any still running is killed after it."""
    expected_to_exit: list[ServerProcess] = []
    yield expected_to_exit
    for process in expected_to_exit:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()


def serving(directory: Path, *args: str) -> ServerProcess:
    """A server with these flags, SERVING by its log (the health probe speaks plaintext)."""
    process = ServerProcess(directory, *args, *FAST)
    process.wait_event("serving")
    return process


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    process = serving(
        tmp_path_factory.mktemp("tls"),
        *("--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)),
    )
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    process = serving(
        tmp_path_factory.mktemp("mtls"),
        *("--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)),
        *("--tls-client-ca", str(pki.ca)),
    )
    yield process
    assert process.stop() == 0


# --- TLS and mutual TLS -------------------------------------------------------------------


def test_tls_server_answers_tls_clients_and_refuses_plaintext(
    tls_server: ServerProcess, pki: Pki
) -> None:
    with RoadmapClient(tls_server.target, timeout=5, tls_ca=pki.ca) as client:
        assert {m.id for m in client.list_models().models} >= {"devsecops", "itsm"}
        assert client.get_roadmap(pb.Assessment(unit_id="over-tls")).unit_id == "over-tls"
    with RoadmapClient(tls_server.target, timeout=5) as plaintext:
        assert refused(plaintext) is grpc.StatusCode.UNAVAILABLE
    # The client verifies the server: a CA that did not sign its certificate is refused.
    with RoadmapClient(tls_server.target, timeout=5, tls_ca=pki.other_ca) as doubting:
        assert refused(doubting) is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_accepts_only_client_certificates_of_the_configured_ca(
    mtls_server: ServerProcess, pki: Pki
) -> None:
    target = mtls_server.target
    with RoadmapClient(target, timeout=5, tls_ca=pki.ca) as anonymous:
        assert refused(anonymous) is grpc.StatusCode.UNAVAILABLE
    stranger = pki.stranger
    with RoadmapClient(
        target, timeout=5, tls_ca=pki.ca, tls_cert=stranger.cert, tls_key=stranger.key
    ) as client:
        assert refused(client) is grpc.StatusCode.UNAVAILABLE
    with RoadmapClient(
        target, timeout=5, tls_ca=pki.ca, tls_cert=pki.client.cert, tls_key=pki.client.key
    ) as client:
        assert client.get_roadmap(pb.Assessment(unit_id="mutual")).unit_id == "mutual"
    with RoadmapClient(target, timeout=5) as plaintext:
        assert refused(plaintext) is grpc.StatusCode.UNAVAILABLE


def test_cli_health_and_plan_over_tls(
    tls_server: ServerProcess, mtls_server: ServerProcess, pki: Pki, tmp_path: Path
) -> None:
    ca = ["--tls-ca", str(pki.ca)]
    mine = ["--tls-cert", str(pki.client.cert), "--tls-key", str(pki.client.key)]
    assessment = tmp_path / "a.json"
    assessment.write_text('{"unit_id": "cli-over-mtls"}')
    plan = ["plan", str(assessment), "--target", mtls_server.target]
    health, mutual, no_cert, planned, half, missing = roadmap(
        ["health", "--target", tls_server.target, *ca],
        ["health", "--target", mtls_server.target, *ca, *mine],
        ["health", "--target", mtls_server.target, *ca],
        [*plan, *ca, *mine],
        [*plan, *ca, *mine[:2]],
        ["health", "--target", tls_server.target, "--tls-ca", str(tmp_path / "absent.crt")],
    )
    assert health.returncode == 0, health.stderr
    assert health.stdout == f"{tls_server.target}: SERVING\n"
    assert mutual.returncode == 0, mutual.stderr
    assert no_cert.returncode == 3  # unreachable: the handshake is refused
    assert planned.returncode == 0, planned.stderr
    assert '"unit_id": "cli-over-mtls"' in planned.stdout
    assert half.returncode == 2
    assert "--tls-cert needs --tls-key" in half.stderr
    assert missing.returncode == 2
    assert str(tmp_path / "absent.crt") in missing.stderr


def test_bad_security_flags_are_usage_errors() -> None:
    cases = {
        "--tls-cert needs --tls-key": ["--tls-cert", "server.crt"],
        "--tls-key needs --tls-cert": ["--tls-key", "server.key"],
        "--tls-client-ca (mutual TLS) needs --tls-cert": ["--tls-client-ca", "ca.crt"],
        "argument --socket-mode": ["--socket-mode", "0999"],
        "--socket-mode: expected an octal": ["--socket-mode", "rw-------"],
    }
    results = roadmap(*(["serve", "--listen", "127.0.0.1:0", *f] for f in cases.values()))
    for named, result in zip(cases, results, strict=True):
        assert result.returncode == 2, (named, result.stderr)
        assert named in result.stderr


def test_unusable_tls_files_stop_the_start_with_exit_3(
    tmp_path: Path, pki: Pki, reap: list[ServerProcess]
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    absent = tmp_path / "absent.crt"
    cases = {
        f"--tls-cert {absent}: cannot read it": (absent, pki.server.key, None),
        f"--tls-key {garbage}: no PEM private key": (pki.server.cert, garbage, None),
        f"--tls-client-ca {garbage}: no PEM": (pki.server.cert, pki.server.key, garbage),
        # The client's key, not the server certificate's: grpc itself says "Failed to bind".
        "KEY_VALUES_MISMATCH": (pki.server.cert, pki.client.key, None),
    }
    processes = {}
    for named, (cert, key, ca) in cases.items():
        flags = ["--tls-cert", str(cert), "--tls-key", str(key)]
        if ca is not None:
            flags += ["--tls-client-ca", str(ca)]
        processes[named] = ServerProcess(tmp_path, *flags, *FAST)
        reap.append(processes[named])
    for named, process in processes.items():
        assert process.wait_exit(20) == 3, named
        (line,) = [e for e in process.logs() if e.get("event") == "cannot_listen"]
        assert named in line["error"], line


# --- Unix socket permissions ---------------------------------------------------------------


@pytest.mark.parametrize(("flags", "mode"), [([], 0o600), (["--socket-mode", "0660"], 0o660)])
def test_unix_socket_file_mode(tmp_path: Path, flags: list[str], mode: int) -> None:
    path = tmp_path / "roadmap.sock"
    previous = os.umask(0)  # the server inherits a umask that would leave the socket 0777
    try:
        process = ServerProcess(tmp_path, *flags, *FAST, listen=f"unix:{path}")
    finally:
        os.umask(previous)
    try:
        process.wait_serving()
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == mode
        with RoadmapClient(f"unix:{path}", timeout=5) as client:
            assert client.get_roadmap(pb.Assessment(unit_id="unix")).unit_id == "unix"
    finally:
        assert process.stop() == 0


def test_unix_socket_in_use_is_refused_and_a_stale_one_replaced(
    tmp_path: Path, reap: list[ServerProcess]
) -> None:
    path = tmp_path / "roadmap.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a socket file nobody listens on: a crashed server's
    stale.close()
    first = ServerProcess(tmp_path, *FAST, listen=f"unix:{path}")
    try:
        first.wait_serving()
        second = ServerProcess(tmp_path, *FAST, listen=f"unix:{path}")
        reap.append(second)
        assert second.wait_exit(20) == 3
        (line,) = [e for e in second.logs() if e.get("event") == "cannot_listen"]
        assert line["listen"] == f"unix:{path}"
        assert "already in use" in line["error"]
        assert first.health() == "SERVING"  # grpc alone would have taken its socket file
        with RoadmapClient(f"unix:{path}", timeout=5) as client:
            assert client.list_models().models
    finally:
        assert first.stop() == 0


# --- an address in use ---------------------------------------------------------------------


def test_a_second_server_on_a_port_in_use_exits_3_and_the_first_keeps_serving(
    tmp_path: Path, reap: list[ServerProcess]
) -> None:
    first = ServerProcess(tmp_path, *FAST)
    try:
        first.wait_serving()
        second = ServerProcess(tmp_path, *FAST, listen=first.target)
        reap.append(second)
        assert second.wait_exit(20) == 3
        (line,) = [e for e in second.logs() if e.get("event") == "cannot_listen"]
        assert line["listen"] == first.target
        assert "Address already in use" in line["error"]
        assert first.target in line["error"]
        assert not any(e.get("event") == "listening" for e in second.logs())
        assert first.health() == "SERVING"
        with RoadmapClient(first.target, timeout=5) as client:
            for _ in range(4):  # every connection still reaches the first server
                assert client.list_models().models
    finally:
        assert first.stop() == 0


# --- logs -----------------------------------------------------------------------------------


def test_logs_never_hold_assessment_contents_or_costs(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, "--log-level", "debug")
    secrets = ["secret-payroll-XYZ", "svc-payroll-XYZ", "987654", "bogus-practice-QZX", "4242"]
    good = json_format.ParseDict(
        {
            "unit_id": "logged-unit",
            "practices": [{"practice_id": "knowledge-base", "adoption": "ADOPTION_ADOPTED"}],
            "services": [
                {"id": "svc-payroll-XYZ", "name": "secret-payroll-XYZ", "annual_cost": 987654.32}
            ],
        },
        pb.Assessment(),
    )
    bad = json_format.ParseDict(
        {
            "unit_id": "logged-bad-unit",
            "practices": [{"practice_id": "bogus-practice-QZX", "adoption": "ADOPTION_ADOPTED"}],
            "services": [
                {"id": "svc-payroll-XYZ", "name": "secret-payroll-XYZ", "annual_cost": -4242.17}
            ],
        },
        pb.Assessment(),
    )
    try:
        process.wait_serving()
        with RoadmapClient(process.target, timeout=10) as client:
            assert client.get_roadmap(good).unit_id == "logged-unit"
            with pytest.raises(ServiceError) as raised:
                client.get_roadmap(bad)
            assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT
            assert "bogus-practice-QZX" in str(raised.value.violations)  # the caller is told
            items = list(client.stream_roadmaps([good, bad]))
            assert items[1].HasField("error")
            client.summarize_portfolio([good])
            client.compare(good, good)
    finally:
        assert process.stop() == 0
    text = process.log_path.read_text()
    requests = [e for e in process.logs() if e.get("event") == "request"]
    assert {e["method"] for e in requests} >= {"GetRoadmap", "StreamRoadmaps", "CompareAssessments"}
    assert "logged-bad-unit" in text  # unit ids are logged, by design
    for secret in secrets:
        assert secret not in text, f"{secret!r} in the server's log"
