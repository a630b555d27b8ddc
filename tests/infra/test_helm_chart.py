"""helm/flask-app: linted, rendered and checked by the real tools, for the
default values and each of values-dev/staging/prod.

Helm itself runs through its Go SDK (pip helm-python-sdk); the rendered
manifests then go through kubernetes-validate (Kubernetes 1.30 schemas),
Trivy and Checkov, and the behaviour tests read the rendered objects.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import helm_python
import pytest
import yaml

from tests.support.helm import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    ROOT,
    VALUE_SETS,
    file_values,
    kinds,
    kubernetes_validate,
    kubernetes_validate_problems,
    one,
    render,
    render_templates,
)
from tests.support.scanners import assert_checkov_clean, checkov, trivy_config

DIGEST = "sha256:" + "ab" * 32


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    specs = []
    for doc in docs:
        if doc["kind"] == "Pod":
            specs.append((f"Pod/{doc['metadata']['name']}", doc["spec"]))
        elif doc["kind"] in ("Deployment", "Job"):
            specs.append((f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "CronJob":
            template = doc["spec"]["jobTemplate"]["spec"]["template"]
            specs.append((f"CronJob/{doc['metadata']['name']}", template["spec"]))
    return specs


def all_containers(docs: list[dict]) -> list[tuple[str, dict]]:
    return [
        (f"{owner}/{container['name']}", container)
        for owner, spec in pod_specs(docs)
        for container in spec.get("initContainers", []) + spec["containers"]
    ]


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory) -> Path:
    """Every value set rendered to values-<set>/manifests.yaml, for the command-line scanners.
    (Not <set>/: Trivy silently skips a directory named dev.)"""
    root = tmp_path_factory.mktemp("rendered")
    for value_set in VALUE_SETS:
        directory = root / f"values-{value_set}"
        directory.mkdir()
        texts = [
            t for p, t in sorted(render_templates(value_set).items()) if p.endswith(".yaml") and t.strip()
        ]
        (directory / "manifests.yaml").write_text("\n---\n".join(texts))
    return root


# -- helm lint and the values schema ------------------------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_helm_lint_strict_passes(value_set):
    result = helm_python.lint(
        CHART, file_values(value_set), strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}.0"
    )
    assert result["errors"] == [], result
    assert result["messages"] == [], result


@pytest.mark.parametrize(
    "typo",
    [
        {"replicaCont": 3},
        {"ingress": {"hots": "auth.example.com"}},
        {"secret": {"existingSecrets": "flask-auth"}},
        {"autoscaling": {"maxReplica": 5}},
        {"resources": {"limits": {"memroy": "1Gi"}}},
    ],
    ids=lambda typo: json.dumps(typo),
)
def test_schema_rejects_a_misspelled_key(typo):
    result = helm_python.lint(CHART, typo, strict=True, kube_version=f"v{KUBE_VERSION}.0")
    assert any("additional properties" in error for error in result["errors"]), result
    with pytest.raises(helm_python.HelmValuesError, match="additional properties"):
        render(**typo)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image": {"tag": "latest"}}, "/image/tag"),
        ({"image": {"digest": "sha256:short"}}, "/image/digest"),
        ({"app": {"env": "prod"}}, "/app/env"),
        ({"autoscaling": {"targetCPUUtilizationPercentage": 170}}, "targetCPUUtilizationPercentage"),
        ({"networkPolicy": {"databaseCidrs": ["10.0.0.0"]}}, "databaseCidrs"),
        ({"app": {"extraEnv": {"SECRET_KEY": "x" * 40}}}, "invalid propertyName 'SECRET_KEY'"),
        ({"resources": {"requests": {"memory": None}}}, "missing property 'memory'"),
    ],
)
def test_schema_rejects_wrong_values(overrides, message):
    with pytest.raises(helm_python.HelmValuesError, match=re.escape(message)):
        render(**overrides)


@pytest.mark.parametrize(
    ("value_set", "overrides", "message"),
    [
        ("dev", {"replicaCount": 2}, "exactly one replica"),
        ("dev", {"autoscaling": {"enabled": True}}, "exactly one replica"),
        ("prod", {"terminationGracePeriodSeconds": 30}, "terminationGracePeriodSeconds"),
        ("default", {"secret": {"existingSecret": ""}}, "needs SECRET_KEY"),
        ("dev", {"secret": {"generateSecretKey": False}}, "secret.create needs secret.secretKey"),
        ("dev", {"secret": {"secretKey": "too-short"}}, "at least 32 characters"),
        ("dev", {"secret": {"existingSecret": "flask-auth"}}, "not both"),
        ("prod", {"podDisruptionBudget": {"maxUnavailable": 1}}, "not both"),
    ],
)
def test_chart_refuses_contradictory_values(value_set, overrides, message):
    with pytest.raises(helm_python.HelmError, match=re.escape(message)):
        render(value_set, **overrides)


def test_the_chart_names_every_contradiction_in_one_failure():
    with pytest.raises(helm_python.HelmError) as failure:
        render("prod", terminationGracePeriodSeconds=30, podDisruptionBudget={"maxUnavailable": 1})
    text = str(failure.value)
    assert "VALUES VALIDATION (2 problems):" in text
    assert (
        "- terminationGracePeriodSeconds (30) must exceed preStopSleepSeconds + gunicorn.gracefulTimeout"
        in text
    )
    assert "- podDisruptionBudget: set minAvailable or maxUnavailable, not both" in text
    assert text.count("execution error") == 1

    with pytest.raises(helm_python.HelmError) as failure:
        render(
            "dev", replicaCount=3, secret={"secretKey": "too-short"}, app={"requireEmailVerification": True}
        )
    text = str(failure.value)
    assert "VALUES VALIDATION (3 problems):" in text
    for message in ("exactly one replica", "at least 32 characters", "needs app.mail.server"):
        assert message in text


def test_a_latest_app_version_is_refused_without_a_digest(tmp_path):
    """The schema refuses image.tag latest; the chart's own appVersion is the tag when none is given."""
    chart = tmp_path / "flask-app"
    shutil.copytree(CHART, chart)
    meta = chart / "Chart.yaml"
    meta.write_text(re.sub(r"(?m)^appVersion: .*$", 'appVersion: "latest"', meta.read_text()))
    with helm_python.Chart.load(chart) as loaded:
        with pytest.raises(helm_python.HelmError, match=re.escape("image.tag must not be latest")):
            loaded.render({}, name=RELEASE, namespace=NAMESPACE, is_install=True)
        docs = loaded.render(
            {"image": {"digest": DIGEST}}, name=RELEASE, namespace=NAMESPACE, is_install=True
        )
    assert f"flask-auth@{DIGEST}" in docs[f"{RELEASE}/templates/deployment.yaml"]


