"""terraform/: formatted, parsed, wired and scanned, offline.

`terraform init`/`validate` need provider downloads, so they run in the
pipeline. Here every .tf is parsed (python-hcl2) and the wiring between the
environments and the modules is checked the way `terraform validate` would:
inputs that exist, required inputs given, outputs that exist, variables and
locals declared. Checkov and Trivy scan the whole tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.support.scanners import checkov, trivy_config

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
MODULES = sorted(p for p in (TF / "modules").iterdir() if p.is_dir())
ENVIRONMENTS = [TF / "environments" / name for name in ("dev", "staging", "prod")]
BIN = ROOT / ".venv" / "bin"
OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)

# Resource types that take no `tags` argument (everything else must set it).
UNTAGGABLE = {
    "aws_cloudwatch_log_resource_policy",
    "aws_default_network_acl_rule",
    "aws_ecr_lifecycle_policy",
    "aws_ecr_repository_policy",
    "aws_eks_access_policy_association",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_kms_alias",
    "aws_network_acl_association",
    "aws_network_acl_rule",
    "aws_route",
    "aws_route_table_association",
    "aws_secretsmanager_secret_version",
    "aws_sns_topic_subscription",
    "aws_vpc_endpoint_route_table_association",
    "aws_wafv2_web_acl_logging_configuration",
    "random_password",
}


def tf_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tf"))


@cache
def parse(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def blocks(directory: Path, kind: str) -> dict[str, dict]:
    """{label: body} of every `kind` block (variable, output, module) in a directory."""
    found = {}
    for path in tf_files(directory):
        for entry in parse(path).get(kind, []):
            for label, body in entry.items():
                if label != "__is_block__":
                    found[label] = body
    return found


def resources(directory: Path) -> list[tuple[str, str, dict]]:
    found = []
    for path in tf_files(directory):
        for entry in parse(path).get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    if name != "__is_block__":
                        found.append((rtype, name, body))
    return found


def code(directory: Path) -> str:
    """The directory's HCL without comments, for reference searches."""
    text = "\n".join(p.read_text() for p in tf_files(directory))
    return re.sub(r"(?m)(^|\s)(#|//).*$", "", text)


def locals_declared(directory: Path) -> set[str]:
    names = set()
    for path in tf_files(directory):
        for entry in parse(path).get("locals", []):
            names.update(k for k in entry if k != "__is_block__")
    return names


def module_dir(env: Path, body: dict) -> Path:
    return (env / body["source"]).resolve()


def strip(value) -> str:
    return str(value).strip('"')


# -- format and parse ---------------------------------------------------------------------------


def test_terraform_fmt_check_passes():
    terraform = shutil.which("terraform")
    assert terraform, "terraform is not installed (the machine image ships 1.11)"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_tf_file_parses():
    files = sorted(TF.rglob("*.tf"))
    assert len(files) >= 5 * len(MODULES) + 6 * len(ENVIRONMENTS)
    for path in files:
        assert isinstance(parse(path), dict), path


def test_the_layout_is_complete():
    assert {m.name for m in MODULES} == {"vpc", "eks", "rds", "security", "ecr", "elasticache"}
    for module in MODULES:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (module / name).is_file(), f"{module.name}/{name}"
    for env in ENVIRONMENTS:
        for name in (
            "main.tf",
            "variables.tf",
            "outputs.tf",
            "versions.tf",
            "backend.tf",
            "terraform.tfvars",
        ):
            assert (env / name).is_file(), f"{env.name}/{name}"
        assert (TF / "backend-config" / f"{env.name}.hcl").is_file()
    assert os.access(TF / "setup-backend.sh", os.X_OK)


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=lambda p: p.name)
def test_versions_pin_terraform_and_the_aws_provider_major(directory):
    (terraform,) = parse(directory / "versions.tf")["terraform"]
    assert strip(terraform["required_version"]) == ">= 1.10"
    providers = {
        k: v for entry in terraform["required_providers"] for k, v in entry.items() if k != "__is_block__"
    }
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> \d+\.0", providers["aws"]["version"]), providers["aws"]
    for name, provider in providers.items():
        assert provider["version"].startswith("~> "), name


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_variables_are_typed_described_and_validated(module):
    variables = blocks(module, "variable")
    for common in ("name", "environment", "tags"):
        assert common in variables, f"{module.name} lacks the {common} input"
    for name, body in variables.items():
        assert "type" in body, f"{module.name}.{name} has no type"
        assert len(strip(body.get("description", ""))) > 10, f"{module.name}.{name} has no description"
        needs_validation = name == "environment" or re.search(
            r"cidr|retention|instance_class|node_type", name
        )
        if needs_validation and "list" not in str(body["type"]):
            assert body.get("validation"), f"{module.name}.{name} has no validation"
    assert not re.search(r'=\s*"ap-south-1', code(module)), f"{module.name} hard-codes the region"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_every_taggable_resource_takes_the_tags_input(module):
    untagged = [
        f"{rtype}.{name}"
        for rtype, name, body in resources(module)
        if rtype not in UNTAGGABLE and "tags" not in body and "tag_specifications" not in body
    ]
    assert untagged == []
    for rtype, name, body in resources(module):
        if "tags" in body:
            assert "var.tags" in str(body["tags"]) or "local." in str(body["tags"]), f"{rtype}.{name}"


