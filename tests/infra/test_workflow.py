"""The pipeline: .github/workflows (ci-cd.yml, deliver.yml), .github/actions (deploy,
terraform-plan), .github/dependabot.yml, trivy.yaml and sonar-project.properties.

The linters and scanners run for real: actionlint with shellcheck, check-jsonschema, Checkov,
zizmor (template injection, permissions, pinning, credential persistence, ... : the policy of the
workflow itself) and Trivy. The tests here check what none of them can know: that every pinned
commit is the version its comment names, the topology (each environment its own unit, one prod
approval, deploys never cancelled), and the shell steps that handle untrusted input or decide
something (targets, the branch-name sanitiser, the signature check, the role choice, the Slack
payload), run under bash against stand-ins.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ci import in_ci
from tests.support.scanners import checkov

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "ci-cd.yml"
DELIVER = WORKFLOWS / "deliver.yml"
ACTIONS = ROOT / ".github" / "actions"
DEPLOY_ACTION = ACTIONS / "deploy" / "action.yml"
PLAN_ACTION = ACTIONS / "terraform-plan" / "action.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
SONAR = ROOT / "sonar-project.properties"
PINS = Path(__file__).with_name("action_pins.json")
MIRROR = Path(os.environ.get("ACTIONS_MIRROR", "/work/.mirror"))
BIN = ROOT / ".venv" / "bin"
ENVIRONMENTS = ["dev", "staging", "prod"]
UNITS = {"dev": "dev", "staging": "staging", "prod": "prod"}  # ci-cd.yml job -> environment
DIGEST = "sha256:" + "c0" * 32
PIN = re.compile(
    r"(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})  # (?P<version>v\d+\.\d+\.\d+)"
)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


WF = load(WORKFLOW)
JOBS = WF["jobs"]
DV = load(DELIVER)
DJOBS = DV["jobs"]
DEPLOY = load(DEPLOY_ACTION)
PLAN = load(PLAN_ACTION)
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTION_FILES = sorted(ACTIONS.glob("*/action.yml"))


def triggers(doc: dict) -> dict:
    # PyYAML reads the bare key `on` as the boolean True.
    return doc.get("on", doc.get(True))


def find(steps: list[dict], *, named: str | None = None, uses: str | None = None, runs: str | None = None):
    found = [
        s
        for s in steps
        if (named is None or named in s.get("name", ""))
        and (uses is None or s.get("uses", "").startswith(uses))
        and (runs is None or runs in s.get("run", ""))
    ]
    assert len(found) == 1, f"expected one step ({named=}, {uses=}, {runs=}), found {len(found)}"
    return found[0]


def step(job: str, **how) -> dict:
    """A step of a job of ci-cd.yml, or of deliver.yml with job 'deliver:<name>'."""
    jobs = DJOBS if job.startswith("deliver:") else JOBS
    return find(jobs[job.removeprefix("deliver:")]["steps"], **how)


def action_step(action: dict, **how) -> dict:
    return find(action["runs"]["steps"], **how)


def all_jobs() -> list[tuple[str, str, dict]]:
    return [(path.name, name, job) for path in WORKFLOW_FILES for name, job in load(path)["jobs"].items()]


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


def bash(script: str, env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run(["bash", "-eo", "pipefail", "-c", script], env={"PATH": os.environ["PATH"], **env}, cwd=cwd)


def uses_lines() -> list[tuple[str, str]]:
    """(file, the text after `uses:`) for every remote action of every workflow and local action."""
    found = []
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(?:-\s+)?uses:\s*(.+)$", line)
            if match and not match.group(1).startswith(("./", "docker://")):
                found.append((str(path.relative_to(ROOT)), match.group(1).strip()))
    return found


# --------------------------------------------------------------------------------------------
# Linters and scanners, run for real
# --------------------------------------------------------------------------------------------


def test_zizmor_finds_nothing_in_any_workflow_or_action():
    zizmor = BIN / "zizmor"
    assert zizmor.exists(), "zizmor is pinned in requirements-infra.txt: run `make install-infra`"
    result = run([str(zizmor), "--offline", "--no-progress", "--format", "json", ".github/"], cwd=ROOT)
    # 0: no finding. Any finding (10+), an unreadable file or a crash is another code.
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []
    # A file zizmor skipped is no file it approved: each one must have been audited.
    audited = set(re.findall(r"completed (\S+)", result.stderr))
    expected = {str(p.relative_to(ROOT)) for p in [*WORKFLOW_FILES, *ACTION_FILES, DEPENDABOT]}
    assert expected <= audited, expected - audited


def test_zizmor_would_catch_an_injection_and_an_unpinned_action(tmp_path):
    # The scan above passing means something only if zizmor reports these here.
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v7\n        with:\n          persist-credentials: false\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--format", "json", ".github/"], cwd=tmp_path
    )
    assert result.returncode != 0
    found = {finding["ident"] for finding in json.loads(result.stdout)}
    assert {"template-injection", "unpinned-uses"} <= found, found


def test_zizmor_runs_in_lint_infra():
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"(?m)^lint-infra:.*\n((?:\t.*\n)+)", makefile).group(1)
    assert "$(BIN)/zizmor --offline --no-progress .github/" in recipe
    # pinned (and hashed: the line goes on with its --hash options)
    assert re.search(r"(?m)^zizmor==\d+\.\d+\.\d+ \\$", (ROOT / "requirements-infra.txt").read_text())


def test_actionlint_with_shellcheck_has_no_findings():
    assert (BIN / "shellcheck").exists(), "actionlint checks run: scripts only with shellcheck on PATH"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    files = [str(p.relative_to(ROOT)) for p in WORKFLOW_FILES]
    result = run([str(BIN / "actionlint"), "-no-color", *files], cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        *[("vendor.github-workflows", p) for p in WORKFLOW_FILES],
        *[("vendor.github-actions", p) for p in ACTION_FILES],
        ("vendor.dependabot", DEPENDABOT),
    ],
    ids=lambda v: v if isinstance(v, str) else str(v.relative_to(ROOT)),
)
def test_schema(schema, path):
    result = run([str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_github_actions_has_no_failed_checks(tmp_path):
    # Checkov 3 validates workflows against a copy of an old SchemaStore schema whose
    # `cancel-in-progress` is oneOf(boolean, string, expression): every expression matches two
    # branches, the file is declared invalid and silently skipped (0 resources, "no failures").
    # The copy it scans has that one value as a boolean; the assertion on `passed` proves the
    # files were really scanned.
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    expression = "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}\n"
    text = WORKFLOW.read_text()
    assert text.count(expression) == 1
    (workflows / WORKFLOW.name).write_text(text.replace(expression, "  cancel-in-progress: true\n"))
    shutil.copy(DELIVER, workflows / DELIVER.name)
    report = checkov(".github", "github_actions", cwd=tmp_path)
    assert report.failed == []
    assert report.passed > 100, report.passed
    # The dispatch input: a deploy target, see the comment in the file.
    assert [c["check_id"] for c in report.skipped] == ["CKV_GHA_7"]


def test_checkov_skips_carry_a_reason():
    for line in WORKFLOW.read_text().splitlines():
        if "checkov:skip=" in line:
            _, _, reason = line.partition("checkov:skip=")[2].partition(":")
            assert len(reason.strip()) > 20, line


# --------------------------------------------------------------------------------------------
# Every action pinned by commit, and the commit is the version the comment names
# --------------------------------------------------------------------------------------------


def pin_table() -> dict[str, dict]:
    return {repo: pin for repo, pin in json.loads(PINS.read_text()).items() if not repo.startswith("_")}


def test_every_action_is_pinned_by_commit_with_its_version():
    table = pin_table()
    lines = uses_lines()
    assert len(lines) > 30, lines  # the workflows and both composite actions were read
    for where, uses in lines:
        match = PIN.fullmatch(uses)
        assert match, f"{where}: {uses!r} is not owner/repo[/path]@<40 hex>  # vX.Y.Z"
        repo = "/".join(match["action"].split("/")[:2])
        assert repo in table, f"{where}: {repo} is not in {PINS.name}"
        assert (match["sha"], match["version"]) == (table[repo]["sha"], table[repo]["version"]), (where, uses)
    # No stale entries: the table is exactly what the files use.
    used = {"/".join(PIN.fullmatch(u)["action"].split("/")[:2]) for _, u in lines}
    assert used == set(table)


def mirror_of(repo: str) -> Path | None:
    """The snapshot of an action's repository (/work/.mirror/<owner>+<repo>/repo), any case."""
    if not MIRROR.is_dir():
        return None
    wanted = repo.replace("/", "+").lower()
    for entry in MIRROR.iterdir():
        if entry.name.lower() == wanted and (entry / "repo").is_dir():
            return entry / "repo"
    return None