HELPERS = CHART / "templates" / "_helpers.tpl"


def test_every_values_check_is_collected_and_nothing_else_fails():
    """Each check is a template flask-app.validateValues.<name> returning its message,
    and flask-app.validateValues runs every one of them: a check left out of its list
    would never run. No other template calls fail or required, so one render reports
    every problem."""
    text = HELPERS.read_text()
    defined = set(re.findall(r'define "flask-app\.validateValues\.(\w+)"', text))
    (listed,) = re.findall(r"range \$check := list ((?:\"\w+\" ?)+)", text)
    assert len(defined) >= 10
    assert set(re.findall(r'"(\w+)"', listed)) == defined
    failing = []
    for path in sorted((CHART / "templates").rglob("*")):
        if not path.is_file():
            continue
        for define in re.split(r"\{\{-? define ", path.read_text()):
            if re.search(r"\b(fail|required)\b\s", define) and not define.startswith(
                '"flask-app.validateValues"'
            ):
                failing.append(f"{path.name}: {define.split(maxsplit=1)[0]}")
    assert failing == []


COMPONENT = "app.kubernetes.io/component"


def test_the_component_label_comes_from_its_helper_only():
    literal = [
        str(path.relative_to(CHART))
        for path in (CHART / "templates").rglob("*.yaml")
        if f"{COMPONENT}:" in path.read_text()
    ]
    assert literal == []


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_each_part_carries_its_component_and_the_web_selectors_match_the_web_pods(value_set):
    docs = render(value_set, serviceMonitor={"enabled": True})
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["metadata"]["labels"][COMPONENT] == pod_labels[COMPONENT] == "web"
    selectors = [
        one(docs, "Service")["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"],
        one(docs, "ServiceMonitor")["spec"]["selector"]["matchLabels"],
    ] + [pdb["spec"]["selector"]["matchLabels"] for pdb in kinds(docs, "PodDisruptionBudget")]
    for selector in selectors:
        assert selector[COMPONENT] == "web"
        assert selector.items() <= pod_labels.items()
    components = {
        doc["metadata"]["labels"][COMPONENT]: doc["kind"]
        for doc in docs
        if COMPONENT in doc["metadata"]["labels"]
    }
    assert set(components) <= {"web", "migration", "purge", "test"}
    assert components["test"] == "Pod"