# -- wiring -------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_module_calls_pass_declared_inputs_and_every_required_one(env):
    calls = blocks(env, "module")
    assert calls, env
    for label, body in calls.items():
        directory = module_dir(env, body)
        assert directory.is_dir(), f"{env.name}: module {label} source {body['source']} does not exist"
        declared = blocks(directory, "variable")
        passed = {
            k for k in body if k not in ("source", "version", "count", "for_each", "depends_on", "providers")
        }
        passed.discard("__is_block__")
        unknown = passed - set(declared)
        assert not unknown, f"{env.name}: module {label} passes undeclared {sorted(unknown)}"
        required = {name for name, var in declared.items() if "default" not in var}
        missing = required - passed
        assert not missing, f"{env.name}: module {label} misses required {sorted(missing)}"


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_every_module_output_reference_exists(env):
    calls = blocks(env, "module")
    references = set(re.findall(r"\bmodule\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)", code(env)))
    assert references
    for label, output in references:
        assert label in calls, f"{env.name}: module.{label} is not called"
        outputs = blocks(module_dir(env, calls[label]), "output")
        assert output in outputs, (
            f"{env.name}: module.{label}.{output} is not an output of {calls[label]['source']}"
        )


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=lambda p: p.name)
def test_every_var_and_local_used_is_declared(directory):
    text = code(directory)
    used = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", text))
    declared = set(blocks(directory, "variable"))
    assert used - declared == set(), directory.name
    unused = declared - used
    assert unused == set(), f"{directory.name} declares unused variables {sorted(unused)}"
    locals_used = set(re.findall(r"\blocal\.([A-Za-z0-9_]+)", text))
    assert locals_used - locals_declared(directory) == set(), directory.name


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_every_environment_sets_region_and_tags(env):
    (provider,) = [p["aws"] for p in parse(env / "versions.tf")["provider"] if "aws" in p]
    assert provider["region"] == "${var.region}"
    assert provider["default_tags"][0]["tags"] == "${local.tags}"
    tfvars = parse(env / "terraform.tfvars")
    assert tfvars["region"] == "ap-south-1"
    assert strip(blocks(env, "variable")["region"]["default"]) == "ap-south-1"
    assert tfvars["tags"], env.name
    for label, body in blocks(env, "module").items():
        assert body.get("tags") == "${local.tags}", f"{env.name}: module {label} gets no tags"
        assert body.get("environment") == "${local.environment}", f"{env.name}: module {label}"
    backend = (TF / "backend-config" / f"{env.name}.hcl").read_text()
    assert re.search(r'(?m)^region\s*=\s*"ap-south-1"', backend)
    assert re.search(r"(?m)^use_lockfile\s*=\s*true", backend)
    assert re.search(rf'(?m)^key\s*=\s*".*/{env.name}/terraform.tfstate"', backend)
    (terraform,) = parse(env / "backend.tf")["terraform"]
    assert "s3" in str(terraform["backend"])


def test_environment_outputs_give_the_pipeline_what_it_needs():
    for env in ENVIRONMENTS:
        outputs = blocks(env, "output")
        for name in (
            "cluster_name",
            "ecr_repository_url",
            "database_secret_arn",
            "app_irsa_role_arn",
            "region",
        ):
            assert name in outputs, f"{env.name} lacks output {name}"