def require_mirrors(repos) -> None:
    """Skip outside CI when a snapshot is missing (the pipeline's actions-resolve job checks
    the pins against GitHub); in CI (CI=true, .ci/run) a missing snapshot fails the test."""
    missing = sorted(repo for repo in repos if mirror_of(repo) is None)
    if not missing:
        return
    message = f"no snapshot of {', '.join(missing)} under {MIRROR} (set ACTIONS_MIRROR)"
    if in_ci():
        pytest.fail(message + ": CI must check the pins against the action repositories")
    pytest.skip(message + ": the pins are checked against GitHub by the actions-resolve job only")


def test_a_missing_action_snapshot_fails_in_ci_and_skips_only_outside_it(monkeypatch):
    """.ci/run sets CI=true: there the pin check cannot be skipped for want of a snapshot."""
    absent = "no-such-owner/no-such-action"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must check the pins"):
        require_mirrors([absent])
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="actions-resolve job"):
        require_mirrors([absent])


def test_the_pin_table_matches_the_action_repositories():
    table = pin_table()
    require_mirrors(table)
    for repo, pin in table.items():
        result = run(["git", "-C", str(mirror_of(repo)), "rev-parse", f"{pin['version']}^{{commit}}"])
        assert result.returncode == 0, (repo, result.stderr)
        assert result.stdout.strip() == pin["sha"], f"{repo} {pin['version']} is {result.stdout.strip()}"


def test_cosign_installer_is_a_version_that_exists():
    # The bug that stopped every build and deploy: `@v4` was never a tag of cosign-installer.
    assert pin_table()["sigstore/cosign-installer"]["version"] == "v4.1.2"
    assert all(not u.startswith("sigstore/cosign-installer@v") for _, u in uses_lines())


def resolve_job_script() -> str:
    return step("actions-resolve", named="Fetch every pinned commit")["run"]


def git_base_from_mirror(tmp_path: Path, repos: set[str]) -> Path:
    """A directory laid out like https://github.com/<owner>/<repo>, each a link to its snapshot."""
    base = tmp_path / "github"
    require_mirrors(repos)
    for repo in repos:
        (base / repo).parent.mkdir(parents=True, exist_ok=True)
        (base / repo).symlink_to(mirror_of(repo))
    return base


def test_the_resolve_job_runs_on_every_event_without_secrets():
    job = JOBS["actions-resolve"]
    assert "if" not in job  # pull requests included
    assert job["permissions"] == {"contents": "read"}
    assert job["env"]["ACTIONS_GIT_BASE"] == "https://github.com"
    script = resolve_job_script()
    assert ".github/workflows/*.yml .github/actions/*/action.yml" in script  # derived, not a list
    assert 'git -C "$work" fetch -q --depth 1 --filter=tree:0' in script and "git ls-remote --tags" in script


def run_resolve(tmp_path: Path, tree: Path) -> subprocess.CompletedProcess:
    base = git_base_from_mirror(tmp_path, set(pin_table()))
    # GitHub serves filtered fetches; a local upload-pack must be told to (the snapshots lack
    # blobs). It reads the global config of HOME (git clears GIT_CONFIG_* for a local remote).
    (tmp_path / ".gitconfig").write_text("[uploadpack]\n\tallowFilter = true\n")
    env = {"ACTIONS_GIT_BASE": f"file://{base}", "HOME": str(tmp_path)}
    return bash(resolve_job_script(), env, cwd=tree)


def test_the_resolve_job_checks_every_action_the_files_use(tmp_path):
    # The job's own script, run against the snapshots instead of GitHub.
    result = run_resolve(tmp_path, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = set(re.findall(r"^ok  (\S+)  # (\S+)$", result.stdout, re.M))
    expected = {
        (m["action"] + "@" + m["sha"], m["version"]) for m in (PIN.fullmatch(u) for _, u in uses_lines())
    }
    assert checked == expected


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  # v4.1.2", "  # v4.1.1", "the comment says v4.1.1, which is"),  # the wrong version
        (
            "6f9f17788090df1f26f669e9d70d6ae9567deba6",
            "6f9f17788090df1f26f669e9d70d6ae9567deba7",
            "no such commit",
        ),
        ("@6f9f17788090df1f26f669e9d70d6ae9567deba6  # v4.1.2", "@v4", "pin by full commit"),
    ],
    ids=["wrong-version", "unknown-commit", "a-tag"],
)
def test_the_resolve_job_fails_on_a_bad_reference(tmp_path, old, new, message):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / ".github", tree / ".github")
    action = tree / ".github" / "actions" / "deploy" / "action.yml"
    text = action.read_text()
    assert old in text
    action.write_text(text.replace(old, new, 1))
    result = run_resolve(tmp_path, tree)
    assert result.returncode != 0
    assert "::error::sigstore/cosign-installer@" in result.stdout and message in result.stdout, result.stdout