# -- the real validators on the rendered manifests ----------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_rendered_object_validates_against_kubernetes_schemas(rendered_dir, value_set):
    manifest = rendered_dir / f"values-{value_set}" / "manifests.yaml"
    assert kubernetes_validate_problems(manifest) == []
    _, output = kubernetes_validate(manifest)
    passed = [line for line in output.splitlines() if " passed for resource " in line]
    assert len(passed) == len(render(value_set)), output


def test_a_removed_api_version_counts_as_a_failure(tmp_path):
    """The WARN that kubernetes-validate exits 0 on is caught by the check above."""
    manifest = tmp_path / "old.yaml"
    manifest.write_text(
        "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: old, namespace: x}\n"
        "spec: {maxUnavailable: 1, selector: {matchLabels: {a: b}}}\n"
    )
    code, _ = kubernetes_validate(manifest)
    assert code == 0  # the tool alone would let it through
    assert kubernetes_validate_problems(manifest) != []


def test_strict_validation_catches_an_unknown_field(tmp_path):
    docs = render("prod")
    deployment = one(docs, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(yaml.safe_dump(deployment))
    assert kubernetes_validate_problems(manifest) != []


def trivy_ignore_entries() -> dict[str, str]:
    """ID -> the reason written in the comment lines above it."""
    entries, comment = {}, []
    for line in (ROOT / ".trivyignore").read_text().splitlines():
        if line.startswith("#"):
            comment.append(line.lstrip("# ").strip())
        elif line.strip():
            entries[line.split()[0]] = " ".join(comment).strip()
            comment = []
        else:
            comment = []
    return entries


def test_every_trivyignore_entry_has_a_reason():
    entries = trivy_ignore_entries()
    assert entries, ".trivyignore lists no entries"
    for finding, reason in entries.items():
        assert len(reason) > 40, f"{finding} has no reason in .trivyignore"


def test_trivy_finds_nothing_in_the_rendered_manifests(rendered_dir):
    """Every severity: HIGH/CRITICAL must be fixed, lower ones fixed or accepted in .trivyignore."""
    report = trivy_config(
        rendered_dir,
        "--ignorefile",
        str(ROOT / ".trivyignore"),
        "--severity",
        "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
    )
    assert {f"values-{s}/manifests.yaml" for s in VALUE_SETS} <= report.targets, report.targets
    assert report.failures == []
    assert report.passes > 50 * len(VALUE_SETS)
    assert report.returncode == 0, report.stderr


def test_checkov_passes_the_rendered_manifests_with_reasoned_skips_only(rendered_dir):
    assert_checkov_clean(checkov(rendered_dir, "kubernetes"), passed_over=100, reason_over=30)


# -- behaviour of the rendered output -----------------------------------------------------------


def test_prod_autoscales_2_to_20_with_a_disruption_budget_and_no_fixed_replicas():
    docs = render("prod")
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 20)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["spec"]["scaleTargetRef"]["name"] == one(docs, "Deployment")["metadata"]["name"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {
        "minAvailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": one(docs, "Deployment")["spec"]["selector"],
    }
    assert "replicas" not in one(docs, "Deployment")["spec"]


def test_prod_runs_larger_pods_with_redis_rate_limits_hsts_and_the_waf():
    docs = render("prod")
    config = one(docs, "ConfigMap")["data"]
    assert config["APP_ENV"] == "production"
    assert config["HSTS"] == "true"
    app = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    # The Redis URL, with its AUTH token, is the Secret's RATELIMIT_STORAGE_URI (deploy.sh refuses a
    # Secret without it); envFrom lists the Secret last, so it wins over the ConfigMap's default.
    assert app["envFrom"][-1] == {"secretRef": {"name": "flask-auth"}}
    assert not config["RATELIMIT_STORAGE_URI"].startswith("redis")
    staging_app = one(render("staging"), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert app["resources"]["limits"]["memory"] == "1Gi"
    assert staging_app["resources"]["limits"]["memory"] == "512Mi"
    annotations = one(docs, "Ingress")["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"].startswith("arn:aws:wafv2:ap-south-1:")
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:ap-south-1:")


def test_dev_runs_one_pod_on_sqlite_on_a_volume_without_autoscaling():
    docs = render("dev")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert kinds(docs, "HorizontalPodAutoscaler") == []
    assert kinds(docs, "PodDisruptionBudget") == []
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    spec = deployment["spec"]["template"]["spec"]
    claim = next(v for v in spec["volumes"] if "persistentVolumeClaim" in v)
    assert claim["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert one(docs, "ConfigMap")["data"]["DATABASE_URL"] == "sqlite:////var/lib/flask-auth/app.db"
    # With the only copy of the database on the pod's volume, the pod migrates it itself.
    assert [c["args"] for c in spec["initContainers"]] == [["migrate"]]
    assert kinds(docs, "Job") == []


def test_staging_runs_two_pods_on_rds_through_an_existing_secret():
    docs = render("staging")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert kinds(docs, "PersistentVolumeClaim") == []
    assert kinds(docs, "Secret") == []
    assert "DATABASE_URL" not in one(docs, "ConfigMap")["data"]
    env_from = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "flask-auth"}} in env_from


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_container_is_non_root_read_only_and_drops_all(value_set):
    docs = render(value_set)
    containers = all_containers(docs)
    assert len(containers) >= 2  # the app, and its migration or test pod
    for name, container in containers:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] == 10001, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
    for owner, spec in pod_specs(docs):
        assert spec["automountServiceAccountToken"] is False, owner
        assert spec["securityContext"]["runAsNonRoot"] is True, owner