# -- the environments' values -------------------------------------------------------------------


def module_calls(env_name: str) -> dict[str, dict]:
    return {label: body for label, body in blocks(TF / "environments" / env_name, "module").items()}


def calls_of(env_name: str, module: str) -> list[dict]:
    return [b for b in module_calls(env_name).values() if b["source"].endswith(f"/modules/{module}")]


def test_prod_database_is_multi_az_protected_and_keeps_30_days_of_backups():
    (rds,) = calls_of("prod", "rds")
    assert rds["multi_az"] is True
    assert rds["deletion_protection"] is True
    assert rds["backup_retention_days"] == 30


def test_staging_database_is_single_az_with_7_days_of_backups():
    (rds,) = calls_of("staging", "rds")
    assert rds["multi_az"] is False
    assert rds["backup_retention_days"] == 7


def test_dev_creates_no_database_and_no_redis():
    assert calls_of("dev", "rds") == []
    assert calls_of("dev", "elasticache") == []
    assert "aws_db_instance" not in code(TF / "environments" / "dev")
    # scripts/deploy.sh opens the pods' egress to these subnets only when the output is not null.
    outputs = blocks(TF / "environments" / "dev", "output")
    assert outputs["database_subnet_cidrs"]["value"] in (None, "${null}"), outputs["database_subnet_cidrs"]


def test_environment_sizes():
    (dev_eks,) = calls_of("dev", "eks")
    (staging_eks,) = calls_of("staging", "eks")
    (prod_eks,) = calls_of("prod", "eks")
    assert dev_eks["on_demand_node_group"]["instance_types"] == ["t3.small"]
    assert len(dev_eks["node_subnet_ids"]) == 1  # nodes, pod and its EBS volume in one zone
    assert staging_eks["on_demand_node_group"]["instance_types"] == ["t3.medium"]
    assert prod_eks["on_demand_node_group"]["instance_types"] == ["m5.large"]
    assert len(prod_eks["spot_node_group"]["instance_types"]) > 1
    assert prod_eks["spot_node_group"]["max_size"] > 0
    (prod_vpc,) = calls_of("prod", "vpc")
    (dev_vpc,) = calls_of("dev", "vpc")
    assert prod_vpc["single_nat_gateway"] is False and prod_vpc["az_count"] == 3
    assert dev_vpc["single_nat_gateway"] is True
    (prod_security,) = calls_of("prod", "security")
    assert prod_security["enable_waf"] is True
    assert parse(TF / "environments" / "prod" / "terraform.tfvars")["api_allowed_cidrs"] == []


def test_vpc_cidrs_match_the_helm_values():
    import yaml

    for env, values in (("staging", "values-staging.yaml"), ("prod", "values-prod.yaml")):
        cidr = parse(TF / "environments" / env / "terraform.tfvars")["vpc_cidr"]
        prefix = ".".join(cidr.split(".")[:2])
        policy = yaml.safe_load((ROOT / "helm" / "flask-app" / values).read_text())["networkPolicy"]
        assert policy["loadBalancerCidrs"] == [f"{prefix}.{i}.0/24" for i in range(3)]
        assert policy["databaseCidrs"] == [f"{prefix}.{10 + i}.0/24" for i in range(3)]


# -- scanners -----------------------------------------------------------------------------------


def test_checkov_finds_no_failures_and_every_skip_has_a_reason():
    report = checkov(TF, "terraform")
    assert report.failed == []
    assert report.passed > 200
    for check in report.skipped:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]
    assert report.returncode == 0, report.stderr[-2000:]


def test_every_checkov_skip_in_the_code_has_a_reason():
    skips = re.findall(
        r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?", "\n".join(p.read_text() for p in TF.rglob("*.tf"))
    )
    for check_id, reason in skips:
        assert reason and len(reason.strip()) > 20, f"{check_id} is skipped without a reason"


def test_trivy_finds_no_high_or_critical_misconfiguration(tmp_path):
    # Trivy silently skips any directory named dev: scan a copy where it is not.
    tree = tmp_path / "terraform"
    shutil.copytree(TF, tree)
    (tree / "environments" / "dev").rename(tree / "environments" / "development")
    report = trivy_config(tree, "--severity", "HIGH,CRITICAL")
    assert report.failures == []
    assert any("environments/development" in t for t in report.targets), report.targets
    assert report.returncode == 0, report.stderr[-2000:]


