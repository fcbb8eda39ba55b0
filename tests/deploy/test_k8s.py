"""deploy/k8s: generated base, valid builds, and the shape a deployment that serves traffic needs.

Custom resources have no vendored CRD schema (deploy/k8s/validate.py says why), so the fields
their operators need are asserted here.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from followup.core.settings import CoreSettings
from followup.events import topics

from .deploy_tools import K8S, ROOT

SERVICES = ("scheduling", "visits", "issues", "analytics")
DAY_MS = 86_400_000


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"k8s_{name}", K8S / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def built(path: str) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = load("validate").build(path)
    return objs


def of(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def test_the_committed_base_is_what_the_generator_writes() -> None:
    for name, text in load("generate").files().items():
        assert (K8S / "base" / name).read_text() == text, "run python deploy/k8s/generate.py"


def test_every_build_validates_and_kube_score_finds_nothing_critical() -> None:
    out = subprocess.run(
        [sys.executable, str(K8S / "validate.py")], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("core objects valid") == 3, out.stdout
    assert out.stdout.count("kube-score clean") == 3, out.stdout


def test_the_checkers_reject_a_broken_deployment() -> None:
    validate = load("validate")
    deployment = of(built("base"), "Deployment")["visits"]
    bad = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    assert validate.validate([bad], {}), "kubernetes-validate accepted replicas: two"
    pod = deployment["spec"]["template"]["spec"]
    loose = {**pod, "containers": [{"name": "visits", "image": "followup:latest"}]}
    careless = {**deployment, "spec": {**deployment["spec"], "template": {"spec": loose}}}
    assert validate.kube_score([careless]), "kube-score passed a latest image without limits"


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_each_service_runs_two_or_more_hardened_replicas(overlay: str) -> None:
    objs = built(overlay)
    deployments = of(objs, "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, d in deployments.items():
        assert d["spec"]["replicas"] >= 2, name
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        (c,) = pod["containers"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]), name
        assert {"cpu", "memory"} <= set(c["resources"]["limits"]), name
        assert c["image"].split(":")[-1] not in {"latest", "followup"}, c["image"]
        secrets = {
            "FOLLOWUP_PG_DSN",
            "FOLLOWUP_TOKENS",
            "FOLLOWUP_DATA_KEY",
            "FOLLOWUP_MASTER_KEYS",
        }
        assert secrets <= {var["name"] for var in c["env"]}, name
        for var in c["env"]:
            if var["name"] in secrets:
                assert "secretKeyRef" in var["valueFrom"], (name, var)
    assert of(objs, "ConfigMap")["followup-config"]["data"]["FOLLOWUP_HOST"] == "0.0.0.0"
    assert not of(objs, "Secret"), "Secrets are created out of band, never in the manifests"


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_each_service_has_a_budget_a_scaler_a_monitor_and_a_policy(overlay: str) -> None:
    objs = built(overlay)
    partitions = min(
        t["spec"]["partitions"]
        for t in of(objs, "KafkaTopic").values()
        if t["spec"]["topicName"] != topics.CLOCK
    )
    for svc in SERVICES:
        selector = {"app.kubernetes.io/name": svc}
        assert of(objs, "PodDisruptionBudget")[svc]["spec"]["selector"]["matchLabels"] == selector
        scaled = of(objs, "ScaledObject")[svc]["spec"]
        assert scaled["scaleTargetRef"]["name"] == svc
        assert 2 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= partitions
        (trigger,) = scaled["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == CoreSettings(service=svc).group_id(svc)
        monitor = of(objs, "ServiceMonitor")[svc]["spec"]
        assert monitor["selector"]["matchLabels"] == selector
        assert monitor["endpoints"][0]["path"] == "/metrics"
        policy = of(objs, "NetworkPolicy")[svc]["spec"]
        assert policy["podSelector"]["matchLabels"] == selector
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}


def test_the_topics_follow_spec_section_6() -> None:
    for overlay, replicas in (("overlays/dev", 1), ("overlays/prod", 3)):
        found = {
            t["spec"]["topicName"]: t["spec"] for t in of(built(overlay), "KafkaTopic").values()
        }
        assert set(topics.ALL_TOPICS) <= set(found)
        assert set(found) == set(topics.ALL_TOPICS) | {
            "followup.customers.sealed",
            "followup.keys",
            "followup.control",
        }
        for name, spec in found.items():
            assert spec["replicas"] == replicas, name
            retention = {"followup.customers": str(7 * DAY_MS)}.get(name, "-1")
            assert spec["config"]["retention.ms"] == retention, name
            policy = "compact" if name == "followup.keys" else "delete"
            assert spec["config"]["cleanup.policy"] == policy, name
        assert found[topics.CLOCK]["partitions"] == 1
    prod = {
        t["spec"]["topicName"]: t["spec"] for t in of(built("overlays/prod"), "KafkaTopic").values()
    }
    assert {s["partitions"] for n, s in prod.items() if n != topics.CLOCK} == {12}
    assert {s["config"]["min.insync.replicas"] for s in prod.values()} == {"2"}


def test_kafka_is_a_kraft_cluster_whose_pool_and_topics_name_it() -> None:
    objs = built("overlays/prod")
    (kafka,) = of(objs, "Kafka").values()
    name = kafka["metadata"]["name"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    (pool,) = of(objs, "KafkaNodePool").values()
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == name
    assert set(pool["spec"]["roles"]) == {"controller", "broker"} and pool["spec"]["replicas"] == 3
    for topic in of(objs, "KafkaTopic").values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == name
    bootstrap = of(objs, "ConfigMap")["followup-config"]["data"]["FOLLOWUP_KAFKA_BOOTSTRAP"]
    assert bootstrap.startswith(f"{name}-kafka-bootstrap.")


def test_each_service_has_its_own_database_and_reads_its_dsn_from_the_operators_secret() -> None:
    objs = built("overlays/prod")
    clusters = of(objs, "Cluster")
    for svc in SERVICES:
        cluster = clusters[f"{svc}-db"]
        assert cluster["spec"]["bootstrap"]["initdb"]["database"] == svc
        assert cluster["spec"]["instances"] == 3
        (c,) = of(objs, "Deployment")[svc]["spec"]["template"]["spec"]["containers"]
        dsn = next(v for v in c["env"] if v["name"] == "FOLLOWUP_PG_DSN")
        assert dsn["valueFrom"]["secretKeyRef"] == {"name": f"{svc}-db-app", "key": "uri"}
    assert {c["spec"]["instances"] for c in of(built("overlays/dev"), "Cluster").values()} == {1}


def test_the_migrations_job_migrates_every_service_with_the_cli() -> None:
    job = of(built("overlays/prod"), "Job")["migrate"]
    containers = job["spec"]["template"]["spec"]["containers"]
    assert [c["command"] for c in containers] == [["followup", "migrate", s] for s in SERVICES]
    for c in containers:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_prometheus_rule_carries_the_alert_rules() -> None:
    (rule,) = of(built("base"), "PrometheusRule").values()
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]


def test_a_vendored_crd_schema_checks_its_custom_resources(tmp_path: Path) -> None:
    validate = load("validate")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "keda.sh",
            "names": {"kind": "ScaledObject"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["scaleTargetRef"],
                                    "properties": {"minReplicaCount": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    (tmp_path / "keda.yaml").write_text(yaml.safe_dump(crd))
    schemas = validate.crd_schemas(tmp_path)
    scaled = of(built("base"), "ScaledObject")["visits"]
    assert validate.validate([scaled], schemas) == []
    broken = {**scaled, "spec": {"minReplicaCount": "two"}}
    problems = validate.validate([broken], schemas)
    assert len(problems) == 2, problems  # a string count and no scaleTargetRef
