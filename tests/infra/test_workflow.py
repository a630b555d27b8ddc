""".github/workflows/ci-cd.yml, .github/dependabot.yml and sonar-project.properties.

The linters and schemas run for real (actionlint with shellcheck, check-jsonschema, Checkov).
The workflow's own logic is exercised too: the `targets` script runs under bash for each event,
the job and step `if:` conditions are evaluated by a small GitHub-expression evaluator for a PR,
a push to develop or main and a dispatch, and the shell steps that handle untrusted input (the
branch-name sanitiser, the signature check before a deploy, the Slack payload) run against
stand-ins.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.scanners import checkov

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci-cd.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
SONAR = ROOT / "sonar-project.properties"
BIN = ROOT / ".venv" / "bin"
# `make test-infra` passes a path relative to the repository; Checkov runs from a copy elsewhere.
ENVIRONMENTS = ["dev", "staging", "prod"]
DEPLOY_JOBS = {"deploy-dev": "dev", "deploy-staging": "staging", "deploy-prod": "prod"}
DIGEST = "sha256:" + "c0" * 32
UNTRUSTED = ("github.event.", "github.head_ref", "github.ref_name", "inputs.")


def load_workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


WF = load_workflow()
JOBS = WF["jobs"]


def triggers() -> dict:
    # PyYAML reads the bare key `on` as the boolean True.
    return WF.get("on", WF.get(True))


def steps(job: str) -> list[dict]:
    return JOBS[job]["steps"]


def step(job: str, *, named: str | None = None, uses: str | None = None, runs: str | None = None) -> dict:
    found = [
        s
        for s in steps(job)
        if (named is None or named in s.get("name", ""))
        and (uses is None or s.get("uses", "").startswith(uses))
        and (runs is None or runs in s.get("run", ""))
    ]
    assert len(found) == 1, f"{job}: expected one step ({named=}, {uses=}, {runs=}), found {len(found)}"
    return found[0]


def all_steps() -> list[tuple[str, dict]]:
    return [(name, s) for name, job in JOBS.items() for s in job.get("steps", [])]


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


# --------------------------------------------------------------------------------------------
# A GitHub Actions expression evaluator: enough of the language for `if:` conditions.
# --------------------------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|'(?P<str>(?:[^']|'')*)'|(?P<op>&&|\|\||==|!=|<=|>=|[!<>()\[\],.])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
STATUS_FUNCTIONS = ("success(", "failure(", "always(", "cancelled(")


def tokenize(text: str) -> list[tuple[str, object]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        assert match and match.end() > pos, f"cannot tokenize {text[pos:]!r}"
        pos = match.end()
        if match.group("num") is not None:
            tokens.append(("lit", float(match.group("num"))))
        elif match.group("str") is not None:
            tokens.append(("lit", match.group("str").replace("''", "'")))
        elif match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            name = match.group("name")
            literal = {"true": True, "false": False, "null": None}
            tokens.append(("lit", literal[name]) if name in literal else ("name", name))
    return tokens


def to_number(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def truthy(value) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, 0.0, "")


def loose_equal(a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) or (a is None and b is None):
        return a == b
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return to_number(a) == to_number(b)


def to_string(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class Evaluator:
    def __init__(self, text: str, context: dict):
        self.tokens = tokenize(text)
        self.pos = 0
        self.context = context

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", None)

    def take(self, kind=None, value=None):
        token = self.peek()
        assert (kind is None or token[0] == kind) and (value is None or token[1] == value), token
        self.pos += 1
        return token

    def evaluate(self):
        result = self.or_()
        assert self.peek()[0] == "end", f"trailing tokens: {self.tokens[self.pos :]}"
        return result

    def or_(self):
        left = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self):
        left = self.equality()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.equality()
            left = right if truthy(left) else left
        return left

    def equality(self):
        left = self.comparison()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.comparison()
            left = loose_equal(left, right) if op == "==" else not loose_equal(left, right)
        return left

    def comparison(self):
        left = self.unary()
        while self.peek() in (("op", "<"), ("op", "<="), ("op", ">"), ("op", ">=")):
            op = self.take()[1]
            a, b = to_number(left), to_number(self.unary())
            left = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return left

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self):
        kind, value = self.take()
        if kind == "lit":
            return value
        if (kind, value) == ("op", "("):
            inner = self.or_()
            self.take("op", ")")
            return inner
        assert kind == "name", (kind, value)
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take("op", ")")
            return self.call(value, args)
        return self.context.get(value)

    def postfix(self, value):
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key = self.take("name")[1]
            else:
                key = self.or_()
                self.take("op", "]")
            if isinstance(value, dict):
                matches = [v for k, v in value.items() if k.lower() == to_string(key).lower()]
                value = matches[0] if matches else None
            elif isinstance(value, list) and isinstance(key, float):
                value = value[int(key)] if int(key) < len(value) else None
            else:
                value = None
        return value

    def call(self, name: str, args: list):
        name = name.lower()
        results = [need.get("result") for need in (self.context.get("needs") or {}).values()]
        if name == "success":
            return all(r == "success" for r in results) and not self.context.get("__cancelled")
        if name == "failure":
            return any(r == "failure" for r in results)
        if name == "always":
            return True
        if name == "cancelled":
            return bool(self.context.get("__cancelled"))
        if name == "contains":
            haystack, needle = args
            if isinstance(haystack, list):
                return any(loose_equal(item, needle) for item in haystack)
            return to_string(needle).lower() in to_string(haystack).lower()
        if name == "startswith":
            return to_string(args[0]).lower().startswith(to_string(args[1]).lower())
        if name == "endswith":
            return to_string(args[0]).lower().endswith(to_string(args[1]).lower())
        if name == "fromjson":
            return json.loads(args[0])
        if name == "tojson":
            return json.dumps(args[0])
        if name == "format":
            return re.sub(r"\{(\d+)\}", lambda m: to_string(args[1 + int(m.group(1))]), args[0])
        raise AssertionError(f"unknown function {name}")


def evaluate(expression, context: dict):
    """Evaluate an `if:` value the way the runner does (implicit success() when no status
    function is named)."""
    if isinstance(expression, bool):
        return expression
    text = str(expression).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    result = truthy(Evaluator(text, context).evaluate())
    if not any(fn in text.replace(" ", "") for fn in STATUS_FUNCTIONS):
        result = result and Evaluator("success()", context).evaluate()
    return result


def test_the_evaluator_follows_github_semantics():
    ctx = {"github": {"event_name": "push", "ref": "refs/heads/main"}, "needs": {"a": {"result": "success"}}}
    assert evaluate("github.event_name == 'PUSH'", ctx) is True  # strings compare case-insensitively
    assert evaluate("github.event_name != 'pull_request' && contains(fromJSON('[\"prod\"]'), 'prod')", ctx)
    assert not evaluate("!contains(fromJSON('[\"dev\",\"staging\"]'), 'dev')", ctx)
    assert evaluate("${{ github.ref == 'refs/heads/main' && 'x' || 'y' }}", ctx)
    failed = {**ctx, "needs": {"a": {"result": "failure"}}}
    assert not evaluate("github.event_name == 'push'", failed)  # implicit success()
    assert evaluate("always() && github.event_name == 'push'", failed)
    assert evaluate("format('flask-auth-{0}', 'dev') == 'flask-auth-dev'", ctx)


# --------------------------------------------------------------------------------------------
# The `targets` job: which environments an event builds, provisions and deploys.
# --------------------------------------------------------------------------------------------


def targets_for(event: str, ref: str, environment: str, tmp_path: Path) -> dict:
    script = step("targets", named="Environments")["run"]
    output = tmp_path / f"targets-{event}-{environment or 'none'}"
    output.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "EVENT_NAME": event,
        "REF": ref,
        "INPUT_ENVIRONMENT": environment,
        "GITHUB_OUTPUT": str(output),
    }
    result = run(["bash", "-eo", "pipefail", "-c", script], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    output.unlink()
    return {key: json.loads(value) for key, value in outputs.items()}


EVENTS = {
    "pull_request": ("pull_request", "refs/pull/7/merge", ""),
    "push-develop": ("push", "refs/heads/develop", ""),
    "push-main": ("push", "refs/heads/main", ""),
    "dispatch-staging": ("workflow_dispatch", "refs/heads/develop", "staging"),
    "dispatch-prod": ("workflow_dispatch", "refs/heads/main", "prod"),
}


def test_targets_per_event(tmp_path):
    assert targets_for(*EVENTS["pull_request"], tmp_path=tmp_path) == {
        "deploy": [],
        "terraform": ENVIRONMENTS,
    }
    assert targets_for(*EVENTS["push-develop"], tmp_path=tmp_path) == {
        "deploy": ["dev", "staging"],
        "terraform": ["dev", "staging"],
    }
    assert targets_for(*EVENTS["push-main"], tmp_path=tmp_path) == {"deploy": ["prod"], "terraform": ["prod"]}
    assert targets_for(*EVENTS["dispatch-staging"], tmp_path=tmp_path)["deploy"] == ["staging"]


def test_targets_refuses_an_unknown_dispatch_environment(tmp_path):
    output = tmp_path / "out"
    output.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "EVENT_NAME": "workflow_dispatch",
        "REF": "refs/heads/x",
        "INPUT_ENVIRONMENT": 'dev"]; echo pwned',
        "GITHUB_OUTPUT": str(output),
    }
    result = run(["bash", "-eo", "pipefail", "-c", step("targets", named="Environments")["run"]], env=env)
    assert result.returncode != 0
    assert output.read_text() == ""


def test_dispatch_offers_exactly_the_three_environments():
    inputs = triggers()["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ENVIRONMENTS
    assert set(triggers()) == {"pull_request", "push", "workflow_dispatch"}
    assert set(triggers()["push"]["branches"]) == {"develop", "main"}


def context_for(event_key: str, tmp_path: Path, results: dict | None = None) -> dict:
    event, ref, environment = EVENTS[event_key]
    targets = targets_for(event, ref, environment, tmp_path)
    needs = {job: {"result": "success", "outputs": {}} for job in JOBS}
    needs["targets"]["outputs"] = {key: json.dumps(value) for key, value in targets.items()}
    for job, result in (results or {}).items():
        needs[job]["result"] = result
    github = {
        "event_name": event,
        "ref": ref,
        "repository": "acme/flask-auth",
        "event": {"pull_request": {"number": 7, "head": {"repo": {"full_name": "acme/flask-auth"}}}}
        if event == "pull_request"
        else {},
    }
    return {"github": github, "needs": needs, "inputs": {"environment": environment}, "env": {}}


def job_runs(job: str, ctx: dict) -> bool:
    needs = JOBS[job].get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    scoped = {**ctx, "needs": {name: ctx["needs"][name] for name in needs}}
    return evaluate(JOBS[job].get("if", "success()"), scoped)


def test_a_pull_request_builds_applies_and_deploys_nothing(tmp_path):
    ctx = context_for("pull_request", tmp_path)
    for job in ("build", *DEPLOY_JOBS):
        assert not job_runs(job, ctx), job
    for job in ("test", "quality", "security", "terraform", "notify"):
        assert job_runs(job, ctx), job
    apply = step("terraform", named="apply")
    step_ctx = {**ctx, "steps": {"plan": {"outcome": "success", "outputs": {"changes": "true"}}}}
    assert not evaluate(apply["if"], step_ctx)
    comment = step("terraform", uses="actions/github-script")
    assert evaluate(comment["if"], step_ctx)


def test_a_pull_request_plans_even_when_the_tests_fail(tmp_path):
    ctx = context_for("pull_request", tmp_path, {"test": "failure"})
    assert job_runs("terraform", ctx)


def test_a_push_to_develop_deploys_dev_then_staging(tmp_path):
    ctx = context_for("push-develop", tmp_path)
    assert job_runs("build", ctx)
    assert job_runs("deploy-dev", ctx)
    assert job_runs("deploy-staging", ctx)
    assert not job_runs("deploy-prod", ctx)
    assert "deploy-dev" in JOBS["deploy-staging"]["needs"]
    # staging never follows a failed dev deploy, nor failed tests into an apply
    for dev_result in ("failure", "cancelled", "skipped"):
        assert not job_runs(
            "deploy-staging", context_for("push-develop", tmp_path, {"deploy-dev": dev_result})
        )
    assert not job_runs("terraform", context_for("push-develop", tmp_path, {"test": "failure"}))
    step_ctx = {**ctx, "steps": {"plan": {"outcome": "success", "outputs": {"changes": "true"}}}}
    assert evaluate(step("terraform", named="apply")["if"], step_ctx)
    no_changes = {**ctx, "steps": {"plan": {"outcome": "success", "outputs": {"changes": "false"}}}}
    assert not evaluate(step("terraform", named="apply")["if"], no_changes)


def test_a_push_to_main_deploys_prod_only(tmp_path):
    ctx = context_for("push-main", tmp_path)
    assert job_runs("deploy-prod", ctx)
    assert not job_runs("deploy-dev", ctx)
    assert not job_runs("deploy-staging", ctx)


def test_a_dispatch_deploys_only_the_chosen_environment(tmp_path):
    ctx = context_for("dispatch-staging", tmp_path, {"deploy-dev": "skipped"})
    assert not job_runs("deploy-dev", ctx)
    assert job_runs("deploy-staging", ctx)
    assert not job_runs("deploy-prod", ctx)
    ctx = context_for("dispatch-prod", tmp_path, {"deploy-dev": "skipped", "deploy-staging": "skipped"})
    assert job_runs("deploy-prod", ctx)
    assert not job_runs("deploy-staging", ctx)


def test_matrices_come_from_the_targets_job():
    assert (
        JOBS["build"]["strategy"]["matrix"]["environment"] == "${{ fromJSON(needs.targets.outputs.deploy) }}"
    )
    assert (
        JOBS["terraform"]["strategy"]["matrix"]["environment"]
        == "${{ fromJSON(needs.targets.outputs.terraform) }}"
    )


# --------------------------------------------------------------------------------------------
# Linters, schemas, Checkov
# --------------------------------------------------------------------------------------------


def test_actionlint_with_shellcheck_has_no_findings():
    assert (BIN / "shellcheck").exists(), "actionlint checks run: scripts only with shellcheck on PATH"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = run([str(BIN / "actionlint"), "-no-color", str(WORKFLOW.relative_to(ROOT))], cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("schema", "path"),
    [("vendor.github-workflows", WORKFLOW), ("vendor.dependabot", DEPENDABOT)],
    ids=["workflow", "dependabot"],
)
def test_schema(schema, path):
    result = run([str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_github_actions_has_no_failed_checks(tmp_path):
    # Checkov 3 validates workflows against a copy of an old SchemaStore schema whose
    # `cancel-in-progress` is oneOf(boolean, string, expression): every expression matches two
    # branches, the file is declared invalid and silently skipped (0 resources, "no failures").
    # The copy it scans has that one value as a boolean; the assertion on `passed` proves the
    # file was really scanned.
    text = WORKFLOW.read_text()
    expression = "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}\n"
    assert text.count(expression) == 1
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / WORKFLOW.name).write_text(text.replace(expression, "  cancel-in-progress: true\n"))
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
# Security of the workflow itself
# --------------------------------------------------------------------------------------------


def test_no_expression_is_interpolated_into_a_script():
    for job, s in all_steps():
        script = s.get("run", "") + s.get("with", {}).get("script", "")
        assert "${{" not in script, f"{job}/{s.get('name')}: pass values through env:"
        for needle in UNTRUSTED:
            assert needle not in script, f"{job}/{s.get('name')}: {needle}"


def test_every_job_has_a_timeout_and_explicit_least_permissions():
    assert WF["permissions"] in ({}, "read-all") or set(WF["permissions"].values()) <= {"read", "none"}
    for name, job in JOBS.items():
        assert isinstance(job.get("timeout-minutes"), int) and 0 < job["timeout-minutes"] <= 60, name
        assert "permissions" in job, name
        assert job["permissions"] != "write-all", name
    # write scopes only where they are used
    writes = {
        name: {scope for scope, level in (job["permissions"] or {}).items() if level == "write"}
        for name, job in JOBS.items()
    }
    assert writes["test"] == writes["quality"] == writes["targets"] == writes["notify"] == set()
    assert writes["security"] == {"security-events"}
    assert writes["build"] == {"id-token"}
    assert writes["terraform"] == {"id-token", "pull-requests"}
    for job in DEPLOY_JOBS:
        assert writes[job] == {"id-token"}


def test_checkouts_do_not_persist_the_token():
    for job, s in all_steps():
        if s.get("uses", "").startswith("actions/checkout@"):
            assert s["with"]["persist-credentials"] is False, job


def test_actions_are_pinned_to_a_major_or_a_commit():
    for job, s in all_steps():
        uses = s.get("uses")
        if uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+|[0-9a-f]{40})", uses), f"{job}: {uses}"
            if uses.startswith("aquasecurity/trivy-action@"):
                # its tags were rewritten in the March 2026 compromise: a commit, never a tag
                assert re.fullmatch(r".+@[0-9a-f]{40}", uses), uses


def test_pull_request_runs_are_cancelled_when_superseded_and_pushes_never():
    concurrency = WF["concurrency"]
    assert "github.ref" in concurrency["group"]
    assert "pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


# --------------------------------------------------------------------------------------------
# The jobs
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
    runs = [s.get("run", "").strip() for s in steps("test")]
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
    scan = step("quality", uses="SonarSource/sonarqube-scan-action@")
    notice = step("quality", named="No SONAR_TOKEN")
    assert "::notice" in notice["run"]
    download = step("quality", uses="actions/download-artifact@")
    assert download["with"]["name"] == step("test", uses="actions/upload-artifact@")["with"]["name"]
    for token, scans in (("", False), ("s3cr3t", True)):
        ctx = {"env": {"SONAR_TOKEN": token}, "needs": {}}
        assert evaluate(scan["if"], ctx) is scans
        assert evaluate(download["if"], ctx) is scans
        assert evaluate(notice["if"], ctx) is not scans


def test_trivy_report_and_gate():
    job = JOBS["security"]
    assert job["permissions"]["security-events"] == "write"
    report, gate = [
        s for s in steps("security") if s.get("uses", "").startswith("aquasecurity/trivy-action@")
    ]
    for s in (report, gate):
        assert s["with"]["trivy-config"] == "trivy.yaml"
        assert (ROOT / s["with"]["trivy-config"]).is_file()
        assert s["with"]["scan-type"] == "fs"
    assert report["with"]["format"] == "sarif" and report["with"]["exit-code"] == "0"
    upload = step("security", uses="github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == report["with"]["output"]
    assert gate["with"]["exit-code"] == "1"
    assert gate["with"]["severity"] == "HIGH,CRITICAL"
    assert gate["with"]["ignore-unfixed"] is True
    config = yaml.safe_load((ROOT / "trivy.yaml").read_text())
    assert {"vuln", "secret", "misconfig"} <= set(config["scan"]["scanners"])


def test_build_gates_signs_and_hands_over_the_digest():
    job = JOBS["build"]
    assert set(job["needs"]) >= {"test", "security"}
    order = steps("build").index
    scan_build = step("build", named="Build for the scan")
    push = step("build", named="Push")
    trivy = [s for s in steps("build") if s.get("uses", "").startswith("aquasecurity/trivy-action@")]
    (gate,) = trivy
    assert scan_build["with"]["load"] is True and scan_build["with"]["push"] is False
    assert gate["with"]["image-ref"] == scan_build["with"]["tags"]
    assert gate["with"]["exit-code"] == "1" and gate["with"]["ignore-unfixed"] is True
    assert gate["with"]["severity"] == "HIGH,CRITICAL"
    for build in (scan_build, push):
        assert build["with"]["file"] == "docker/Dockerfile"
        assert (ROOT / build["with"]["file"]).is_file()
        assert "type=gha" in build["with"]["cache-from"]
    assert push["with"]["push"] is True
    assert push["with"]["provenance"] == "mode=max" and push["with"]["sbom"] is True
    creds = step("build", uses="aws-actions/configure-aws-credentials@")
    login = step("build", uses="aws-actions/amazon-ecr-login@")
    sign = step("build", runs="cosign sign --yes")
    assert "cosign attest --yes --type cyclonedx" in sign["run"]
    assert order(creds) < order(login) < order(scan_build) < order(gate) < order(push) < order(sign)
    sbom = step("build", uses="anchore/sbom-action@")
    assert sbom["with"]["format"] == "cyclonedx-json"
    upload = step("build", uses="actions/upload-artifact@")
    assert upload["with"]["name"] == "image-${{ matrix.environment }}"
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert (
        job["environment"]["name"]
        == "${{ matrix.environment == 'prod' && 'production' || matrix.environment }}"
    )


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
        ["bash", "-eo", "pipefail", "-c", step("build", named="Image names")["run"]], cwd=tmp_path, env=env
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
    script = step("build", named="Image names")["run"]
    tag_lines = [line for line in script.splitlines() if line.strip().startswith('echo "$image:')]
    assert len(tag_lines) == 2
    assert all("$SHA" in line or "SHA:0:12" in line for line in tag_lines)


def terraform_env_dir(environment: str) -> Path:
    working = JOBS["terraform"]["defaults"]["run"]["working-directory"]
    return ROOT / working.replace("${{ matrix.environment }}", environment)


def test_terraform_plans_comments_and_applies_the_same_plan(tmp_path):
    ctx = context_for("pull_request", tmp_path)
    environments = json.loads(ctx["needs"]["targets"]["outputs"]["terraform"])
    assert environments == ENVIRONMENTS
    init = step("terraform", named="init")["run"]
    (backend_config,) = re.findall(r'-backend-config="?([^"\s]+)"?', init)
    for environment in environments:
        directory = terraform_env_dir(environment)
        assert (directory / "main.tf").is_file(), directory
        path = directory / backend_config.replace("${TF_ENV}", environment)
        assert path.resolve() == (ROOT / "terraform" / "backend-config" / f"{environment}.hcl")
        assert path.is_file(), path
    runs = "\n".join(s.get("run", "") for s in steps("terraform"))
    assert "terraform fmt -check" in runs
    assert "terraform validate" in runs
    assert "-out=tfplan" in runs and "-input=false" in runs
    assert "terraform apply -input=false tfplan" in runs
    names = [s.get("name", s.get("uses")) for s in steps("terraform")]
    order = [
        next(i for i, n in enumerate(names) if key in n)
        for key in ("fmt", "init", "validate", "plan", "apply")
    ]
    assert order == sorted(order)
    script = step("terraform", uses="actions/github-script@")["with"]["script"]
    assert "65536" in script and "slice(0, limit)" in script
    setup = step("terraform", uses="hashicorp/setup-terraform@")
    assert setup["with"]["terraform_version"] == "${{ env.TERRAFORM_VERSION }}"
    assert WF["env"]["TERRAFORM_VERSION"] == "1.11.x"
    creds = step("terraform", uses="aws-actions/configure-aws-credentials@")
    assert creds["with"]["role-to-assume"] == "${{ steps.access.outputs.role }}"
    assert JOBS["terraform"]["env"]["TF_APPLY_ROLE_ARN"] == "${{ vars.AWS_TERRAFORM_ROLE_ARN }}"


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
        "PATH": os.environ["PATH"],
        "GITHUB_EVENT_NAME": event,
        "FORK_PR": fork,
        "TF_ENV": "prod",
        "TF_PLAN_ROLE_ARN": plan_role,
        "TF_APPLY_ROLE_ARN": apply_role,
        "GITHUB_OUTPUT": str(output),
    }
    result = run(["bash", "-eo", "pipefail", "-c", step("terraform", named="Which AWS role")["run"]], env=env)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert (result.returncode, outputs.get("role")) == expected
    assert (outputs.get("aws") == "true") is (expected[1] is not None)


def test_terraform_applies_only_inside_the_github_environment(tmp_path):
    expression = JOBS["terraform"]["environment"]
    text = expression[3:-2]
    for event_key, environment, expected in (
        ("pull_request", "prod", ""),
        ("push-main", "prod", "production"),
        ("push-develop", "staging", "staging"),
    ):
        ctx = {**context_for(event_key, tmp_path), "matrix": {"environment": environment}}
        assert to_string(Evaluator(text, ctx).evaluate()) == expected


def test_deploy_jobs_are_serialised_per_environment_and_protected():
    for job, environment in DEPLOY_JOBS.items():
        spec = JOBS[job]
        assert spec["concurrency"]["group"] == f"deploy-{environment}"
        assert spec["concurrency"]["cancel-in-progress"] is False
        github_environment = "production" if environment == "prod" else environment
        assert spec["environment"]["name"] == github_environment
        assert spec["environment"]["url"]
        assert spec["env"]["ENVIRONMENT"] == environment
        assert set(spec["needs"]) >= {"build", "terraform"}
    assert JOBS["deploy-prod"]["runs-on"] == "${{ vars.PROD_DEPLOY_RUNNER || 'ubuntu-latest' }}"
    assert JOBS["deploy-prod"]["env"]["SIGNER_REF_REGEX"] == "refs/heads/main"


@pytest.mark.parametrize("job", list(DEPLOY_JOBS))
def test_deploy_verifies_the_signature_before_deploying_the_digest(job):
    names = [s.get("uses") or s.get("name") for s in steps(job)]
    verify = step(job, runs="cosign verify")
    deploy = step(job, runs="scripts/deploy.sh")
    assert (
        deploy["run"].strip()
        == 'scripts/deploy.sh "$ENVIRONMENT" --image-digest "$DIGEST" --skip-terraform --yes'
    )
    assert deploy["env"]["DIGEST"] == f"${{{{ steps.{verify['id']}.outputs.digest }}}}"
    assert steps(job).index(verify) < steps(job).index(deploy)
    assert "--certificate-oidc-issuer https://token.actions.githubusercontent.com" in verify["run"]
    assert "--certificate-identity-regexp" in verify["run"]
    download = step(job, uses="actions/download-artifact@")
    assert download["with"]["name"] == f"image-{DEPLOY_JOBS[job]}"
    for tool in ("sigstore/cosign-installer@", "azure/setup-helm@", "aws-actions/configure-aws-credentials@"):
        assert any(n.startswith(tool) for n in names), (job, tool)
        assert names.index(next(n for n in names if n.startswith(tool))) < steps(job).index(deploy)
    tf = step(job, uses="hashicorp/setup-terraform@")
    assert tf["with"]["terraform_wrapper"] is False


def fake_cosign(tmp_path: Path, exit_code: int = 0) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    cosign = bindir / "cosign"
    cosign.write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "{tmp_path}/cosign.args"\nexit {exit_code}\n'
    )
    cosign.chmod(0o755)
    return bindir


def run_verify(job: str, tmp_path: Path, *, digest: str, repository: str, exit_code: int = 0):
    bindir = fake_cosign(tmp_path, exit_code)
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
        "ECR_REPOSITORY": f"flask-auth-{DEPLOY_JOBS[job]}",
        "SIGNER_REF_REGEX": JOBS[job]["env"]["SIGNER_REF_REGEX"],
    }
    result = run(
        ["bash", "-eo", "pipefail", "-c", step(job, runs="cosign verify")["run"]], cwd=tmp_path, env=env
    )
    args = (tmp_path / "cosign.args").read_text().splitlines() if (tmp_path / "cosign.args").exists() else []
    return result, output.read_text(), args


@pytest.mark.parametrize("job", list(DEPLOY_JOBS))
def test_the_signature_check_pins_this_repository_workflow_and_digest(tmp_path, job):
    environment = DEPLOY_JOBS[job]
    repository = f"111122223333.dkr.ecr.ap-south-1.amazonaws.com/flask-auth-{environment}"
    result, output, args = run_verify(job, tmp_path, digest=DIGEST, repository=repository)
    assert result.returncode == 0, result.stderr
    assert f"digest={DIGEST}" in output.splitlines()
    assert args[0] == "verify"
    assert args[-1] == f"{repository}@{DIGEST}"
    identity = re.compile(args[args.index("--certificate-identity-regexp") + 1])
    workflow = "https://github.com/acme/flask.auth/.github/workflows/ci-cd.yml"
    assert identity.fullmatch(f"{workflow}@refs/heads/main")
    assert not identity.fullmatch(
        "https://github.com/acme/flaskXauth/.github/workflows/ci-cd.yml@refs/heads/main"
    )
    assert not identity.fullmatch(
        "https://github.com/evil/flask.auth/.github/workflows/ci-cd.yml@refs/heads/main"
    )
    assert not identity.fullmatch(f"{workflow.replace('ci-cd', 'other')}@refs/heads/main")
    assert bool(identity.fullmatch(f"{workflow}@refs/heads/develop")) is (environment != "prod")
    assert args[args.index("--certificate-oidc-issuer") + 1] == "https://token.actions.githubusercontent.com"
    assert (ROOT / ".github" / "workflows" / "ci-cd.yml").name in identity.pattern.replace("\\.", ".")


@pytest.mark.parametrize("job", list(DEPLOY_JOBS))
def test_no_deploy_without_a_valid_signed_digest(tmp_path, job):
    environment = DEPLOY_JOBS[job]
    repository = f"111122223333.dkr.ecr.ap-south-1.amazonaws.com/flask-auth-{environment}"
    cases = [
        ("sha256:short", repository, 0),  # not a digest
        (DIGEST, repository.replace(environment, "other"), 0),  # built for another repository
        (DIGEST, repository, 1),  # cosign says no
    ]
    for i, (digest, built_for, exit_code) in enumerate(cases):
        case = tmp_path / str(i)
        case.mkdir()
        result, output, _ = run_verify(job, case, digest=digest, repository=built_for, exit_code=exit_code)
        assert result.returncode != 0, (digest, built_for, exit_code)
        assert "digest=" not in output


def test_deploy_sh_accepts_the_flags_the_workflow_passes():
    deploy = ROOT / "scripts" / "deploy.sh"
    assert deploy.is_file(), "scripts/deploy.sh is the deploy jobs' entry point"
    result = run(["bash", str(deploy), "--help"], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for flag in ("--image-digest", "--skip-terraform", "--yes"):
        assert flag in result.stdout + result.stderr, flag


def test_every_values_file_the_workflow_names_exists():
    named = set(re.findall(r"values-([a-z]+)\.yaml", WORKFLOW.read_text()))
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
    for url, sends in (("", False), ("https://hooks.slack.com/services/x", True)):
        # a step's implicit success() is about the job's earlier steps, which all passed here
        ctx = {"env": {"SLACK_WEBHOOK_URL": url}, "needs": {}}
        assert evaluate(slack["if"], ctx) is sends
        assert evaluate(notice["if"], ctx) is not sends
    needs = {name: {"result": "success", "outputs": {}} for name in job["needs"]}
    needs["deploy-staging"]["result"] = "failure"
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
    assert "deploy-staging" in payload["text"] and 'feat/"quote`$(id)' in payload["text"]


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


def test_terraform_version_satisfies_the_environments():
    required = re.search(
        r'required_version\s*=\s*">=\s*([\d.]+)"', (terraform_env_dir("dev") / "versions.tf").read_text()
    )
    minimum = tuple(int(p) for p in required.group(1).split("."))
    pinned = tuple(int(p) for p in WF["env"]["TERRAFORM_VERSION"].split(".")[:2])
    assert pinned >= minimum


@pytest.mark.parametrize("job", list(DEPLOY_JOBS))
def test_the_environment_url_is_the_ingress_host(tmp_path, job):
    script = step(job, named="Environment URL")["run"]
    for kubectl, expected in (
        (
            '[[ "$*" == *"--context flask-auth-$ENVIRONMENT "* ]] && echo auth.example.com',
            "https://auth.example.com",
        ),
        ("exit 1", "https://fallback.example.com"),
    ):
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        (bindir / "kubectl").write_text(f"#!/usr/bin/env bash\n{kubectl}\n")
        (bindir / "kubectl").chmod(0o755)
        output = tmp_path / "out"
        output.write_text("")
        env = {
            "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
            "ENVIRONMENT": DEPLOY_JOBS[job],
            "APP_URL": "https://fallback.example.com",
            "GITHUB_OUTPUT": str(output),
        }
        result = run(["bash", "-eo", "pipefail", "-c", script], env=env)
        assert result.returncode == 0, result.stderr
        assert output.read_text().splitlines() == [f"url={expected}"]
    assert JOBS[job]["environment"]["url"] == "${{ steps.url.outputs.url }}"


def test_the_browser_suite_runs_and_its_screenshots_are_uploaded_before_anything_ships():
    runs = [s["run"] for s in steps("e2e") if "run" in s]
    assert any(r.strip().startswith("make test-e2e") for r in runs), runs
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"(?m)^test-e2e:", makefile)
    upload = next(s for s in steps("e2e") if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"  # the screenshots matter most when a test failed
    assert upload["with"]["path"].rstrip("/") == "test-artifacts/e2e"
    jobs = load_workflow()["jobs"]
    for shipping in ("build", "terraform"):
        assert "e2e" in jobs[shipping]["needs"], shipping