# -- setup-backend.sh ---------------------------------------------------------------------------

FAKE_AWS = """#!/usr/bin/env bash
echo "aws $*" >> "$AWS_LOG"
case "$1 $2" in
  "sts get-caller-identity") echo 123456789012 ;;
  "kms describe-key") [ -n "$FAKE_EXISTING" ] && echo key-1 || exit 254 ;;
  "kms create-key") echo key-new ;;
  "s3api head-bucket") [ -n "$FAKE_EXISTING" ] || exit 254 ;;
  "dynamodb describe-table") [ -n "$FAKE_EXISTING" ] || exit 254 ;;
esac
"""


def run_setup(
    tmp_path: Path, *args: str, existing: bool = False
) -> tuple[subprocess.CompletedProcess, list[str]]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "aws").write_text(FAKE_AWS)
    (bindir / "aws").chmod(0o755)
    log = tmp_path / "aws.log"
    log.write_text("")
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "AWS_LOG": str(log),
        "FAKE_EXISTING": "1" if existing else "",
    }
    env.pop("AWS_REGION", None)
    result = subprocess.run(
        [str(TF / "setup-backend.sh"), *args], capture_output=True, text=True, check=False, env=env
    )
    return result, log.read_text().splitlines()


def test_setup_backend_help_and_bad_arguments(tmp_path):
    result, calls = run_setup(tmp_path, "--help")
    assert result.returncode == 0 and "--dry-run" in result.stdout
    assert calls == []
    result, _ = run_setup(tmp_path, "--frobnicate")
    assert result.returncode != 0 and "unknown argument: --frobnicate" in result.stderr


def test_setup_backend_creates_a_locked_down_bucket_and_table(tmp_path):
    result, calls = run_setup(tmp_path)
    assert result.returncode == 0, result.stderr
    text = "\n".join(calls)
    assert "s3api create-bucket --bucket flask-auth-terraform-state --region ap-south-1" in text
    assert "LocationConstraint=ap-south-1" in text
    assert (
        "put-bucket-versioning --bucket flask-auth-terraform-state --versioning-configuration Status=Enabled"
        in text
    )
    assert '"SSEAlgorithm":"aws:kms"' in text
    assert (
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true" in text
    )
    assert '"aws:SecureTransport":"false"' in text
    assert "dynamodb create-table --region ap-south-1 --table-name flask-auth-terraform-locks" in text
    assert "PointInTimeRecoveryEnabled=true" in text
    assert "Enabled=true,SSEType=KMS" in text
    assert "kms enable-key-rotation" in text


def test_setup_backend_is_idempotent(tmp_path):
    result, calls = run_setup(tmp_path, existing=True)
    assert result.returncode == 0, result.stderr
    text = "\n".join(calls)
    assert "create-bucket" not in text and "create-table" not in text and "create-key" not in text
    assert "put-bucket-versioning" in text  # settings are re-applied


def test_setup_backend_dry_run_changes_nothing(tmp_path):
    result, calls = run_setup(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert all(
        re.match(
            r"aws (sts get-caller-identity|kms describe-key|s3api head-bucket|dynamodb describe-table)", c
        )
        for c in calls
    ), calls
    assert "+ aws s3api create-bucket --bucket flask-auth-terraform-state" in result.stdout
    assert "+ aws dynamodb create-table" in result.stdout


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_the_deploy_role_can_read_the_encrypted_state(env):
    """The pipeline's deploy job reads `terraform output` with the deploy role: it needs
    kms:Decrypt on the key that encrypts the state, the one the backend names."""
    (security,) = calls_of(env.name, "security")
    assert security["state_kms_key_arn"] == "${data.aws_kms_alias.state.target_key_arn}"
    alias = strip(blocks(env, "variable")["state_kms_key_alias"]["default"])
    backend = (TF / "backend-config" / f"{env.name}.hcl").read_text()
    assert re.search(rf'(?m)^kms_key_id\s*=\s*"{re.escape(alias)}"', backend)
    assert f'KEY_ALIAS="{alias}"' in (TF / "setup-backend.sh").read_text()