def test_dependabot_keeps_the_pins_current_in_workflows_and_actions():
    config = load(DEPENDABOT)
    (actions,) = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    directories = actions["directories"]
    assert "/" in directories  # .github/workflows
    covered = {p for d in directories if d != "/" for p in ROOT.glob(d.strip("/"))}
    assert {p.parent for p in ACTION_FILES} <= covered


# --------------------------------------------------------------------------------------------
# Topology: each environment its own unit, one prod approval, deploys never cancelled
# --------------------------------------------------------------------------------------------


def needs(job: dict) -> set[str]:
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


def test_each_environment_is_one_call_of_the_deliver_workflow():
    for job, environment in UNITS.items():
        spec = JOBS[job]
        assert spec["uses"] == "./.github/workflows/deliver.yml", job
        assert spec["with"]["environment"] == environment
        assert "strategy" not in spec  # no matrix: nothing can fail-fast-cancel another environment
        assert f"contains(fromJSON(needs.targets.outputs.deploy), '{environment}')" in spec["if"]
        assert "secrets" not in spec  # the unit reads no secret
    # Nothing in ci-cd.yml builds, applies or deploys by itself any more.
    for name, job in JOBS.items():
        text = json.dumps(job)
        if name not in UNITS:
            assert "scripts/deploy.sh" not in text and "terraform apply" not in text, name
            assert "cosign sign" not in text and "build-push-action" not in text, name


def test_dev_waits_for_nothing_of_staging_or_prod():
    # A failing staging leg (its role not set yet, say) must not skip or cancel dev.
    checks = {"targets", "test", "e2e", "security", "terraform-emulator"}
    assert needs(JOBS["dev"]) == checks
    assert needs(JOBS["staging"]) == checks | {"dev"}
    assert needs(JOBS["prod"]) == {"targets", "approve-prod"}
    assert needs(JOBS["approve-prod"]) == checks


def test_the_emulator_runs_the_terraform_tests_on_provider_6_before_any_real_plan():
    job = JOBS["terraform-emulator"]
    assert job["env"]["TF_PROVIDERS"] == "registry"
    run = next(s["run"] for s in job["steps"] if "run" in s)
    assert "tests/infra/test_terraform.py" in run and "plan_against" in run and "dev_applies" in run
    assert needs(JOBS["terraform-plan"]) == {"terraform-emulator"}
    # Inside a unit: deploy needs that unit's build and apply only.
    assert needs(DJOBS["build"]) == needs(DJOBS["terraform"]) == set()
    assert needs(DJOBS["deploy"]) == {"build", "terraform"}
    assert set(DJOBS) == {"build", "terraform", "deploy"}
    for job in DJOBS.values():
        assert "strategy" not in job


def test_staging_follows_dev_and_runs_alone_when_dispatched():
    condition = " ".join(JOBS["staging"]["if"].split())
    assert condition.startswith("!cancelled() &&")
    assert "needs.dev.result == 'success'" in condition
    assert (
        "(needs.dev.result == 'skipped' && !contains(fromJSON(needs.targets.outputs.deploy), 'dev'))"
        in condition
    )
    for upstream in ("test", "e2e", "security"):
        assert f"needs.{upstream}.result == 'success'" in condition


