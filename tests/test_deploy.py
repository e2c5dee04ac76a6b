"""The container image recipe and the Kubernetes manifests, checked without a cluster
or a registry (neither is reachable from this machine): linted, schema-validated, the
base image's Debian release held to the apt pins, the HEALTHCHECK's command run against
a real server, and the rule base they ship loaded by our own loader. (`make image`
builds and runs the image itself, with podman: minutes, not part of `make test`.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from engine.rulebase import load_rulebase
from tests.server_process import ServerProcess, free_port
from tests.test_cli_rules import REPO, roadmap

if TYPE_CHECKING:
    from engine.model import RuleBase

BIN = Path(sys.executable).parent
MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
DOCKERFILE = (REPO / "Dockerfile").read_text()
#: What each Debian release ships (version prefixes): the apt pins must name the base's.
DEBIAN = {
    "bookworm": {"gcc": "4:12.", "libc6-dev": "2.36-"},
    "trixie": {"gcc": "4:14.", "libc6-dev": "2.41-"},
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, cwd=REPO)


def test_dockerfile_passes_hadolint_and_copies_what_exists() -> None:
    result = run(str(BIN / "hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    text = DOCKERFILE
    for line in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE):
        for source in line.split():
            assert (REPO / source).exists(), f"COPY source missing: {source}"
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text
    assert "roadmap health" in text
    # The console script's package, every module of it, is in the image (a module added
    # to clients/ must not be left out of the build context).
    script = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["roadmap"]
    assert script.split(":")[0] == "clients.launch"
    assert re.search(r"^COPY clients clients$", text, flags=re.MULTILINE)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert not [p for p in ignored if p.startswith("clients") and not p.startswith("clients/")]
    assert {p for p in ignored if p.startswith("clients/")} == {"clients/node", "clients/examples"}


def test_the_base_image_is_the_debian_release_its_apt_pins_belong_to() -> None:
    """python:3.11-slim moved to trixie in 2025; the pins are bookworm's."""
    (base,) = re.findall(r"^ARG BASE=(\S+)$", DOCKERFILE, flags=re.MULTILINE)
    match = re.fullmatch(r"python:3\.11-slim-(\w+)@sha256:[0-9a-f]{64}", base)
    assert match, f"the base is not pinned by release tag and digest: {base}"
    release = match.group(1)
    pins = dict(re.findall(r"\b(gcc|libc6-dev)=(\S+?)\*", DOCKERFILE))
    assert pins == DEBIAN[release], f"pins {pins} are not {release}'s"
    assert all(pins != versions for name, versions in DEBIAN.items() if name != release)
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.MULTILINE) == ["${BASE}", "${BASE}"]


def test_the_apt_pins_resolve_on_this_machines_debian_when_it_is_the_same_release() -> None:
    release = re.search(r"python:3\.11-slim-(\w+)@", DOCKERFILE)
    assert release is not None
    os_release = Path("/etc/os-release")
    here = os_release.read_text() if os_release.exists() else ""
    if f"VERSION_CODENAME={release.group(1)}" not in here or not shutil.which("apt-cache"):
        pytest.skip(f"this machine is not Debian {release.group(1)}: its apt cannot tell")
    for name, prefix in DEBIAN[release.group(1)].items():
        madison = run("apt-cache", "madison", name).stdout
        versions = [line.split("|")[1].strip() for line in madison.splitlines()]
        assert any(v.startswith(prefix) for v in versions), f"{name}: {versions}"


def _healthcheck_command() -> list[str]:
    (command,) = re.findall(r"^\s+CMD (\[.*\])$", DOCKERFILE, flags=re.MULTILINE)
    argv: list[str] = json.loads(command)
    return argv


