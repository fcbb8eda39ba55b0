"""Validates deploy/k8s offline: `python deploy/k8s/validate.py` (CI and tests/deploy run it).

For the base and each overlay: kustomize builds it; every core object validates against the
Kubernetes schemas kubernetes-validate ships; every custom resource validates against the CRD
schema vendored in deploy/k8s/crds/ or is listed with the reason it is not; kube-score reports
no critical finding. Exits non-zero on any failure.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
BUILDS = ("base", "overlays/dev", "overlays/prod")
KUBERNETES_VERSION = "1.31"
NO_SCHEMA = (
    "no CRD schema vendored in deploy/k8s/crds/: the operator publishes its CRDs as release "
    "files, which no registry this machine reaches serves; checked by tests/deploy/test_k8s.py"
)


def tool(name: str) -> list[str]:
    """The command of a checker from infra/tools.sh (installed on first use)."""
    out = subprocess.run(
        [str(ROOT / "infra" / "tools.sh"), name], capture_output=True, text=True, check=True
    )
    return shlex.split(out.stdout.strip().splitlines()[-1])


def build(path: str) -> list[dict[str, Any]]:
    """The objects kustomize builds from deploy/k8s/<path>."""
    out = subprocess.run(
        [*tool("kustomize"), str(HERE / path)], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"kustomize build {path} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def crd_schemas(folder: Path = HERE / "crds") -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every CRD vendored in `folder`."""
    schemas = {}
    for path in sorted(folder.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def is_core(obj: dict[str, Any]) -> bool:
    """True for the API groups Kubernetes itself serves."""
    group = obj["apiVersion"].rpartition("/")[0]
    return group.endswith(".k8s.io") or "." not in group


def validate(objs: list[dict[str, Any]], schemas: dict[tuple[str, str], Any]) -> list[str]:
    """Problems found in one build (empty when valid); prints what was checked how."""
    problems, unchecked = [], Counter[str]()
    for obj in objs:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        key = (obj["apiVersion"], obj["kind"])
        if is_core(obj):
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{name}: {e.message}")
        elif key in schemas:
            for error in jsonschema.Draft7Validator(schemas[key]).iter_errors(obj):
                problems.append(f"{name}: {error.message} at {list(error.path)}")
        else:
            unchecked[f"{obj['kind']} ({obj['apiVersion']})"] += 1
    if unchecked:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(unchecked.items()))
        print(f"  not schema-checked: {kinds}: {NO_SCHEMA}")
    return problems


def kube_score(objs: list[dict[str, Any]]) -> list[str]:
    """kube-score's critical findings on the core objects (empty when none)."""
    text = yaml.safe_dump_all([o for o in objs if is_core(o)])
    out = subprocess.run(
        [*tool("kube-score"), "score", "--output-format", "ci", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in out.stdout.splitlines() if line.startswith("[CRITICAL]")]


def main() -> int:
    """Checks every build; prints a summary line per build and every problem."""
    schemas = crd_schemas()
    failed = False
    for path in BUILDS:
        objs = build(path)
        print(f"deploy/k8s/{path}: {len(objs)} objects")
        problems = validate(objs, schemas) + kube_score(objs)
        for p in problems:
            print(f"  FAIL {p}")
        if not problems:
            core = sum(is_core(o) for o in objs)
            print(
                f"  {core} core objects valid (Kubernetes {KUBERNETES_VERSION}), kube-score clean"
            )
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
