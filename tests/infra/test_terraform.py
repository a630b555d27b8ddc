"""terraform/: formatted, validated, planned against an AWS emulator, and scanned.

`terraform init` takes the AWS provider from the filesystem mirror (5.100 at
/opt/tf-plugins; CI also runs it on 6.x), `terraform validate` checks every
environment's wiring, and `terraform plan` of each environment runs against a
moto server (tests/support/aws_emulator.py). python-hcl2 remains only for the
value checks validate cannot make (prod's Multi-AZ, the sizes). Checkov and
Trivy scan the whole tree; setup-backend.sh runs against moto.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from functools import cache
from pathlib import Path

import boto3
import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.support.aws_emulator import (
    BUDGETS_GAPS_OVERRIDE,
    EKS_GAPS_OVERRIDE,
    FROM_REGISTRY,
    Moto,
    aws_provider_version,
    init,
    plan_json,
    planned,
    provider_aliases,
    terraform,
)
from tests.support.scanners import checkov, trivy_config

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
MODULES = sorted(p for p in (TF / "modules").iterdir() if p.is_dir())
ENVIRONMENTS = [TF / "environments" / name for name in ("dev", "staging", "prod")]
BIN = ROOT / ".venv" / "bin"
OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)

# Resource types that take no `tags` argument (everything else must set it).
UNTAGGABLE = {
    "aws_backup_selection",
    "aws_backup_vault_notifications",
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
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_vpc_endpoint_route_table_association",
    "aws_wafv2_web_acl_logging_configuration",
    "terraform_data",
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


def test_the_layout_is_complete():
    assert {m.name for m in MODULES} == {
        "platform",
        "vpc",
        "eks",
        "rds",
        "security",
        "kms",
        "github_oidc",
        "waf",
        "ecr",
        "elasticache",
        "monitoring",
        "backup",
    }
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
def test_versions_admit_the_mirrors_5_100_and_6_x_and_no_other_provider(directory):
    """The mirror here has 5.100 only, GitHub's runners get 6.x: the code must take both,
    and no provider that is not available offline (tls, random) may come back."""
    (terraform_block,) = parse(directory / "versions.tf")["terraform"]
    assert strip(terraform_block["required_version"]) == ">= 1.10"
    providers = {
        k: v
        for entry in terraform_block["required_providers"]
        for k, v in entry.items()
        if k != "__is_block__"
    }
    assert set(providers) == {"aws"}, directory.name
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert providers["aws"]["version"] == ">= 5.100, < 7.0"


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


# -- init and validate (the real wiring check) -------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of terraform/, so init's .terraform directories stay out of the repository."""
    copy = tmp_path_factory.mktemp("tf") / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan"))
    return copy


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_init_from_the_mirror_with_the_committed_lock_and_validate(tree, env):
    directory = tree / "environments" / env.name
    # -lockfile=readonly: the committed lock must already admit the provider init installs.
    init(directory, "-backend=false", "-lockfile=readonly")
    version = aws_provider_version(directory)
    # The mirror's 5.100.0 here; the newest 6.x when CI runs with TF_PROVIDERS=registry.
    assert version.startswith("6.") if FROM_REGISTRY else version == "5.100.0", version
    result = terraform(directory, "validate", "-json", check=False)
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_each_environment_commits_a_lock_file_that_ci_can_upgrade_within(env):
    """The lock holds the mirror's 5.100.0 (h1 hash, linux_amd64): what CI installs by default.
    Its constraints admit 6.x, so the workflow's `init -upgrade` may move to 6.x for the
    emulator plan without editing the code."""
    lock = (env / ".terraform.lock.hcl").read_text()
    (block,) = re.findall(r'provider "registry\.terraform\.io/hashicorp/(\w+)"', lock)
    assert block == "aws"
    assert re.search(r'(?m)^\s*version\s*=\s*"5\.100\.0"$', lock)
    assert re.search(r'(?m)^\s*constraints\s*=\s*">= 5\.100\.0, < 7\.0\.0"$', lock)
    assert re.search(r'"h1:[A-Za-z0-9+/=]{40,}"', lock)
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--error-unmatch", str(env / ".terraform.lock.hcl")],
        capture_output=True,
        check=False,
    )
    assert tracked.returncode == 0, f"{env.name}/.terraform.lock.hcl is not committed"


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=lambda p: p.name)
def test_every_declared_variable_is_used(directory):
    """validate accepts an unused variable; a forgotten input is a setting that silently does nothing."""
    text = code(directory)
    used = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", text))
    unused = set(blocks(directory, "variable")) - used
    assert unused == set(), f"{directory.name} declares unused variables {sorted(unused)}"


# -- the environments' values -------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_every_environment_sets_region_and_tags(env):
    providers = [p["aws"] for p in parse(env / "versions.tf")["provider"] if "aws" in p]
    (provider,) = [p for p in providers if "alias" not in p]
    assert provider["region"] == "${var.region}"
    # One tagging mechanism: every module tags its resources with local.tags (the
    # every_taggable_resource test), so no provider, aliased (the backup copy region)
    # or not, adds default_tags on top.
    assert not any("default_tags" in configured for configured in providers)
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
            "plan_role_arn",
            "external_dns_role_arn",
            # scripts/db-restore-drill.sh finds the latest snapshot with these.
            "alerts_topic_arn",
            "backup_vault_name",
            "db_instance_identifier",
        ):
            assert name in outputs, f"{env.name} lacks output {name}"
    # Null without a database (dev: create_database = false), from the module otherwise.
    platform = blocks(TF / "modules" / "platform", "output")
    assert platform["backup_vault_name"]["value"] == "${one(module.backup[*].vault_name)}"
    assert platform["db_instance_identifier"]["value"] == "${one(module.rds[*].db_instance_identifier)}"
    for env in ENVIRONMENTS:
        outputs = blocks(env, "output")
        for name in ("backup_vault_name", "db_instance_identifier"):
            assert outputs[name]["value"] == f"${{module.platform.{name}}}", env.name