@pytest.mark.parametrize(
    ("listen", "configured"),
    [
        # the image's default form (a wildcard host), the IPv6 one, a plain address
        ("127.0.0.1:{port}", ["0.0.0.0:{port}", "[::]:{port}", "127.0.0.1:{port}"]),
        ("unix:{tmp}/roadmap.sock", ["unix:{tmp}/roadmap.sock"]),
    ],
)
def test_the_healthcheck_calls_the_address_the_server_listens_on(
    tmp_path: Path, listen: str, configured: list[str]
) -> None:
    """The HEALTHCHECK's own command, run here with ROADMAP_LISTEN as the container has it
    (on a port other than the default, so a hard-coded address would fail)."""
    port = free_port()
    process = ServerProcess(tmp_path, listen=listen.format(port=port, tmp=tmp_path))
    process.wait_serving()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("ROADMAP_TARGET", None)
    results = {}
    try:
        for address in configured:
            env["ROADMAP_LISTEN"] = address.format(port=port, tmp=tmp_path)
            results[address] = subprocess.run(
                _healthcheck_command(),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
    finally:
        assert process.stop() == 0
    for address, healthy in results.items():
        assert healthy.returncode == 0, f"{address}: {healthy.stdout}{healthy.stderr}"
        assert healthy.stdout.strip().endswith("SERVING"), address


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    result = run(str(BIN / "kubernetes-validate"), "--strict", *map(str, MANIFESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == 6


def test_read_only_roadmap_containers_get_a_writable_tmp() -> None:
    """The engine processes' fork server makes its socket under TMPDIR (/tmp)."""
    checked = 0
    for manifest in MANIFESTS:
        for document in yaml.safe_load_all(manifest.read_text()):
            if document.get("kind") != "Deployment":
                continue
            pod = document["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for container in pod["containers"]:
                if "roadmap-engine" not in container["image"]:
                    continue
                checked += 1
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{manifest.name}: no writable /tmp"
                assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
                assert not mounts["/tmp"].get("readOnly", False)
    assert checked == 2  # the sidecar and the shared service


def test_the_validator_would_catch_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (REPO / "deploy/kubernetes/shared.yaml")
        .read_text()
        .replace("replicas: 6", 'replicas: "six"')
    )
    result = run(str(BIN / "kubernetes-validate"), "--strict", str(broken))
    assert result.returncode != 0
    assert "replicas" in result.stdout + result.stderr


def test_the_sidecar_rule_base_configmap_loads(tmp_path: Path, bundled: RuleBase) -> None:
    documents = list(yaml.safe_load_all((REPO / "deploy/kubernetes/sidecar.yaml").read_text()))
    configmap = next(d for d in documents if d["kind"] == "ConfigMap")
    for name, content in configmap["data"].items():
        (tmp_path / name).write_text(content)
    rulebase = load_rulebase(tmp_path)
    assert rulebase.version == "acme-2026.11"
    assert "chaos-engineering" not in rulebase.practices
    assert len(rulebase.practices) == len(bundled.practices) - 1
    assert "chaos-engineering" not in rulebase.practices["continuous-deployment"].requires
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    sidecar = next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "roadmap"
    )
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert env["ROADMAP_RULES"] == "/rules"
    assert float(env["ROADMAP_WATCH_SECONDS"]) > 0
    assert sidecar["readinessProbe"]["grpc"]["port"] == 50051


def test_health_command_for_container_healthchecks(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path)
    process.wait_serving()
    try:
        healthy = roadmap("health", "--target", process.target)
        assert healthy.returncode == 0
        assert healthy.stdout.strip().endswith("SERVING")
    finally:
        assert process.stop() == 0
    gone = roadmap("health", "--target", process.target, "--timeout", "1")
    assert gone.returncode == 3


def _shared() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all((REPO / "deploy/kubernetes/shared.yaml").read_text())
    return {d["kind"]: d for d in documents}


def test_the_shared_service_has_a_disruption_budget_a_network_policy_and_scraping() -> None:
    shared = _shared()
    pods = shared["Deployment"]["spec"]["template"]
    labels = pods["metadata"]["labels"]
    (container,) = pods["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    budget = shared["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["maxUnavailable"] == 1 < shared["Deployment"]["spec"]["replicas"]

    policy = shared["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["egress"] == []  # the service opens no connection
    allowed = [p["port"] for rule in policy["ingress"] for p in rule["ports"]]
    assert sorted(allowed) == sorted([ports["grpc"], ports["metrics"]])
    assert all(rule["from"] for rule in policy["ingress"])  # never from anywhere

    # One server process per pod, so the one annotated port holds all its metrics.
    assert container["args"] == ["--workers", "1"]
    annotations = pods["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    assert int(env["ROADMAP_METRICS_PORT"]) == ports["metrics"]


def test_the_shared_service_stops_within_its_grace_period_after_prestop() -> None:
    """preStop's pause, then the server's drain (in-flight calls, then the drain delay)."""
    pods = _shared()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pods["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(env["ROADMAP_GRACE_SECONDS"]) + float(env["ROADMAP_DRAIN_SECONDS"])
    assert pause > 0
    assert pause + drain + 5 <= pods["terminationGracePeriodSeconds"]


def test_the_manifests_say_where_their_images_come_from() -> None:
    for manifest in MANIFESTS:
        text = manifest.read_text()
        assert "Dockerfile" in text.split("apiVersion", 1)[0], manifest.name
        for line in re.findall(r"^\s*image: .*$", text, flags=re.MULTILINE):
            assert "# placeholder" in line, f"{manifest.name}: {line.strip()}"