def test_pull_requests_plan_every_environment_and_apply_nothing():
    job = JOBS["terraform-plan"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert job["strategy"] == {"fail-fast": False, "matrix": {"environment": ENVIRONMENTS}}
    plan = step("terraform-plan", uses="./.github/actions/terraform-plan")
    per_environment_role = "vars[format('AWS_TERRAFORM_PLAN_ROLE_ARN_{0}', matrix.environment)]"
    assert plan["with"]["plan-role-arn"] == "${{ " + per_environment_role + " }}"
    assert "apply-role-arn" not in plan["with"]
    assert job["permissions"]["pull-requests"] == "write"
    assert "apply" not in json.dumps(job["steps"]).replace("apply-role", "")


def test_the_deploy_runner_is_per_environment_and_documented():
    header = WORKFLOW.read_text().split("\nname:", 1)[0]
    for job, environment in UNITS.items():
        variable = f"{environment.upper()}_DEPLOY_RUNNER"
        assert JOBS[job]["with"]["runner"] == f"${{{{ vars.{variable} || 'ubuntu-latest' }}}}"
        assert f"vars.{variable}" in header, variable
    assert DJOBS["deploy"]["runs-on"] == "${{ inputs.runner }}"
    # Build and apply need no route to the cluster's API.
    assert DJOBS["build"]["runs-on"] == DJOBS["terraform"]["runs-on"] == "ubuntu-latest"


def github_environment_of(job: dict) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def test_one_prod_release_asks_for_one_approval():
    in_production = [
        (path, name) for path, name, job in all_jobs() if github_environment_of(job) == "production"
    ]
    assert in_production == [("ci-cd.yml", "approve-prod")]
    assert JOBS["prod"]["with"]["github-environment"] == "prod"
    for job, environment in UNITS.items():
        assert JOBS[job]["with"]["github-environment"] == environment
    # Every job of the unit runs in the environment it was given (its variables, its OIDC subject).
    for job in DJOBS.values():
        assert github_environment_of(job) == "${{ inputs.github-environment }}"
    header = WORKFLOW.read_text().split("\nname:", 1)[0]
    assert "required reviewers" in header and "repo:<owner>/<repo>:environment:prod" in header


def test_the_prod_roles_trust_the_environment_the_prod_unit_runs_in():
    # terraform/modules/github_oidc trusts repo:<owner>/<repo>:environment:<github_environment>,
    # which modules/platform sets to the root's environment (its terraform.tfvars).
    platform = (ROOT / "terraform" / "modules" / "platform" / "main.tf").read_text()
    assert re.search(r"(?m)^\s*github_environment\s*=\s*var\.environment$", platform)
    for environment in ENVIRONMENTS:
        tfvars = (ROOT / "terraform" / "environments" / environment / "terraform.tfvars").read_text()
        (value,) = re.findall(r'(?m)^environment\s*=\s*"([^"]+)"', tfvars)
        assert value == JOBS[environment]["with"]["github-environment"], environment


def test_concurrency_never_cancels_a_deploy_or_an_apply():
    # Only a superseded pull request's run is cancelled.
    assert WF["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    assert "pull_request.number" in WF["concurrency"]["group"] and "github.ref" in WF["concurrency"]["group"]
    assert "concurrency" not in DV
    assert DJOBS["deploy"]["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert DJOBS["terraform"]["concurrency"] == {
        "group": "terraform-${{ inputs.environment }}-apply",
        "cancel-in-progress": False,
    }
    for path, name, job in all_jobs():
        if "concurrency" in job:
            assert job["concurrency"]["cancel-in-progress"] is False, (path, name)


def test_every_deploy_goes_through_the_composite_action():
    deploying = [
        (path, name)
        for path, name, job in all_jobs()
        for s in job.get("steps", [])
        if s.get("uses") == "./.github/actions/deploy" or "deploy.sh" in s.get("run", "")
    ]
    assert deploying == [("deliver.yml", "deploy")]
    deploy = step("deliver:deploy", uses="./.github/actions/deploy")
    assert set(deploy["with"]) == set(DEPLOY["inputs"]) - {"signer-workflow"}
    for name, spec in DEPLOY["inputs"].items():
        assert spec.get("required") is True or "default" in spec, name
    assert deploy["with"]["aws-role-arn"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert deploy["with"]["signer-ref-regex"] == "${{ inputs.signer-ref-regex }}"
    assert DJOBS["deploy"]["environment"]["url"] == f"${{{{ steps.{deploy['id']}.outputs.url }}}}"
    assert DJOBS["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}
    # Only main's pipeline may have signed what runs in prod.
    assert JOBS["prod"]["with"]["signer-ref-regex"] == "refs/heads/main"


def test_the_deploy_action_verifies_the_signature_before_deploying_the_digest():
    names = [s.get("uses") or s.get("name") for s in DEPLOY["runs"]["steps"]]
    verify = action_step(DEPLOY, runs="cosign verify")
    deploy = action_step(DEPLOY, runs="scripts/deploy.sh")
    assert (
        deploy["run"].strip()
        == 'scripts/deploy.sh "$ENVIRONMENT" --image-digest "$DIGEST" --skip-terraform --yes'
    )
    assert deploy["env"]["DIGEST"] == f"${{{{ steps.{verify['id']}.outputs.digest }}}}"
    steps = DEPLOY["runs"]["steps"]
    assert steps.index(verify) < steps.index(deploy)
    download = action_step(DEPLOY, uses="actions/download-artifact@")
    assert download["with"]["name"] == "image-${{ inputs.environment }}"
    upload = step("deliver:build", uses="actions/upload-artifact@")
    assert upload["with"]["name"] == download["with"]["name"]
    for tool in ("sigstore/cosign-installer@", "azure/setup-helm@", "aws-actions/configure-aws-credentials@"):
        index = next(i for i, n in enumerate(names) if n.startswith(tool))
        assert index < steps.index(verify), tool
    assert action_step(DEPLOY, uses="hashicorp/setup-terraform@")["with"]["terraform_wrapper"] is False
    assert DEPLOY["outputs"]["url"]["value"] == "${{ steps.url.outputs.url }}"


# --------------------------------------------------------------------------------------------
# The shell steps, run under bash against stand-ins
# --------------------------------------------------------------------------------------------


def targets_for(event: str, ref: str, environment: str, tmp_path: Path) -> subprocess.CompletedProcess:
    output = tmp_path / "targets.out"
    output.write_text("")
    env = {"EVENT_NAME": event, "REF": ref, "INPUT_ENVIRONMENT": environment, "GITHUB_OUTPUT": str(output)}
    result = bash(step("targets", named="Environments")["run"], env)
    result.outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return result


@pytest.mark.parametrize(
    ("event", "ref", "environment", "deploy"),
    [
        ("pull_request", "refs/pull/7/merge", "", []),
        ("push", "refs/heads/develop", "", ["dev", "staging"]),
        ("push", "refs/heads/main", "", ["prod"]),
        ("workflow_dispatch", "refs/heads/develop", "staging", ["staging"]),
        ("workflow_dispatch", "refs/heads/main", "prod", ["prod"]),
    ],
)
def test_targets_per_event(tmp_path, event, ref, environment, deploy):
    result = targets_for(event, ref, environment, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.outputs["deploy"]) == deploy
    assert set(JOBS["targets"]["outputs"]) == {"deploy"}


def test_targets_refuses_an_unknown_dispatch_environment(tmp_path):
    result = targets_for("workflow_dispatch", "refs/heads/x", 'dev"]; echo pwned', tmp_path)
    assert result.returncode != 0
    assert result.outputs == {}


def test_dispatch_offers_exactly_the_three_environments():
    inputs = triggers(WF)["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ENVIRONMENTS
    assert set(triggers(WF)) == {"pull_request", "push", "workflow_dispatch"}
    assert set(triggers(WF)["push"]["branches"]) == {"develop", "main"}
    assert set(triggers(DV)) == {"workflow_call"}
    assert set(triggers(DV)["workflow_call"]["inputs"]) == {
        "environment",
        "github-environment",
        "runner",
        "signer-ref-regex",
    }


def fake_bin(tmp_path: Path, name: str, body: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
    (bindir / name).chmod(0o755)
    return bindir


def run_verify(tmp_path: Path, *, environment: str, digest: str, repository: str, exit_code: int = 0):
    bindir = fake_bin(tmp_path, "cosign", f'printf "%s\\n" "$@" > "{tmp_path}/cosign.args"\nexit {exit_code}')
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "digest").write_text(digest + "\n")
    (tmp_path / "image" / "repository").write_text(repository + "\n")
    output = tmp_path / "out"
    output.write_text("")
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_REPOSITORY": "acme/flask.auth",
        "REGISTRY": "111122223333.dkr.ecr.ap-south-1.amazonaws.com",
        "ECR_REPOSITORY": f"flask-auth-{environment}",
        "SIGNER_REF_REGEX": JOBS[environment]["with"]["signer-ref-regex"],
        "SIGNER_WORKFLOW": DEPLOY["inputs"]["signer-workflow"]["default"],
    }
    result = bash(action_step(DEPLOY, runs="cosign verify")["run"], env, cwd=tmp_path)
    args = (tmp_path / "cosign.args").read_text().splitlines() if (tmp_path / "cosign.args").exists() else []
    return result, output.read_text(), args


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_signature_check_pins_this_repository_the_signing_workflow_and_digest(tmp_path, environment):
    repository = f"111122223333.dkr.ecr.ap-south-1.amazonaws.com/flask-auth-{environment}"
    result, output, args = run_verify(tmp_path, environment=environment, digest=DIGEST, repository=repository)
    assert result.returncode == 0, result.stderr
    assert f"digest={DIGEST}" in output.splitlines()
    assert args[0] == "verify" and args[-1] == f"{repository}@{DIGEST}"
    identity = re.compile(args[args.index("--certificate-identity-regexp") + 1])
    # A keyless signature made inside a reusable workflow names that workflow (job_workflow_ref).
    signer = "https://github.com/acme/flask.auth/.github/workflows/deliver.yml"
    assert identity.fullmatch(f"{signer}@refs/heads/main")
    assert not identity.fullmatch(f"{signer.replace('deliver', 'ci-cd')}@refs/heads/main")
    assert not identity.fullmatch(f"{signer.replace('flask.auth', 'flaskXauth')}@refs/heads/main")
    assert not identity.fullmatch(f"{signer.replace('acme', 'evil')}@refs/heads/main")
    assert not identity.fullmatch(f"{signer.replace('deliver.yml', 'deliverXyml')}@refs/heads/main")
    assert bool(identity.fullmatch(f"{signer}@refs/heads/develop")) is (environment != "prod")
    assert args[args.index("--certificate-oidc-issuer") + 1] == "https://token.actions.githubusercontent.com"
    # ... and the build signs from that very workflow.
    assert DELIVER.name in step("deliver:build", runs="cosign sign --yes")["run"].replace("\\.", ".")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_deploy_without_a_valid_signed_digest(tmp_path, environment):
    repository = f"111122223333.dkr.ecr.ap-south-1.amazonaws.com/flask-auth-{environment}"
    cases = [
        ("sha256:short", repository, 0),  # not a digest
        (DIGEST, repository.replace(environment, "other"), 0),  # built for another repository
        (DIGEST, repository, 1),  # cosign says no
    ]
    for i, (digest, built_for, exit_code) in enumerate(cases):
        case = tmp_path / str(i)
        case.mkdir()
        result, output, _ = run_verify(
            case, environment=environment, digest=digest, repository=built_for, exit_code=exit_code
        )
        assert result.returncode != 0, (digest, built_for, exit_code)
        assert "digest=" not in output


def test_the_environment_url_is_the_ingress_host(tmp_path):
    script = action_step(DEPLOY, named="Environment URL")["run"]
    for kubectl, expected in (
        (
            '[[ "$*" == *"--context flask-auth-$ENVIRONMENT "* ]] && echo auth.example.com',
            "https://auth.example.com",
        ),
        ("exit 1", "https://fallback.example.com"),
    ):
        bindir = fake_bin(tmp_path, "kubectl", kubectl)
        output = tmp_path / "out"
        output.write_text("")
        env = {
            "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
            "ENVIRONMENT": "staging",
            "APP_URL": "https://fallback.example.com",
            "GITHUB_OUTPUT": str(output),
        }
        result = bash(script, env)
        assert result.returncode == 0, result.stderr
        assert output.read_text().splitlines() == [f"url={expected}"]


@pytest.mark.parametrize(
    ("event", "fork", "plan_role", "apply_role", "expected"),
    [
        ("pull_request", "false", "arn:plan", "arn:apply", (0, "arn:plan")),
        ("pull_request", "true", "arn:plan", "arn:apply", (0, None)),  # a fork: no OIDC token
        ("pull_request", "false", "", "arn:apply", (0, None)),  # never the apply role on a PR
        ("push", "false", "arn:plan", "arn:apply", (0, "arn:apply")),
        ("push", "false", "arn:plan", "", (1, None)),  # an apply without its role is an error
    ],
)
def test_terraform_picks_the_role_for_the_event(tmp_path, event, fork, plan_role, apply_role, expected):
    output = tmp_path / "out"
    output.write_text("")
    env = {
        "GITHUB_EVENT_NAME": event,
        "FORK_PR": fork,
        "TF_ENV": "prod",
        "TF_PLAN_ROLE_ARN": plan_role,
        "TF_APPLY_ROLE_ARN": apply_role,
        "GITHUB_OUTPUT": str(output),
    }
    result = bash(action_step(PLAN, named="Which AWS role")["run"], env)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert (result.returncode, outputs.get("role")) == expected
    assert (outputs.get("aws") == "true") is (expected[1] is not None)


def test_terraform_plans_and_applies_the_same_saved_plan():
    names = [s.get("name", s.get("uses")) for s in PLAN["runs"]["steps"]]
    order = [
        next(i for i, n in enumerate(names) if key in n)
        for key in ("fmt", "role", "init", "validate", "plan")
    ]
    assert order == sorted(order)
    init = action_step(PLAN, named="terraform init")
    (backend_config,) = re.findall(r'-backend-config="?([^"\s]+)"?', init["run"])
    for environment in ENVIRONMENTS:
        directory = ROOT / init["working-directory"].replace("${{ inputs.environment }}", environment)
        assert (directory / "main.tf").is_file(), directory
        path = directory / backend_config.replace("${TF_ENV}", environment)
        assert path.resolve() == ROOT / "terraform" / "backend-config" / f"{environment}.hcl"
        assert path.is_file(), path
    plan = action_step(PLAN, named="terraform plan")
    assert "-out=tfplan" in plan["run"] and "-detailed-exitcode" in plan["run"]
    apply = step("deliver:terraform", named="apply")
    assert apply["run"] == "terraform apply -input=false tfplan"
    assert apply["working-directory"] == init["working-directory"]
    assert apply["if"] == "steps.plan.outputs.changes == 'true'"
    unit = step("deliver:terraform", uses="./.github/actions/terraform-plan")
    assert unit["id"] == "plan" and unit["with"]["apply-role-arn"] == "${{ vars.AWS_TERRAFORM_ROLE_ARN }}"
    comment = step("terraform-plan", uses="actions/github-script@")
    assert comment["if"] == "steps.plan.outputs.planned == 'true'"
    assert "65536" in comment["with"]["script"] and "slice(0, limit)" in comment["with"]["script"]
    for doc in (WF, DV):
        assert doc["env"]["TERRAFORM_VERSION"] == "1.11.x"


def test_terraform_version_satisfies_the_environments():
    required = re.search(
        r'required_version\s*=\s*">=\s*([\d.]+)"',
        (ROOT / "terraform" / "environments" / "dev" / "versions.tf").read_text(),
    )
    minimum = tuple(int(p) for p in required.group(1).split("."))
    for doc in (WF, DV):
        assert tuple(int(p) for p in doc["env"]["TERRAFORM_VERSION"].split(".")[:2]) >= minimum


def test_the_build_gates_signs_and_hands_over_the_digest():
    steps = DJOBS["build"]["steps"]
    scan_build = step("deliver:build", named="Build for the scan")
    push = step("deliver:build", named="Push")
    gate = step("deliver:build", uses="aquasecurity/trivy-action@")
    assert scan_build["with"]["load"] is True and scan_build["with"]["push"] is False
    assert gate["with"]["image-ref"] == scan_build["with"]["tags"]
    assert gate["with"]["exit-code"] == "1" and gate["with"]["ignore-unfixed"] is True
    assert gate["with"]["severity"] == "HIGH,CRITICAL"
    for build in (scan_build, push):
        assert (ROOT / build["with"]["file"]).is_file()
        assert "type=gha" in build["with"]["cache-from"]
    assert push["with"]["push"] is True
    assert push["with"]["provenance"] == "mode=max" and push["with"]["sbom"] is True
    creds = step("deliver:build", uses="aws-actions/configure-aws-credentials@")
    login = step("deliver:build", uses="aws-actions/amazon-ecr-login@")
    sign = step("deliver:build", runs="cosign sign --yes")
    assert "cosign attest --yes --type cyclonedx" in sign["run"]
    order = steps.index
    assert order(creds) < order(login) < order(scan_build) < order(gate) < order(push) < order(sign)
    assert step("deliver:build", uses="anchore/sbom-action@")["with"]["format"] == "cyclonedx-json"
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


# --------------------------------------------------------------------------------------------
# The jobs before delivery, notify, Dependabot and Sonar
# --------------------------------------------------------------------------------------------


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The two commands", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    (line,) = [ln for ln in block.splitlines() if ln.startswith("make test")]
    return line.split("#", 1)[0].strip()


def test_the_test_job_runs_the_readmes_test_command():
    command = readme_test_command()
    assert command == "make test"
    runs = [s.get("run", "").strip() for s in JOBS["test"]["steps"]]
    assert command in runs
    assert "make lint" in runs
    assert runs.index("make lint") < runs.index(command)


def test_the_test_job_has_postgres_and_redis_and_reports():
    job = JOBS["test"]
    assert job["runs-on"] == "ubuntu-latest"
    postgres, redis = job["services"]["postgres"], job["services"]["redis"]
    assert postgres["image"] == "postgres:16"
    assert "--health-cmd" in postgres["options"] and "pg_isready" in postgres["options"]
    assert redis["image"].startswith("redis:7")
    assert "--health-cmd" in redis["options"]
    assert job["env"] == {
        "CI": "true",
        "TEST_DATABASE_URL": "postgresql://postgres:postgres@localhost:5432/postgres",
        "TEST_REDIS_URL": "redis://localhost:6379/15",
    }
    user, password = postgres["env"]["POSTGRES_USER"], postgres["env"]["POSTGRES_PASSWORD"]
    assert job["env"]["TEST_DATABASE_URL"].startswith(f"postgresql://{user}:{password}@localhost:5432/")
    setup = step("test", uses="actions/setup-python@")
    assert setup["with"]["cache"] == "pip"
    for requirements in setup["with"]["cache-dependency-path"].split():
        assert (ROOT / requirements).is_file(), requirements
    upload = step("test", uses="actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == {"coverage.xml", "junit.xml"}


def test_the_test_summary_reads_junit(tmp_path):
    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite tests="3" failures="1" errors="0" skipped="1" time="2.5">'
        '<testcase classname="tests.test_auth" name="test_ok"/>'
        '<testcase classname="tests.test_auth" name="test_bad"><failure message="x"/></testcase>'
        "</testsuite></testsuites>"
    )
    summary = tmp_path / "summary.md"
    env = {"PATH": os.environ["PATH"], "GITHUB_STEP_SUMMARY": str(summary)}
    result = run(
        ["bash", "-eo", "pipefail", "-c", step("test", named="summary")["run"]], cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert "| 3 | 1 | 0 | 1 |" in text
    assert "tests.test_auth::test_bad" in text
    assert "test_ok" not in text


def test_sonar_is_skipped_with_a_notice_without_a_token():
    job = JOBS["quality"]
    assert job["needs"] == "test"
    assert job["env"]["SONAR_TOKEN"] == "${{ secrets.SONAR_TOKEN }}"
    notice = step("quality", named="No SONAR_TOKEN")
    assert "::notice" in notice["run"] and notice["if"] == "env.SONAR_TOKEN == ''"
    download = step("quality", uses="actions/download-artifact@")
    assert download["with"]["name"] == step("test", uses="actions/upload-artifact@")["with"]["name"]
    for s in JOBS["quality"]["steps"]:
        if s is not notice:
            assert s["if"] == "env.SONAR_TOKEN != ''", s


DOCKER_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@pytest.mark.parametrize(
    "branch",
    [
        "develop",
        "main",
        "Feature/JIRA-12_new.login",
        '$(touch pwned)";`id`',
        "-.-leading",
        "x" * 300,
        "ü/日本",
    ],
)
def test_image_tags_are_valid_for_any_branch_name(tmp_path, branch):
    output = tmp_path / "out"
    output.write_text("")
    sha = "0123456789abcdef0123456789abcdef01234567"
    env = {
        "PATH": os.environ["PATH"],
        "REGISTRY": "111122223333.dkr.ecr.ap-south-1.amazonaws.com",
        "ECR_REPOSITORY": "flask-auth-dev",
        "BRANCH": branch,
        "SHA": sha,
        "GITHUB_OUTPUT": str(output),
    }
    result = run(
        ["bash", "-eo", "pipefail", "-c", step("deliver:build", named="Image names")["run"]],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "pwned").exists()
    text = output.read_text()
    tags = re.search(r"tags<<TAGS\n(.*?)\nTAGS", text, re.S).group(1).splitlines()
    image = "111122223333.dkr.ecr.ap-south-1.amazonaws.com/flask-auth-dev"
    assert f"image={image}" in text.splitlines()
    assert len(tags) == 2
    assert tags[0] == f"{image}:{sha}"
    for tag in tags:
        repository, _, name = tag.rpartition(":")
        assert repository == image
        assert DOCKER_TAG.fullmatch(name), name
    assert tags[1].endswith(f"-{sha[:12]}")  # unique per commit: the ECR tags are immutable


def test_the_ecr_repositories_are_immutable_so_tags_are_per_commit():
    ecr = (ROOT / "terraform" / "modules" / "ecr" / "main.tf").read_text()
    assert 'image_tag_mutability = "IMMUTABLE"' in ecr
    script = step("deliver:build", named="Image names")["run"]
    tag_lines = [line for line in script.splitlines() if line.strip().startswith('echo "$image:')]
    assert len(tag_lines) == 2
    assert all("$SHA" in line or "SHA:0:12" in line for line in tag_lines)


def test_every_values_file_the_workflow_names_exists():
    named = set(re.findall(r"values-([a-z]+)\.yaml", DELIVER.read_text()))
    assert named == set(ENVIRONMENTS)
    for environment in named:
        assert (ROOT / "helm" / "flask-app" / f"values-{environment}.yaml").is_file()


def test_notify_reports_every_job_and_never_fails_the_run(tmp_path):
    job = JOBS["notify"]
    assert job["if"] == "always()"
    assert set(job["needs"]) == set(JOBS) - {"notify"}
    assert job["env"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    slack = step("notify", uses="slackapi/slack-github-action@")
    assert slack["continue-on-error"] is True
    assert slack["with"]["webhook-type"] == "incoming-webhook"
    notice = step("notify", named="No Slack")
    assert slack["if"] == "env.SLACK_WEBHOOK_URL != ''" and notice["if"] == "env.SLACK_WEBHOOK_URL == ''"
    needs = {name: {"result": "success", "outputs": {}} for name in job["needs"]}
    needs["staging"]["result"] = "failure"
    env = {
        "PATH": os.environ["PATH"],
        "NEEDS": json.dumps(needs),
        "REF_NAME": 'feat/"quote`$(id)',
        "EVENT_NAME": "push",
        "ACTOR": "octocat",
        "RUN_URL": "https://github.com/acme/flask-auth/actions/runs/1",
        "GITHUB_REPOSITORY": "acme/flask-auth",
    }
    summary = step("notify", named="Summarise")
    result = run(["bash", "-eo", "pipefail", "-c", summary["run"]], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    payload = json.loads((tmp_path / slack["with"]["payload-file-path"]).read_text())
    assert payload["text"].startswith(":x:")
    assert "failed: staging" in payload["text"] and 'feat/"quote`$(id)' in payload["text"]


# --------------------------------------------------------------------------------------------
# Dependabot and Sonar
# --------------------------------------------------------------------------------------------


def test_dependabot_covers_every_ecosystem_where_it_lives():
    config = yaml.safe_load(DEPENDABOT.read_text())
    assert config["version"] == 2
    by_ecosystem = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(by_ecosystem) == {"pip", "docker", "github-actions", "terraform"}
    for update in config["updates"]:
        assert update["schedule"]["interval"] == "weekly"
        assert "dependencies" in update["labels"]
        for directory in update.get("directories", [update.get("directory")]):
            matches = list(ROOT.glob(directory.strip("/"))) if directory != "/" else [ROOT]
            assert matches and all(m.is_dir() for m in matches), directory
    pip_dirs = by_ecosystem["pip"]["directories"]
    assert (ROOT / "app" / "requirements.txt").is_file() and "/app" in pip_dirs
    assert "/" in pip_dirs and list(ROOT.glob("requirements-*.txt"))
    assert (ROOT / by_ecosystem["docker"]["directory"].strip("/") / "Dockerfile").is_file()
    tf_dirs = by_ecosystem["terraform"]["directories"]
    for environment in ENVIRONMENTS:
        assert f"/terraform/environments/{environment}" in tf_dirs
    assert "/terraform/modules/*" in tf_dirs
    assert len(list(ROOT.glob("terraform/modules/*/versions.tf"))) >= 6


def sonar_properties() -> dict[str, str]:
    props = {}
    for line in SONAR.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def test_sonar_reads_the_reports_make_test_writes():
    props = sonar_properties()
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"(?m)^test:.*\n((?:\t.*\n)+)", makefile).group(1)
    (coverage,) = re.findall(r"--cov-report=xml:(\S+)", recipe)
    (junit,) = re.findall(r"--junitxml=(\S+)", recipe)
    assert props["sonar.python.coverage.reportPaths"] == coverage == "coverage.xml"
    assert props["sonar.python.xunit.reportPath"] == junit == "junit.xml"
    assert set(step("test", uses="actions/upload-artifact@")["with"]["path"].split()) == {coverage, junit}


def test_sonar_project_layout():
    props = sonar_properties()
    assert props["sonar.sources"] == "app" and (ROOT / "app" / "__init__.py").is_file()
    assert props["sonar.tests"] == "tests" and (ROOT / "tests").is_dir()
    assert props["sonar.python.version"] == "3.11"
    assert props["sonar.sourceEncoding"] == "UTF-8"
    assert props["sonar.projectKey"] and props["sonar.organization"]
    exclusions = props["sonar.exclusions"].split(",")
    assert "app/migrations/**" in exclusions and "app/static/**" in exclusions
    assert (ROOT / "app" / "migrations").is_dir() and (ROOT / "app" / "static").is_dir()


def test_static_keys_are_only_a_documented_fallback():
    text = WORKFLOW.read_text()
    header = text.split("\nname:", 1)[0]
    for name in (
        "SONAR_TOKEN",
        "SLACK_WEBHOOK_URL",
        "AWS_DEPLOY_ROLE_ARN",
        "AWS_TERRAFORM_ROLE_ARN",
        "AWS_REGION",
        "PROD_DEPLOY_RUNNER",
        "AWS_ACCESS_KEY_ID",
    ):
        assert name in header, name
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "AWS_ACCESS_KEY_ID" not in code and "aws-access-key-id" not in code
    assert WF["env"]["AWS_REGION"] == "${{ vars.AWS_REGION || 'ap-south-1' }}"


def test_the_browser_suite_runs_and_its_screenshots_are_uploaded_before_anything_ships():
    runs = [s["run"] for s in JOBS["e2e"]["steps"] if "run" in s]
    assert any(r.strip().startswith("make test-e2e") for r in runs), runs
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"(?m)^test-e2e:", makefile)
    upload = next(s for s in JOBS["e2e"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"  # the screenshots matter most when a test failed
    assert upload["with"]["path"].rstrip("/") == "test-artifacts/e2e"
    for shipping in ("dev", "staging", "approve-prod"):
        assert "e2e" in JOBS[shipping]["needs"], shipping


# --------------------------------------------------------------------------------------------
# Trivy: the code-scanning report gets every severity, the gate only HIGH and CRITICAL
# --------------------------------------------------------------------------------------------

# trivy-action v0.35.0 (action.yaml): an input equal to its default is not passed at all, and for
# SARIF the severity is unset, so whatever trivy.yaml says decides. These are its defaults.
TRIVY_ACTION_DEFAULTS = {
    "severity": "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
    "ignore-unfixed": "false",
    "exit-code": "",
    "format": "table",
}
TRIVY_ACTION_ENV = {
    "severity": "TRIVY_SEVERITY",
    "ignore-unfixed": "TRIVY_IGNORE_UNFIXED",
    "exit-code": "TRIVY_EXIT_CODE",
    "format": "TRIVY_FORMAT",
    "trivy-config": "TRIVY_CONFIG",
}


def trivy_action_env(inputs: dict) -> dict[str, str]:
    """The TRIVY_* variables trivy-action sets for these inputs (set_env_var_if_provided)."""
    env = {}
    for name, variable in TRIVY_ACTION_ENV.items():
        value = inputs.get(name)
        value = str(value).lower() if isinstance(value, bool) else value
        if value not in (None, "", TRIVY_ACTION_DEFAULTS.get(name)):
            env[variable] = value
    if (
        env.get("TRIVY_FORMAT") == "sarif"
        and str(inputs.get("limit-severities-for-sarif", "false")) != "true"
    ):
        env.pop("TRIVY_SEVERITY", None)
    return env


def test_the_action_env_model_matches_the_pinned_trivy_action():
    require_mirrors(["aquasecurity/trivy-action"])
    mirror = mirror_of("aquasecurity/trivy-action")
    version = pin_table()["aquasecurity/trivy-action"]["version"]
    action = run(["git", "-C", str(mirror), "show", f"{version}:action.yaml"]).stdout
    entrypoint = run(["git", "-C", str(mirror), "show", f"{version}:entrypoint.sh"]).stdout
    for name, variable in TRIVY_ACTION_ENV.items():
        default = TRIVY_ACTION_DEFAULTS.get(name, "")
        input_var = "INPUT_" + name.upper().replace("-", "_")
        assert f'set_env_var_if_provided "{variable}" "${input_var}" "{default}"' in action, name
    assert "unset TRIVY_SEVERITY" in entrypoint


@pytest.fixture(scope="module")
def trivy_fixture(tmp_path_factory) -> Path:
    """A tree with findings below HIGH only: a Dockerfile on a :latest base (MEDIUM) without a
    HEALTHCHECK (LOW)."""
    tree = tmp_path_factory.mktemp("trivy")
    shutil.copy(ROOT / "trivy.yaml", tree / "trivy.yaml")
    (tree / ".trivyignore").write_text("")
    (tree / "Dockerfile").write_text("FROM alpine:latest\nRUN echo hello\nUSER nobody\n")
    return tree


def trivy_step(tree: Path, inputs: dict) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the real trivy the way trivy-action runs it for these inputs (offline: no vulnerabilities)."""
    output = tree / "out.json"
    output.unlink(missing_ok=True)
    env = {**os.environ, **trivy_action_env(inputs), "TRIVY_SCANNERS": "misconfig,secret"}
    env["TRIVY_FORMAT"] = "sarif" if env.get("TRIVY_FORMAT") == "sarif" else "json"
    env["TRIVY_OUTPUT"] = str(output)
    result = run(
        [str(BIN / "trivy"), inputs["scan-type"], "--skip-check-update", "--quiet", "."], cwd=tree, env=env
    )
    return result, json.loads(output.read_text()) if output.exists() else {}


def severities(report: dict) -> set[str]:
    if "runs" in report:  # SARIF: the severity is in each rule's properties' tags / help text
        rules = {r["id"]: r for run_ in report["runs"] for r in run_["tool"]["driver"].get("rules", [])}
        found = set()
        for run_ in report["runs"]:
            for result in run_.get("results", []):
                tags = rules[result["ruleId"]].get("properties", {}).get("tags", [])
                found |= {t for t in tags if t in {"LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"}}
        return found
    return {m["Severity"] for r in report.get("Results", []) for m in r.get("Misconfigurations") or []}


def test_the_sarif_report_gets_every_severity_and_the_gate_only_high(trivy_fixture):
    report, gate = [
        s for s in JOBS["security"]["steps"] if s.get("uses", "").startswith("aquasecurity/trivy-action@")
    ]
    assert report["with"]["format"] == "sarif" and report["with"]["exit-code"] == "0"
    assert gate["with"]["severity"] == "HIGH,CRITICAL" and gate["with"]["exit-code"] == "1"
    assert gate["with"]["ignore-unfixed"] is True
    upload = step("security", uses="github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == report["with"]["output"]

    result, sarif = trivy_step(trivy_fixture, report["with"])
    assert result.returncode == 0, result.stderr
    found = severities(sarif)
    assert found & {"LOW", "MEDIUM"}, f"the SARIF report lost the findings below HIGH: {found}"

    result, gated = trivy_step(trivy_fixture, gate["with"])
    assert result.returncode == 0, result.stderr  # nothing HIGH or CRITICAL in the fixture
    assert severities(gated) <= {"HIGH", "CRITICAL"}
    # The same run without the gate's severity does see them: the filter, not the scan, hides them.
    result, unfiltered = trivy_step(trivy_fixture, {**gate["with"], "severity": "LOW,MEDIUM"})
    assert severities(unfiltered) & {"LOW", "MEDIUM"}


def test_trivy_yaml_says_what_to_scan_not_what_to_report():
    config = yaml.safe_load((ROOT / "trivy.yaml").read_text())
    assert {"vuln", "secret", "misconfig"} <= set(config["scan"]["scanners"])
    assert "severity" not in config and "exit-code" not in config
    assert "ignore-unfixed" not in config.get("vulnerability", {})
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    (lint,) = [line for line in makefile.splitlines() if "$(BIN)/trivy fs --config trivy.yaml" in line]
    assert "--severity HIGH,CRITICAL" in lint and "--exit-code 1" in lint
