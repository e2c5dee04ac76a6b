"""The container image recipe and the Kubernetes manifests, checked without a cluster
or a Docker engine (neither runs on this machine): linted, schema-validated, and the
rule base they ship loaded by our own loader."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from engine.rulebase import load_rulebase
from tests.server_process import ServerProcess
from tests.test_cli_rules import REPO, roadmap

if TYPE_CHECKING:
    from engine.model import RuleBase

BIN = Path(sys.executable).parent
MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, cwd=REPO)


def test_dockerfile_passes_hadolint_and_copies_what_exists() -> None:
    result = run(str(BIN / "hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE):
        for source in line.split():
            assert (REPO / source).exists(), f"COPY source missing: {source}"
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text
    assert '"roadmap", "health"' in text
    # The console script's module (and the command line behind it) are in the image.
    for module in ("clients.launch", "clients.cli"):
        path = module.replace(".", "/") + ".py"
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", text, flags=re.MULTILINE), path
    script = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["roadmap"]
    assert script.split(":")[0] == "clients.launch"


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    result = run(str(BIN / "kubernetes-validate"), "--strict", *map(str, MANIFESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == 4


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
        .replace("replicas: 3", 'replicas: "three"')
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