PLATFORM = TF / "modules" / "platform"


def test_each_environment_root_calls_the_platform_module_once():
    for env in ENVIRONMENTS:
        (call,) = blocks(env, "module").values()
        assert call["source"] == "../../modules/platform", env.name
        assert parse(env / "terraform.tfvars")["environment"] == env.name


def calls_of(module: str) -> list[dict]:
    """modules/platform's calls of a child module."""
    return [b for b in blocks(PLATFORM, "module").values() if b["source"] == f"../{module}"]


def settings(env_name: str) -> dict:
    """The environment's values: its terraform.tfvars over the root's variable defaults."""
    defaults = {
        name: body.get("default") for name, body in blocks(TF / "environments" / env_name, "variable").items()
    }
    return {**defaults, **parse(TF / "environments" / env_name / "terraform.tfvars")}


def test_prod_database_is_multi_az_protected_and_keeps_30_days_of_backups():
    (rds,) = calls_of("rds")
    assert rds["multi_az"] == "${var.database.multi_az}"
    database = settings("prod")["database"]
    assert settings("prod")["create_database"] is True
    assert database["multi_az"] is True
    assert database["deletion_protection"] is True
    assert database["backup_retention_days"] == 30


def test_staging_database_is_single_az_with_7_days_of_backups():
    database = settings("staging")["database"]
    assert settings("staging")["create_database"] is True
    assert database["multi_az"] is False
    assert database["backup_retention_days"] == 7


def test_dev_creates_no_database_and_no_redis():
    assert settings("dev")["create_database"] is False
    assert settings("dev")["create_cache"] is False
    (rds,) = calls_of("rds")
    (elasticache,) = calls_of("elasticache")
    assert rds["count"] == "${var.create_database ? 1 : 0}"
    assert elasticache["count"] == "${var.create_cache ? 1 : 0}"
    assert "aws_db_instance" not in code(TF / "environments" / "dev")
    # scripts/deploy.sh opens the pods' egress to these subnets only when the output is not null
    # (the dev plan against moto checks the planned value).
    output = blocks(PLATFORM, "output")["database_subnet_cidrs"]["value"]
    assert output == "${var.create_database || var.create_cache ? module.vpc.database_subnet_cidrs : null}"


def test_environment_sizes():
    dev, staging, prod = settings("dev"), settings("staging"), settings("prod")
    assert dev["cluster"]["node_groups"]["on_demand"]["instance_types"] == ["t3.small"]
    assert dev["nodes_in_one_zone"] is True  # nodes, pod and its EBS volume in one zone
    (eks,) = calls_of("eks")
    assert eks["node_subnet_ids"] == "${var.nodes_in_one_zone ? [module.vpc.private_subnet_ids[0]] : []}"
    assert staging["cluster"]["node_groups"]["on_demand"]["instance_types"] == ["t3.medium"]
    assert prod["cluster"]["node_groups"]["on_demand"]["instance_types"] == ["m5.large"]
    assert len(prod["cluster"]["node_groups"]["spot"]["instance_types"]) > 1
    assert prod["cluster"]["node_groups"]["spot"]["max_size"] > 0
    assert prod["network"]["single_nat_gateway"] is False and prod["network"]["az_count"] == 3
    assert dev["network"]["single_nat_gateway"] is True
    assert prod["waf"]["enabled"] is True
    assert parse(TF / "environments" / "prod" / "terraform.tfvars")["cluster"]["api_allowed_cidrs"] == []


def test_the_alb_lookup_names_the_ingress_group_of_the_helm_values():
    """modules/monitoring finds the controller's ALB by its ingress.k8s.aws/stack tag, the
    IngressGroup: the chart's ingress.groupName must be what each environment passes."""
    import yaml

    for env in ("dev", "staging", "prod"):
        (monitoring,) = calls_of("monitoring")
        assert monitoring["alb_ingress_group"] == "${var.name}", env
        name = parse(TF / "environments" / env / "terraform.tfvars")["name"]
        values = yaml.safe_load((ROOT / "helm" / "flask-app" / f"values-{env}.yaml").read_text())
        assert values["ingress"]["groupName"] == name, env


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


# -- setup-backend.sh, against moto -------------------------------------------------------------

BUCKET = "flask-auth-terraform-state"
TABLE = "flask-auth-terraform-locks"
STATE_KEY_ALIAS = "alias/flask-auth-terraform-state"


@pytest.fixture
def moto(tmp_path):
    server = Moto.start(tmp_path / "moto.log")
    yield server
    server.stop()


def run_setup(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TF / "setup-backend.sh"), *args], capture_output=True, text=True, check=False, env=env
    )


def client(server: Moto, service: str):
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="ap-south-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_setup_backend_help_and_bad_arguments(moto):
    result = run_setup(moto.env(), "--help")
    assert result.returncode == 0 and "--dry-run" in result.stdout
    result = run_setup(moto.env(), "--frobnicate")
    assert result.returncode != 0 and "unknown argument: --frobnicate" in result.stderr


