"""The Dockerfile: pinned bases, a dependency layer apart from the source, a lean context."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from .deploy_tools import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
LINES = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and line[0] != "#"]
MEMBERS = sorted(
    str(p.relative_to(ROOT))
    for p in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]
)
DEPENDENCY_SYNC = "--no-install-workspace"


def images() -> list[str]:
    """Every base image, with ARG defaults filled in."""
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", DOCKERFILE, re.M))
    out = []
    for line in LINES:
        if line.startswith("FROM "):
            image = line.split()[1]
            out.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return out


def test_every_base_image_is_pinned_to_an_exact_release() -> None:
    bases = images()
    assert bases
    for image in bases:
        assert re.search(r":\d+\.\d+\.\d+", image) or "@sha256:" in image, image


def test_the_dependency_layer_is_built_before_any_source_is_copied() -> None:
    sync = next(i for i, line in enumerate(LINES) if DEPENDENCY_SYNC in line)
    copies = [
        line.split()[1:]
        for line in LINES[:sync]
        if line.startswith("COPY ") and "--from" not in line
    ]
    copied = {src for args in copies for src in args[:-1]}
    assert copied == {"pyproject.toml", "uv.lock", *MEMBERS}, copied
    source = [i for i, line in enumerate(LINES) if re.match(r"COPY (libs|services) ", line)]
    assert source and min(source) > sync


def test_the_dependency_layer_installs_from_the_lock_and_manifests_alone(tmp_path: Path) -> None:
    for name in ["pyproject.toml", "uv.lock", *MEMBERS]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    uv = (
        os.environ.get("UV")
        or subprocess.run(
            [str(ROOT / "infra" / "bootstrap-uv.sh")], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    out = subprocess.run(
        [uv, "sync", "--frozen", "--all-packages", "--no-dev", DEPENDENCY_SYNC, "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    site = next(venv.glob("lib/python*/site-packages"))
    assert (site / "fastapi").is_dir() and (site / "aiokafka").is_dir()
    assert not list(site.glob("followup_core*")), "the workspace belongs to the source layer"


def test_the_image_runs_as_a_numeric_non_root_user_listening_on_all_interfaces() -> None:
    user = [line for line in LINES if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in {"0", "root"}
    assert user[-1].split()[1].split(":")[0].isdigit()
    assert "FOLLOWUP_HOST=0.0.0.0" in DOCKERFILE


def test_the_build_context_leaves_out_environments_data_and_history() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", ".local", "**/__pycache__"} <= set(ignored)
    copied = {
        src.split("/")[0]
        for line in LINES
        if line.startswith("COPY ") and "--from" not in line
        for src in line.split()[1:-1]
    }
    assert not copied & set(ignored), copied & set(ignored)


def test_hadolint_style_basics_hold() -> None:
    # No `latest`, no `apt-get upgrade`, no `ADD` of URLs: the rules hadolint would flag first.
    assert ":latest" not in DOCKERFILE
    assert "apt-get upgrade" not in DOCKERFILE
    assert not [line for line in LINES if line.startswith("ADD ")]


def test_the_image_user_is_the_one_the_kubernetes_pods_run_as() -> None:
    uid, gid = (
        next(line for line in reversed(LINES) if line.startswith("USER ")).split()[1].split(":")
    )
    base = (ROOT / "deploy" / "k8s" / "base" / "visits.yaml").read_text()
    (deployment,) = [d for d in yaml.safe_load_all(base) if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid))
    assert f"--uid {uid} --gid {gid}" in DOCKERFILE