def test_pods_run_as_the_images_user():
    user = re.search(r"^USER\s+(\d+):(\d+)", (ROOT / "docker" / "Dockerfile").read_text(), re.M)
    context = one(render(), "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user.groups()


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_the_app_pod_probes_drains_and_writes_only_to_tmp(value_set):
    docs = render(value_set)
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    app = spec["containers"][0]
    assert app["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert app["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert app["startupProbe"]["httpGet"]["path"] == "/health/live"
    config = one(docs, "ConfigMap")["data"]
    pause = app["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause > 0
    assert spec["terminationGracePeriodSeconds"] > pause + int(config["GUNICORN_GRACEFUL_TIMEOUT"])
    tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    assert {"name": "tmp", "mountPath": "/tmp"} in app["volumeMounts"]
    assert config["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    zones = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert zones == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_object_names_its_namespace_and_carries_the_standard_labels(value_set):
    for doc in render(value_set):
        meta = doc["metadata"]
        assert meta["namespace"] == NAMESPACE, meta["name"]
        for label in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"):
            assert label in meta["labels"], (doc["kind"], label)


def pod_checksums(value_set="default", **overrides) -> dict[str, str]:
    annotations = one(render(value_set, **overrides), "Deployment")["spec"]["template"]["metadata"][
        "annotations"
    ]
    return {k: v for k, v in annotations.items() if k.startswith("checksum/")}


def test_a_config_change_changes_the_pod_templates_checksum():
    before = pod_checksums("prod")
    assert set(before) == {"checksum/config", "checksum/secret"}
    assert pod_checksums("prod")["checksum/config"] == before["checksum/config"]  # stable
    assert pod_checksums("prod", app={"logLevel": "DEBUG"})["checksum/config"] != before["checksum/config"]
    assert pod_checksums("prod", app={"extraEnv": {"LOCKOUT_THRESHOLD": "7"}}) != before
    # Scaling is not a config change: no needless restart.
    assert pod_checksums("prod", autoscaling={"maxReplicas": 30}) == before


def test_a_rendered_secret_change_changes_the_secret_checksum():
    key_a, key_b = "a" * 40, "b" * 40
    first = pod_checksums("dev", secret={"generateSecretKey": False, "secretKey": key_a})
    second = pod_checksums("dev", secret={"generateSecretKey": False, "secretKey": key_b})
    assert first["checksum/secret"] != second["checksum/secret"]
    assert first["checksum/config"] == second["checksum/config"]


@pytest.mark.parametrize("value_set", ["default", "staging", "prod"])
def test_no_secret_is_rendered_unless_values_ask_for_one(value_set):
    docs = render(value_set)
    assert kinds(docs, "Secret") == []
    for doc in docs:
        text = yaml.safe_dump(doc)
        assert "SECRET_KEY:" not in text or doc["kind"] != "ConfigMap"


def test_the_dev_secret_holds_only_what_values_asked_for():
    secret = one(render("dev"), "Secret")
    assert set(secret["data"]) == {"SECRET_KEY"}  # generated: generateSecretKey=true
    given = "s" * 48
    secret = one(render("dev", secret={"generateSecretKey": False, "secretKey": given}), "Secret")
    assert base64.b64decode(secret["data"]["SECRET_KEY"]).decode() == given


def test_the_values_files_hold_no_secret_value():
    for value_set in VALUE_SETS[1:]:
        secret = file_values(value_set).get("secret", {})
        assert not secret.get("secretKey"), value_set
        assert not secret.get("databaseUrl"), value_set
    assert yaml.safe_load((CHART / "values.yaml").read_text())["secret"]["secretKey"] == ""


def test_image_by_digest_when_given_by_tag_otherwise():
    def image(**overrides):
        return one(render("prod", **overrides), "Deployment")["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]

    repository = file_values("prod")["image"]["repository"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert image() == f"{repository}:{chart['appVersion']}"
    assert image(image={"tag": "abc1234"}) == f"{repository}:abc1234"
    assert image(image={"tag": "abc1234", "digest": DIGEST}) == f"{repository}@{DIGEST}"
    # The migration Job and the test pod run the same image.
    docs = render("prod", image={"digest": DIGEST})
    assert {c["image"] for _, c in all_containers(docs)} == {f"{repository}@{DIGEST}"}


def test_the_migration_job_runs_before_the_release_and_works_on_a_first_install():
    docs = render("prod")
    job = one(docs, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["migrate"]
    # Hooks run before the ConfigMap exists: the settings are inline, and the same.
    inline = {e["name"]: e["value"] for e in container["env"]}
    assert inline == one(docs, "ConfigMap")["data"]
    assert container["envFrom"] == [{"secretRef": {"name": "flask-auth"}}]  # exists before the release
    assert "configMapRef" not in json.dumps(job)
    # Nor does the chart's ServiceAccount: a hook pod naming it would not be admitted.
    created = {a["metadata"]["name"] for a in kinds(docs, "ServiceAccount")}
    assert job["spec"]["template"]["spec"].get("serviceAccountName", "default") not in created
    existing = one(render("prod", serviceAccount={"create": False, "name": "migrator"}), "Job")
    assert existing["spec"]["template"]["spec"]["serviceAccountName"] == "migrator"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_a_rendered_secret_reaches_the_migration_hook_through_a_hook_scoped_copy():
    docs = render(
        "default",
        secret={
            "existingSecret": "",
            "create": True,
            "secretKey": "k" * 40,
            "databaseUrl": "postgresql://app@db:5432/app",
        },
    )
    secrets = {s["metadata"]["name"]: s for s in kinds(docs, "Secret")}
    copy_ = secrets[f"{RELEASE}-migration"]
    job = one(docs, "Job")
    weight = int(copy_["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert copy_["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert weight < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert copy_["data"]["DATABASE_URL"] == secrets[RELEASE]["data"]["DATABASE_URL"]
    assert job["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": f"{RELEASE}-migration"}}
    ]


def test_migrations_can_be_switched_off():
    docs = render("prod", migration={"enabled": False})
    assert kinds(docs, "Job") == []
    assert "initContainers" not in one(docs, "Deployment")["spec"]["template"]["spec"]


def test_the_ingress_is_an_https_alb_with_certificate_waf_and_health_check():
    ingress = one(render("prod"), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/health/ready"
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    host = file_values("prod")["ingress"]["host"]
    assert ingress["spec"]["tls"] == [{"hosts": [host]}]
    assert ingress["spec"]["rules"][0]["host"] == host
    assert kinds(render("prod", ingress={"enabled": False}), "Ingress") == []


def test_the_network_policy_admits_the_load_balancer_and_prometheus_and_egresses_only_to_data_stores():
    docs = render("prod")
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
    namespaces = {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in sources
        if "namespaceSelector" in p
    }
    assert namespaces == {"kube-system", "monitoring"}
    assert {p["ipBlock"]["cidr"] for p in sources if "ipBlock" in p} == set(
        file_values("prod")["networkPolicy"]["loadBalancerCidrs"]
    )
    ports = {(port["port"], port["protocol"]) for rule in policy["egress"] for port in rule["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP"), (587, "TCP")}
    database = next(r for r in policy["egress"] if r["ports"] == [{"port": 5432, "protocol": "TCP"}])
    assert [p["ipBlock"]["cidr"] for p in database["to"]] == file_values("prod")["networkPolicy"][
        "databaseCidrs"
    ]
    # Without Redis subnets there is no Redis rule at all.
    without_redis = one(render("prod", networkPolicy={"redisCidrs": []}), "NetworkPolicy")["spec"]
    assert 6379 not in {p["port"] for rule in without_redis["egress"] for p in rule["ports"]}


def test_mail_settings_reach_the_app_and_the_network_policy():
    docs = render("prod")
    config = one(docs, "ConfigMap")["data"]
    assert config["APP_BASE_URL"] == "https://auth.example.com"  # from the ingress host
    assert config["MAIL_SERVER"] == "email-smtp.ap-south-1.amazonaws.com"
    assert (config["MAIL_PORT"], config["MAIL_USE_TLS"]) == ("587", "true")
    assert config["REQUIRE_EMAIL_VERIFICATION"] == "true"
    assert "MAIL_PASSWORD" not in config and "MAIL_USERNAME" not in config  # those live in the Secret
    explicit = one(render("prod", app={"baseUrl": "https://login.example.com/"}), "ConfigMap")["data"]
    assert explicit["APP_BASE_URL"] == "https://login.example.com"
    # Without a mail server: no mail settings, no SMTP egress, and verification cannot be required.
    dev = render("dev")
    assert "MAIL_SERVER" not in one(dev, "ConfigMap")["data"]
    egress_ports = {p["port"] for rule in one(dev, "NetworkPolicy")["spec"]["egress"] for p in rule["ports"]}
    assert 587 not in egress_ports
    with pytest.raises(
        helm_python.HelmError, match=re.escape("requireEmailVerification needs app.mail.server")
    ):
        render("dev", app={"requireEmailVerification": True})


def test_mfa_required_reaches_the_app_and_its_keys_stay_out_of_the_config_map():
    assert one(render("prod"), "ConfigMap")["data"]["MFA_REQUIRED"] == "false"
    assert one(render("prod", app={"mfaRequired": True}), "ConfigMap")["data"]["MFA_REQUIRED"] == "true"
    with pytest.raises(
        helm_python.HelmValuesError, match=re.escape("invalid propertyName 'MFA_ENCRYPTION_KEY'")
    ):
        render("prod", app={"extraEnv": {"MFA_ENCRYPTION_KEY": "x" * 40}})


def test_passkey_settings_reach_the_app():
    data = one(render("prod"), "ConfigMap")["data"]
    assert data["WEBAUTHN_ENABLED"] == "true"
    assert "WEBAUTHN_ORIGIN" not in data and "WEBAUTHN_RP_ID" not in data  # from APP_BASE_URL
    passkeys = {"enabled": True, "origin": "https://auth.example.com", "rpId": "example.com"}
    data = one(render("prod", app={"passkeys": passkeys}), "ConfigMap")["data"]
    assert (data["WEBAUTHN_ORIGIN"], data["WEBAUTHN_RP_ID"]) == ("https://auth.example.com", "example.com")
    with pytest.raises(helm_python.HelmValuesError):
        render("prod", app={"passkeys": {"origin": "http://auth.example.com"}})


def test_the_service_account_carries_the_irsa_role():
    account = one(render("prod"), "ServiceAccount")
    assert (
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        == file_values("prod")["serviceAccount"]["roleArn"]
    )
    assert account["automountServiceAccountToken"] is False
    assert (
        one(render("prod"), "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
        == account["metadata"]["name"]
    )


def test_service_monitor_is_off_by_default_and_scrapes_metrics_when_on():
    for value_set in VALUE_SETS:
        assert kinds(render(value_set), "ServiceMonitor") == []
    monitor = one(
        render("prod", serviceMonitor={"enabled": True, "labels": {"release": "kube-prometheus"}}),
        "ServiceMonitor",
    )
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"


def test_helm_test_pod_checks_readiness_through_the_service():
    docs = render("prod")
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    service = one(docs, "Service")["metadata"]["name"]
    assert f"http://{service}.{NAMESPACE}.svc:80/health/ready" in script
    assert kinds(render("prod", tests={"enabled": False}), "Pod") == []


def test_notes_say_where_the_app_is():
    notes = render_templates("prod")["flask-app/templates/NOTES.txt"]
    assert "https://auth.example.com" in notes
    assert f"helm test {RELEASE}" in notes


# -- the purge CronJob --------------------------------------------------------------------------


def test_purge_runs_as_a_cronjob_with_the_apps_settings_and_secret():
    docs = render("prod")
    cron = one(docs, "CronJob")
    assert cron["spec"]["schedule"] == "17 3 * * *"  # values.yaml: nightly, in UTC
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    # docker/entrypoint.sh turns `flask purge` into `flask --app app purge`.
    assert container["args"] == ["flask", "purge"]
    assert container["envFrom"] == [
        {"configMapRef": {"name": RELEASE}},
        {"secretRef": {"name": "flask-auth"}},
    ]
    assert container["image"] == one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (
        container["securityContext"]
        == one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    )
    assert container["resources"]["limits"]["memory"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "purge"


def test_the_purge_schedule_and_switch_come_from_values():
    cron = one(render("prod", purge={"schedule": "@hourly"}), "CronJob")
    assert cron["spec"]["schedule"] == "@hourly"
    assert kinds(render("prod", purge={"enabled": False}), "CronJob") == []
    # SQLite on the web pod's volume: no other pod can mount it, so no CronJob.
    assert kinds(render("dev"), "CronJob") == []


def test_the_schema_refuses_a_purge_schedule_that_is_not_cron():
    with pytest.raises(Exception, match="schedule"):
        render("prod", purge={"schedule": "every night"})


def test_the_network_policy_lets_the_purge_pods_reach_the_database():
    docs = render("prod")
    policy = one(docs, "NetworkPolicy")["spec"]
    (expression,) = policy["podSelector"]["matchExpressions"]
    labels = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] in expression["values"]
    assert all(labels[k] == v for k, v in policy["podSelector"]["matchLabels"].items())
    assert any(p == {"port": 5432, "protocol": "TCP"} for rule in policy["egress"] for p in rule["ports"])