def test_setup_backend_with_no_region_configured_builds_the_backend_in_ap_south_1_twice(moto):
    """No AWS_REGION and no config file (a fresh operator machine): the script's documented
    default region applies to every call, including sts. Run twice: the second run finds
    everything and creates nothing, and the settings are still those of a locked-down backend."""
    env = moto.env(region=None)
    first = run_setup(env)
    assert first.returncode == 0, first.stderr
    assert "creating bucket" in first.stderr and "region ap-south-1" in first.stderr
    second = run_setup(env)
    assert second.returncode == 0, second.stderr
    assert "creating" not in second.stderr
    for line in (
        f"KMS key {STATE_KEY_ALIAS} exists",
        f"bucket {BUCKET} exists",
        f"lock table {TABLE} exists",
    ):
        assert line in second.stderr

    kms = client(moto, "kms")
    aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == STATE_KEY_ALIAS]
    assert len(aliases) == 1 and len(kms.list_keys()["Keys"]) == 1
    key_id = aliases[0]["TargetKeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True

    s3 = client(moto, "s3")
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "ap-south-1"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    dynamodb = client(moto, "dynamodb")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    backups = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_setup_backend_without_credentials_says_what_the_cli_said(moto):
    env = moto.env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = run_setup(env)
    assert result.returncode != 0
    assert "cannot identify the AWS account in ap-south-1" in result.stderr
    assert "Unable to locate credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_setup_backend_dry_run_changes_nothing(moto):
    result = run_setup(moto.env(), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"+ aws s3api create-bucket --bucket {BUCKET}" in result.stdout
    assert "+ aws dynamodb create-table" in result.stdout
    assert client(moto, "s3").list_buckets()["Buckets"] == []
    assert client(moto, "dynamodb").list_tables()["TableNames"] == []
    assert client(moto, "kms").list_keys()["Keys"] == []


# -- plans and IAM, executed against moto -------------------------------------------------------

# What a new account gets first: each environment's GitHub roles, dev before staging.
ROLE_TARGETS = (
    "-target=module.platform.module.github_oidc.aws_iam_role_policy.github",
    "-target=module.platform.module.github_oidc.aws_iam_role_policy_attachment.plan_read_only",
)


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """One moto account: the backend from setup-backend.sh, then dev's and staging's GitHub
    roles applied in that order (terraform apply -target), each environment initialised with
    the test-only override (local state, every endpoint on moto). Yields the server, the
    environments' directories and the two apply results."""
    base = tmp_path_factory.mktemp("moto")
    server = Moto.start(base / "moto.log")
    try:
        setup = run_setup(server.env())
        assert setup.returncode == 0, setup.stderr
        copy = base / "terraform"
        shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan"))
        dirs = {}
        for env in ENVIRONMENTS:
            directory = copy / "environments" / env.name
            (directory / "moto_override.tf").write_text(server.override(provider_aliases(directory)))
            init(directory)
            dirs[env.name] = directory
        applies = {
            name: terraform(dirs[name], "apply", "-input=false", "-auto-approve", *ROLE_TARGETS, check=False)
            for name in ("dev", "staging")
        }
        yield server, dirs, applies
    finally:
        server.stop()


def role_policy(server: Moto, role: str, name: str) -> dict[str, dict]:
    """{Sid: statement} of a role's inline policy, as IAM (moto) stores it."""
    document = client(server, "iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return {statement["Sid"]: statement for statement in document["Statement"]}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_dev_then_staging_in_one_account_share_one_github_oidc_provider(account):
    server, _, applies = account
    for name, result in applies.items():
        assert result.returncode == 0, f"{name}: {result.stdout[-2000:]}{result.stderr}"
    iam = client(server, "iam")
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    for env in ("dev", "staging"):
        for role in (f"flask-auth-{env}-github-deploy", f"flask-auth-{env}-github-plan"):
            trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
            trust = json.loads(trust) if isinstance(trust, str) else trust
            (statement,) = trust["Statement"]
            assert statement["Principal"]["Federated"] == provider["Arn"], role
            subject = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
            event = f"environment:{env}" if role.endswith("deploy") else "pull_request"
            assert as_list(subject) == [f"repo:flask-auth/flask-auth:{event}"], role


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_each_environments_roles_read_only_its_own_state(account, env):
    """The deploy and plan roles of one environment read its state and no other's
    (another environment's state holds its Redis AUTH token)."""
    server, _, _ = account
    backend = (TF / "backend-config" / f"{env}.hcl").read_text()
    (key,) = re.findall(r'(?m)^key\s*=\s*"([^"]+)"', backend)
    for role, policy in (
        (f"flask-auth-{env}-github-deploy", "github-deploy"),
        (f"flask-auth-{env}-github-plan", "github-plan"),
    ):
        statements = role_policy(server, role, policy)
        (resource,) = as_list(statements["TerraformStateRead"]["Resource"])
        assert resource == f"arn:aws:s3:::{BUCKET}/flask-auth/{env}/*", role
        assert key.startswith(resource.removeprefix(f"arn:aws:s3:::{BUCKET}/").rstrip("*")), role
        readable = [
            s
            for s in statements.values()
            if any("s3:GetObject" in a or a == "s3:*" for a in as_list(s["Action"]))
        ]
        assert readable == [statements["TerraformStateRead"]], role


def test_the_plan_role_refreshes_its_own_redis_secret_and_no_other(account):
    server, _, _ = account
    iam = client(server, "iam")
    for env in ("dev", "staging"):
        role = f"flask-auth-{env}-github-plan"
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        statements = role_policy(server, role, "github-plan")
        assert as_list(statements["GenerateRandomPassword"]["Action"]) == ["secretsmanager:GetRandomPassword"]
        if env == "dev":  # no Redis in dev: no secret value at all
            assert not any(
                "secretsmanager:GetSecretValue" in as_list(s["Action"]) for s in statements.values()
            )
            continue
        (resource,) = as_list(statements["RefreshOwnSecretValues"]["Resource"])
        assert resource == (
            "arn:aws:secretsmanager:ap-south-1:123456789012:secret:flask-auth-staging/redis/ratelimit-storage-uri-??????"
        )
        (key,) = as_list(statements["DecryptOwnSecretValues"]["Resource"])
        assert key.startswith("arn:aws:kms:ap-south-1:123456789012:key/")


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_plan_against_the_emulator(account, env):
    _, dirs, _ = account
    plan = plan_json(dirs[env.name])
    values = planned(plan)
    creates = {c["address"] for c in plan["resource_changes"] if "create" in c["change"]["actions"]}
    assert len(creates) > 100, env.name

    # metrics-server, as an EKS add-on, so the HPA has a metrics API.
    addon = values['module.platform.module.eks.aws_eks_addon.after_nodes["metrics-server"]']
    assert addon["addon_name"] == "metrics-server" and addon["cluster_name"] == f"flask-auth-{env.name}"
    # The account's GitHub OIDC provider: created by dev only.
    github_oidc = "module.platform.module.github_oidc.aws_iam_openid_connect_provider.github[0]"
    assert (github_oidc in values) is (env.name == "dev")
    assert not any(
        a.startswith("module.platform.module.github_oidc.aws_iam_openid_connect_provider") for a in creates
    )

    if env.name == "dev":
        assert not any(
            a.startswith(("module.platform.module.rds[", "module.platform.module.elasticache["))
            for a in values
        )
        # scripts/deploy.sh opens the pods' egress to the database subnets only when this is not null.
        assert plan["planned_values"]["outputs"]["database_subnet_cidrs"].get("value") is None
    else:
        # The secret the plan role may read is the one the module creates.
        secret = values["module.platform.module.elasticache[0].aws_secretsmanager_secret.url"]
        assert secret["name"] == f"flask-auth-{env.name}/redis/ratelimit-storage-uri"
        database = values["module.platform.module.rds[0].aws_db_instance.this"]
        assert database["multi_az"] is (env.name == "prod")
        assert database["storage_encrypted"] is True
        # The major only, with AWS's minor upgrades: a pinned minor would be planned back after one.
        assert database["engine_version"] == "16" and database["auto_minor_version_upgrade"] is True
        redis = values["module.platform.module.elasticache[0].aws_elasticache_replication_group.this"]
        assert redis["transit_encryption_enabled"] is True
        assert redis["automatic_failover_enabled"] is (env.name == "prod")


@pytest.mark.parametrize(
    ("env_name", "name", "refusal"),
    [
        ("dev", "flask-auth-", "not ending with a hyphen"),
        ("dev", "flask--auth", 'without "--"'),
        ("dev", "Flask-auth", "lower-case letters"),
        # 35 characters: <name>-redis would be 41, over ElastiCache's 40.
        ("staging", "flask-auth-staging-" + "x" * 16, "With create_cache, name must be at most 34"),
    ],
)
def test_a_name_the_identifiers_cannot_take_is_refused_by_the_plan(account, env_name, name, refusal):
    _, dirs, _ = account
    plan = ("plan", "-input=false", "-lock=false", f"-var=name={name}")
    result = terraform(dirs[env_name], *plan, check=False)
    assert result.returncode != 0
    assert refusal in " ".join(result.stderr.split()), result.stderr[-3000:]


# -- alerts, budgets and backups, planned against moto ---------------------------------------

# Each environment's topic (and prod's copy vault) applied first, so their ARNs are known
# in the plans: the wiring is then checked on values, not on references.
ALERTING_TARGETS = {
    "staging": ("-target=module.platform.module.monitoring.aws_sns_topic.alerts",),
    "prod": (
        "-target=module.platform.module.monitoring.aws_sns_topic.alerts",
        "-target=module.platform.module.backup[0].aws_backup_vault.copy",
    ),
}
# This account has no dev to create the GitHub OIDC provider staging and prod look up.
OWN_OIDC = "-var=create_github_oidc_provider=true"


def state_key_and_tree(server: Moto, base: Path) -> Path:
    """setup-backend.sh's state key (the environments look its alias up) in moto, and a copy
    of terraform/ under base to run in; returns the copy."""
    kms = client(server, "kms")
    kms.create_alias(AliasName=STATE_KEY_ALIAS, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    copy = base / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan"))
    return copy


def controller_alb(server: Moto, cluster: str, group: str) -> str:
    """An ALB as the AWS Load Balancer Controller leaves it (its tags); returns its ARN suffix."""
    ec2 = client(server, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=f"ap-south-1{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    # Another ALB of the same cluster (another IngressGroup) that the lookup must not take.
    for name, stack in (("k8s-other-0123456789", "other"), ("k8s-flaskauth-0123456789", group)):
        (balancer,) = client(server, "elbv2").create_load_balancer(
            Name=name,
            Subnets=subnets,
            Tags=[
                {"Key": "elbv2.k8s.aws/cluster", "Value": cluster},
                {"Key": "ingress.k8s.aws/stack", "Value": stack},
            ],
        )["LoadBalancers"]
    return balancer["LoadBalancerArn"].split(":loadbalancer/")[1]


@pytest.fixture(scope="module")
def alerting(tmp_path_factory):
    """One moto account. staging: its topic applied, then moved in the state to where the
    code before modules/monitoring kept it (module.rds.aws_sns_topic.alarms), as in an
    environment applied before. prod: its topic and copy vault applied, and the
    controller's ALB present, planned with alb_exists = true. dev: planned as is.
    Yields the server, {env: plan} and the prod ALB's ARN suffix."""
    base = tmp_path_factory.mktemp("alerting")
    server = Moto.start(base / "moto.log")
    try:
        copy = state_key_and_tree(server, base)
        plans = {}
        suffix = controller_alb(server, "flask-auth-prod", "flask-auth-prod")
        for env in ("dev", "staging", "prod"):
            directory = copy / "environments" / env
            (directory / "moto_override.tf").write_text(server.override(provider_aliases(directory)))
            init(directory)
            options = () if env == "dev" else (OWN_OIDC,)
            if env in ALERTING_TARGETS:
                terraform(
                    directory, "apply", "-input=false", "-auto-approve", *ALERTING_TARGETS[env], *options
                )
            if env == "staging":
                terraform(
                    directory,
                    "state",
                    "mv",
                    "module.platform.module.monitoring.aws_sns_topic.alerts",
                    "module.rds.aws_sns_topic.alarms",
                )
            if env == "prod":
                options = (*options, "-var=alb_exists=true")
            plans[env] = plan_json(directory, *options)
        yield server, plans, suffix
    finally:
        server.stop()


def topic_of(values: dict[str, dict]) -> str:
    return values["module.platform.module.monitoring.aws_sns_topic.alerts"]["arn"]


def alarms_of(values: dict[str, dict]) -> dict[str, dict]:
    return {a: v for a, v in values.items() if ".aws_cloudwatch_metric_alarm." in a}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_alarm_the_budget_and_backup_failures_go_to_the_environments_topic(alerting, env):
    _, plans, _ = alerting
    values = planned(plans[env])
    topic = topic_of(values)
    assert topic == f"arn:aws:sns:ap-south-1:123456789012:flask-auth-{env}-postgres-alarms"
    # The topic is the monitoring module's, encrypted with modules/kms's alerts key; RDS has none of its own.
    assert (
        values["module.platform.module.monitoring.aws_sns_topic.alerts"]["kms_master_key_id"]
        == (values['module.platform.module.kms.aws_kms_key.this["alerts"]']["arn"])
    )
    assert not any(a.startswith("module.platform.module.rds[0].aws_sns_topic") for a in values)
    alarms = alarms_of(values)
    expected = {
        f'module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["postgres-{k}"]'
        for k in ("cpu", "free-storage", "connections")
    }
    if env == "prod":
        expected |= {
            f'module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["{k}"]'
            for k in ("alb-target-5xx", "alb-p99-latency", "alb-unhealthy-hosts", "waf-blocked-requests")
        }
    assert set(alarms) == expected
    for address, alarm in alarms.items():
        assert alarm["alarm_actions"] == [topic], address
        assert alarm["ok_actions"] == [topic], address
    budget = values["module.platform.module.monitoring.aws_budgets_budget.monthly"]
    assert all(n["subscriber_sns_topic_arns"] == [topic] for n in budget["notification"])
    assert (
        values["module.platform.module.backup[0].aws_backup_vault_notifications.this"]["sns_topic_arn"]
        == topic
    )
    # The topic policy lets the three publishing services of this account in.
    (service,) = [
        s
        for s in json.loads(
            values["module.platform.module.monitoring.aws_sns_topic_policy.alerts"]["policy"]
        )["Statement"]
        if "Service" in s["Principal"]
    ]
    assert set(service["Principal"]["Service"]) == {
        "cloudwatch.amazonaws.com",
        "budgets.amazonaws.com",
        "backup.amazonaws.com",
    }
    assert service["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_the_rds_topic_moves_into_monitoring_without_being_replaced(alerting):
    _, plans, _ = alerting
    changes = {c["address"]: c for c in plans["staging"]["resource_changes"]}
    topic = changes["module.platform.module.monitoring.aws_sns_topic.alerts"]
    assert topic["previous_address"] == "module.rds.aws_sns_topic.alarms"
    assert topic["change"]["actions"] == ["no-op"]
    assert not any(a.startswith("module.platform.module.rds[0].aws_sns_topic") for a in changes)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_one_monthly_budget_warns_at_80_forecast_and_100_actual(alerting, env):
    _, plans, _ = alerting
    budget = planned(plans[env])["module.platform.module.monitoring.aws_budgets_budget.monthly"]
    amount = parse(TF / "environments" / env / "terraform.tfvars")["alerts"]["monthly_budget_usd"]
    assert (budget["budget_type"], budget["time_unit"], budget["limit_unit"]) == ("COST", "MONTHLY", "USD")
    assert float(budget["limit_amount"]) == amount
    assert {(n["notification_type"], n["threshold"]) for n in budget["notification"]} == {
        ("FORECASTED", 80),
        ("ACTUAL", 100),
    }
    for notification in budget["notification"]:
        assert notification["threshold_type"] == "PERCENTAGE"
        assert notification["comparison_operator"] == "GREATER_THAN"
    assert budget["cost_filter"] == [{"name": "TagKeyValue", "values": [f"user:Environment${env}"]}]
    # Each environment's amount is its own.
    amounts = {
        parse(TF / "environments" / e / "terraform.tfvars")["alerts"]["monthly_budget_usd"]
        for e in ("dev", "staging", "prod")
    }
    assert len(amounts) == 3


def test_the_alb_alarms_watch_the_controllers_alb_found_by_its_tags(alerting):
    _, plans, suffix = alerting
    values = planned(plans["prod"])
    assert suffix.startswith("app/k8s-flaskauth-0123456789/")
    latency = values['module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["alb-p99-latency"]']
    assert latency["extended_statistic"] == "p99" and latency["statistic"] in (None, "")
    assert latency["metric_name"] == "TargetResponseTime"
    assert latency["dimensions"] == {"LoadBalancer": suffix}
    assert latency["threshold"] == 1  # prod's tfvars, stricter than the module's 1.5
    errors = values['module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["alb-target-5xx"]']
    queries = {q["id"]: q for q in errors["metric_query"]}
    assert {queries[i]["metric"][0]["metric_name"] for i in ("errors", "requests")} == {
        "HTTPCode_Target_5XX_Count",
        "RequestCount",
    }
    assert all(
        queries[i]["metric"][0]["dimensions"] == {"LoadBalancer": suffix} for i in ("errors", "requests")
    )
    assert (
        queries["ratio"]["return_data"] is True
        and "100 * FILL(errors, 0) / requests" in queries["ratio"]["expression"]
    )
    assert errors["threshold"] == 2
    unhealthy = values[
        'module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["alb-unhealthy-hosts"]'
    ]
    (query,) = unhealthy["metric_query"]
    assert "MAX(UnHealthyHostCount)" in query["expression"]
    assert query["expression"].endswith(f"WHERE LoadBalancer = '{suffix}'")
    waf = values['module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["waf-blocked-requests"]']
    acl = values["module.platform.module.waf.aws_wafv2_web_acl.this[0]"]
    assert waf["dimensions"] == {
        "WebACL": acl["visibility_config"][0]["metric_name"],
        "Rule": "ALL",
        "Region": "ap-south-1",
    }
    assert (waf["namespace"], waf["metric_name"], waf["statistic"]) == ("AWS/WAFV2", "BlockedRequests", "Sum")


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_no_alb_alarm_before_the_alb_exists_and_no_waf_alarm_without_waf(alerting, env):
    _, plans, _ = alerting
    values = planned(plans[env])
    # The database's alarms (staging) are the only ones.
    assert {a for a in alarms_of(values) if a.startswith("module.platform.module.monitoring.")} == (
        {
            f'module.platform.module.monitoring.aws_cloudwatch_metric_alarm.this["postgres-{k}"]'
            for k in ("cpu", "free-storage", "connections")
        }
        if env == "staging"
        else set()
    )
    assert not any(a.startswith("module.platform.module.monitoring.data.aws_lb") for a in values)


def test_backups_staging_daily_for_a_week_prod_35_days_copied_to_singapore_dev_none(alerting):
    _, plans, _ = alerting
    dev = planned(plans["dev"])
    assert not any(a.startswith("module.platform.module.backup[0].") for a in dev)
    # Nor the vault's key, which modules/kms creates only with the backups.
    assert 'module.platform.module.kms.aws_kms_key.this["backup"]' not in dev
    assert "aws_backup" not in code(TF / "environments" / "dev")

    for env, retention in (("staging", 7), ("prod", 35)):
        values = planned(plans[env])
        (rule,) = values["module.platform.module.backup[0].aws_backup_plan.this"]["rule"]
        assert rule["schedule"] == "cron(30 22 * * ? *)"  # 04:00 IST, after the RDS windows
        assert rule["target_vault_name"] == f"flask-auth-{env}"
        assert rule["lifecycle"][0]["delete_after"] == retention
        vault = values["module.platform.module.backup[0].aws_backup_vault.this"]
        assert vault["name"] == f"flask-auth-{env}"
        assert 'module.platform.module.kms.aws_kms_key.this["backup"]' in values
        # The selection is the database (its ARN is only known after apply: read the wiring).
        platform = plans[env]["configuration"]["root_module"]["module_calls"]["platform"]["module"]
        selection = platform["module_calls"]["backup"]["expressions"]
        assert "module.rds[0].db_instance_arn" in selection["resource_arns"]["references"]
        assert "module.monitoring.topic_arn" in selection["alert_topic_arn"]["references"]
        if env == "staging":
            assert rule["copy_action"] == []
            assert not any(
                a.startswith("module.platform.module.backup[0].aws_backup_vault.copy") for a in values
            )
            continue
        (copy_action,) = rule["copy_action"]
        copy_vault = values["module.platform.module.backup[0].aws_backup_vault.copy[0]"]
        assert copy_action["destination_vault_arn"] == copy_vault["arn"]
        assert copy_vault["arn"].startswith("arn:aws:backup:ap-southeast-1:123456789012:backup-vault:")
        assert copy_vault["kms_key_arn"].startswith("arn:aws:kms:ap-southeast-1:")
        assert copy_action["lifecycle"][0]["delete_after"] == 30


def test_dev_applies_to_the_emulator_and_destroys(tmp_path):
    """The whole of dev, applied for real against moto but for the EKS add-ons and access
    entries moto lacks (EKS_GAPS_OVERRIDE), then destroyed. No "plans no change afterwards"
    check: moto does not keep an EKS cluster's access_config or upgrade_policy, nor the
    description of a security-group rule, so a second plan shows changes AWS would not."""
    server = Moto.start(tmp_path / "moto.log")
    try:
        copy = state_key_and_tree(server, tmp_path)
        kms = client(server, "kms")
        (copy / "modules" / "eks" / "moto_override.tf").write_text(EKS_GAPS_OVERRIDE)
        (copy / "modules" / "monitoring" / "moto_override.tf").write_text(BUDGETS_GAPS_OVERRIDE)
        directory = copy / "environments" / "dev"
        (directory / "moto_override.tf").write_text(server.override(provider_aliases(directory)))
        init(directory)
        terraform(directory, "apply", "-input=false", "-auto-approve", "-parallelism=20")

        applied = json.loads((directory / "terraform.tfstate").read_text())["resources"]
        assert sum(len(r["instances"]) for r in applied if r["mode"] == "managed") > 100
        outputs = json.loads(terraform(directory, "output", "-json").stdout)
        cluster = client(server, "eks").describe_cluster(name=outputs["cluster_name"]["value"])["cluster"]
        assert [c["resources"] for c in cluster["encryptionConfig"]] == [["secrets"]]
        assert cluster["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
        repository = outputs["ecr_repository_url"]["value"].rsplit("/", 1)[1]
        (described,) = client(server, "ecr").describe_repositories(repositoryNames=[repository])[
            "repositories"
        ]
        assert described["imageTagMutability"] == "IMMUTABLE"
        assert described["encryptionConfiguration"]["encryptionType"] == "KMS"
        iam = client(server, "iam")
        assert (
            iam.get_role(RoleName="flask-auth-dev-github-deploy")["Role"]["Arn"]
            == outputs["deploy_role_arn"]["value"]
        )
        # The alerts topic, encrypted with the monitoring module's key; no backup vault in dev.
        topic = outputs["alerts_topic_arn"]["value"]
        attributes = client(server, "sns").get_topic_attributes(TopicArn=topic)["Attributes"]
        assert (
            attributes["KmsMasterKeyId"]
            == kms.describe_key(KeyId="alias/flask-auth-dev-alerts")["KeyMetadata"]["Arn"]
        )
        publishers = json.loads(attributes["Policy"])["Statement"][1]["Principal"]["Service"]
        assert set(as_list(publishers)) == {
            "cloudwatch.amazonaws.com",
            "budgets.amazonaws.com",
            "backup.amazonaws.com",
        }
        assert "backup_vault_name" not in outputs  # `terraform output -json` leaves null outputs out
        assert client(server, "backup").list_backup_vaults()["BackupVaultList"] == []

        terraform(directory, "destroy", "-input=false", "-auto-approve", "-parallelism=20")
        assert json.loads((directory / "terraform.tfstate").read_text())["resources"] == []
        assert client(server, "eks").list_clusters()["clusters"] == []
        assert client(server, "iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    finally:
        server.stop()


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda p: p.name)
def test_the_deploy_role_can_read_the_encrypted_state(env):
    """The pipeline's deploy job reads `terraform output` with the deploy role: it needs
    kms:Decrypt on the key that encrypts the state, the one the backend names."""
    (github_oidc,) = calls_of("github_oidc")
    assert github_oidc["state_kms_key_arn"] == "${data.aws_kms_alias.state.target_key_arn}"
    (state_key,) = [
        d["aws_kms_alias"]["state"] for d in parse(PLATFORM / "main.tf")["data"] if "aws_kms_alias" in d
    ]
    assert state_key["name"] == "${var.state_kms_key_alias}"
    (platform,) = blocks(env, "module").values()
    assert platform["state_kms_key_alias"] == "${var.state_kms_key_alias}"
    alias = strip(blocks(env, "variable")["state_kms_key_alias"]["default"])
    backend = (TF / "backend-config" / f"{env.name}.hcl").read_text()
    assert re.search(rf'(?m)^kms_key_id\s*=\s*"{re.escape(alias)}"', backend)
    assert f'KEY_ALIAS="{alias}"' in (TF / "setup-backend.sh").read_text()


# -- the layout change keeps the applied state ---------------------------------------------------

# terraform/ as it was before modules/platform (commit 785b240: each environment called the child
# modules itself, modules/security held the keys, the GitHub roles and the WAF). Made with
# `git archive --format=tar 785b240 terraform | gzip -9n`; checked in so the test needs no history.
OLD_LAYOUT = Path(__file__).parent / "fixtures" / "terraform-785b240.tar.gz"


def old_layout(into: Path) -> Path:
    with tarfile.open(OLD_LAYOUT) as archive:
        archive.extractall(into, filter="data")
    return into / "terraform"


def managed_addresses(directory: Path) -> set[str]:
    listed = terraform(directory, "state", "list").stdout.split()
    return {a for a in listed if not a.startswith("data.") and ".data." not in a}


# What of each environment the old layout applies to moto: all of dev; staging's database
# with what it needs (the VPC, the keys, the node security group), in an account of its own
# (it creates the GitHub OIDC provider dev would have). Not its Redis: moto's ElastiCache
# keeps no member clusters, which the provider reads back after creating the group.
OLD_LAYOUT_APPLY = {
    "dev": (),
    "staging": ("-target=module.rds", OWN_OIDC),
}


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_the_old_layouts_applied_state_plans_no_replacement_in_the_new_one(tmp_path, env):
    """An environment as it was applied before modules/platform (the old layout, from the
    fixture, applied to moto: OLD_LAYOUT_APPLY), then the new layout planned against that
    state: every resource the state holds
    is moved (moved blocks) and kept, none is created again, replaced or destroyed. The new
    layout may add resources (the alerts topic and budget of modules/monitoring).

    moto does not keep everything it is given (an EKS cluster's access_config, a node group's
    remote_access, the OIDC provider's URL as sent), so even the old layout, planned against
    its own fresh state, changes some resources. That plan is the baseline: the new layout
    must plan exactly the same change for every resource the state holds, nothing more."""
    server = Moto.start(tmp_path / "moto.log")
    try:
        kms = client(server, "kms")
        kms.create_alias(AliasName=STATE_KEY_ALIAS, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
        old = old_layout(tmp_path / "old")
        (old / "modules" / "eks" / "moto_override.tf").write_text(EKS_GAPS_OVERRIDE)
        old_dev = old / "environments" / env
        (old_dev / "moto_override.tf").write_text(server.override())
        init(old_dev)
        options = tuple(o for o in OLD_LAYOUT_APPLY[env] if o.startswith("-var"))
        terraform(
            old_dev, "apply", "-input=false", "-auto-approve", "-parallelism=20", *OLD_LAYOUT_APPLY[env]
        )
        before = managed_addresses(old_dev)
        assert len(before) > (100 if env == "dev" else 15)
        assert any(a.startswith("module.security.aws_kms_key.") for a in before)
        drift = {
            change["address"]: change["change"]["actions"]
            for change in plan_json(old_dev, *options)["resource_changes"]
            if change["mode"] == "managed"
            and change["change"]["actions"] != ["no-op"]
            and change["address"] in before
        }

        new = tmp_path / "new" / "terraform"
        shutil.copytree(TF, new, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan"))
        (new / "modules" / "eks" / "moto_override.tf").write_text(EKS_GAPS_OVERRIDE)
        new_dev = new / "environments" / env
        (new_dev / "moto_override.tf").write_text(server.override(provider_aliases(new_dev)))
        shutil.copy(old_dev / "terraform.tfstate", new_dev / "terraform.tfstate")
        init(new_dev)
        plan = plan_json(new_dev, *options)

        kept = {}
        for change in plan["resource_changes"]:
            if change["mode"] != "managed":
                continue
            previous = change.get("previous_address", change["address"])
            if previous in before:
                kept[previous] = (change["address"], change["change"]["actions"])
            else:
                assert change["change"]["actions"] == ["create"], change["address"]
        assert set(kept) == before, sorted(before - set(kept))[:20]
        changed = {old: actions for old, (_, actions) in kept.items() if actions != ["no-op"]}
        if "module.rds.aws_sns_topic.alarms" in before:
            # The one intended change: modules/monitoring encrypts the topic it took over with
            # its own key (an in-place update of kms_master_key_id, the topic is kept).
            assert changed.pop("module.rds.aws_sns_topic.alarms") == ["update"]
            (topic,) = [
                c
                for c in plan["resource_changes"]
                if c.get("previous_address") == "module.rds.aws_sns_topic.alarms"
            ]
            before_values, after_values = topic["change"]["before"], topic["change"]["after"]
            updated = {k for k in before_values if before_values[k] != after_values.get(k)}
            assert updated == {"kms_master_key_id"}, updated
        # The emulator's drift and nothing else (no replacement, no update of the refactor's own).
        assert changed == drift
        # The state did move: everything now lives under module.platform.
        assert all(new_address.startswith("module.platform.module.") for new_address, _ in kept.values())
        # modules/security's keys are modules/kms's now.
        assert kept['module.security.aws_kms_key.this["rds"]'][0] == (
            'module.platform.module.kms.aws_kms_key.this["rds"]'
        )
        if env == "dev":
            assert (
                kept["module.security.aws_iam_role.deploy"][0]
                == 'module.platform.module.github_oidc.aws_iam_role.github["deploy"]'
            )
        else:
            # The switched-on database, and the alarm topic modules/monitoring took over.
            assert (
                kept["module.rds.aws_db_instance.this"][0]
                == "module.platform.module.rds[0].aws_db_instance.this"
            )
            assert (
                kept["module.rds.aws_sns_topic.alarms"][0]
                == "module.platform.module.monitoring.aws_sns_topic.alerts"
            )
    finally:
        server.stop()


# -- module READMEs ------------------------------------------------------------------------------

README_HEADINGS = ["Requirements on the caller", "Example", "Inputs", "Outputs"]


def docs_rows(section: str, heading: str) -> dict[str, list[str]]:
    """{name: cells} of the table under `## heading` in a README's generated section."""
    table = section.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        match = re.match(r"^\| `([A-Za-z0-9_]+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", match.group(2))]
    return rows


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_readme_lists_the_inputs_and_outputs_under_one_heading_set(module):
    readme = (module / "README.md").read_text()
    assert readme.startswith(f"# Module `{module.name}`\n")
    assert re.findall(r"(?m)^## (.+)$", readme) == README_HEADINGS
    (section,) = re.findall(r"(?s)<!-- BEGIN_TF_DOCS -->\n(.*?)<!-- END_TF_DOCS -->", readme)
    variables = blocks(module, "variable")
    inputs = docs_rows(section, "Inputs")
    assert list(inputs) == list(variables)
    for name, body in variables.items():
        description, _type, _default, required = inputs[name]
        assert required == ("no" if "default" in body else "yes"), name
        text = re.sub(r"(?s)^<<-?(\w+)\n(.*)\n\s*\1$", r"\2", strip(body["description"]))
        assert description.startswith(" ".join(text.split())[:40].replace("|", "\\|")), name
    assert list(docs_rows(section, "Outputs")) == list(blocks(module, "output"))


def test_module_readmes_are_what_scripts_terraform_docs_writes():
    result = subprocess.run(
        [str(BIN / "python"), str(ROOT / "scripts" / "terraform_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
