"""A moto server and a Terraform runner for executing terraform/ offline.

The environments run for real here: `terraform init` takes the AWS provider
from the machine's filesystem mirror (/opt/tf-plugins, or TF_PLUGIN_DIR), and
`plan`/`apply` talk to a moto server on 127.0.0.1 instead of AWS. A test-only
`*_override.tf` (Terraform merges it over the environment's files) swaps the S3
backend for a local one and points every service the code uses at moto.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
# TF_PROVIDERS=registry (CI): take the newest provider the constraints admit from the
# registry (`init -upgrade`, 6.x) instead of the mirror's 5.100 and the committed lock.
FROM_REGISTRY = os.environ.get("TF_PROVIDERS") == "registry"

# Every AWS service the modules call (provider endpoint names).
SERVICES = (
    "backup",
    "budgets",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "eks",
    "elasticache",
    "elbv2",
    "iam",
    "kms",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sts",
    "wafv2",
)

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Moto:
    """A running moto_server; `url` is its endpoint."""

    process: subprocess.Popen
    url: str

    @classmethod
    def start(cls, log: Path) -> Moto:
        port = free_port()
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        handle = log.open("w")
        process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):  # noqa: S310 - local moto
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        return cls(process, url)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def env(self, region: str | None = "ap-south-1") -> dict[str, str]:
        """Environment for the AWS CLI and boto3 pointed at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(CREDENTIALS, AWS_ENDPOINT_URL=self.url, AWS_CONFIG_FILE=os.devnull)
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        if region:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
        return env

    def override(self, aliases: tuple[str, ...] = ()) -> str:
        """The *_override.tf that runs an environment against this server: its default
        provider and each aliased one (`aliases`, see provider_aliases) on moto."""
        endpoints = "\n".join(f'      {name} = "{self.url}"' for name in SERVICES)
        providers = "\n".join(self._provider(endpoints, alias) for alias in (None, *aliases))
        return f"""# Test only: local state, every service on moto.
terraform {{
  backend "local" {{}}
}}
{providers}"""

    @staticmethod
    def _provider(endpoints: str, alias: str | None) -> str:
        # An override must match an existing block: an alias only where the environment has it.
        label = f'\n  alias                       = "{alias}"' if alias else ""
        return f"""
provider "aws" {{{label}
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


def provider_aliases(directory: Path) -> tuple[str, ...]:
    """The aliases of the AWS provider configured in a root module's *.tf (not overrides),
    e.g. prod's backup_copy: Moto.override needs to point each at moto too."""
    text = "\n".join(p.read_text() for p in sorted(directory.glob("*.tf")) if not p.stem.endswith("override"))
    return tuple(re.findall(r'(?ms)^provider "aws" \{[^}]*?^\s*alias\s*=\s*"([^"]+)"', text))


# Kept from the caller's environment: a shared plugin cache saves CI one provider download per init.
KEPT_TF_VARIABLES = ("TF_PLUGIN_CACHE_DIR", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE")


def terraform_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_")) or k in KEPT_TF_VARIABLES}
    env.update(TF_CLI_CONFIG_FILE=os.devnull, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return env


def terraform(directory: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    terraform_bin = shutil.which("terraform")
    assert terraform_bin, "terraform is not installed (the machine image ships 1.11)"
    result = subprocess.run(
        [terraform_bin, f"-chdir={directory}", *args, "-no-color"],
        capture_output=True,
        text=True,
        check=False,
        env=terraform_env(),
    )
    if check:
        assert result.returncode == 0, f"terraform {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr}"
    return result


def init(directory: Path, *args: str) -> subprocess.CompletedProcess:
    if FROM_REGISTRY:
        # -upgrade rewrites the copy's lock for 6.x: the committed one cannot also be read-only.
        args = tuple(a for a in args if a != "-lockfile=readonly")
        return terraform(directory, "init", "-input=false", "-upgrade", *args)
    return terraform(directory, "init", "-input=false", f"-plugin-dir={PLUGIN_DIR}", *args)


def aws_provider_version(directory: Path) -> str:
    """The AWS provider version an initialised directory selected."""
    selections = json.loads(terraform(directory, "version", "-json").stdout)["provider_selections"]
    return selections["registry.terraform.io/hashicorp/aws"]


def plan_json(directory: Path, *args: str) -> dict:
    """`terraform plan` to a file, then the plan as `terraform show -json` sees it."""
    terraform(directory, "plan", "-input=false", "-lock=false", "-out=tfplan", *args)
    return json.loads(terraform(directory, "show", "-json", "tfplan").stdout)


def planned(plan: dict) -> dict[str, dict]:
    """{address: planned values} of every resource in the plan, modules included."""
    found = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            found[resource["address"]] = resource.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return found


# moto's EKS has clusters and node groups but no add-ons, add-on versions or access
# entries (their API paths answer 404). For an apply, this override (written into a copy
# of modules/eks) empties exactly those resources; everything else is applied as written.
# The plans keep them: a plan does not call those APIs before the cluster exists.
EKS_GAPS_OVERRIDE = """# Test only: what moto's EKS does not emulate.
resource "aws_eks_addon" "before_nodes" {
  for_each = {}
}

resource "aws_eks_addon" "after_nodes" {
  for_each = {}
}

data "aws_eks_addon_version" "this" {
  for_each = toset([])
}

resource "aws_eks_access_entry" "admin" {
  for_each = {}
}

resource "aws_eks_access_entry" "deployer" {
  for_each = {}
}
"""

# moto's Budgets creates and describes budgets and notifications but not their
# subscribers (DescribeSubscribersForNotification), which the provider reads back,
# retrying without end. For an apply, this override (written into a copy of
# modules/monitoring) leaves the budget out; the plans keep it.
BUDGETS_GAPS_OVERRIDE = """# Test only: what moto's Budgets does not emulate.
resource "aws_budgets_budget" "monthly" {
  count = 0
}
"""
