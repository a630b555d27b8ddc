"""scripts/db-restore-drill.sh, run as tests/infra/test_deploy_script.py runs deploy.sh.

The same sandbox (its `Deploy` class, a PATH of stand-ins and a few system
tools only) and the same logging stand-in, extended with the answers of
`aws rds`, `aws secretsmanager`, `flask` and `psql`: every call is logged
(one JSON list per line), FAKE_FAIL makes a call fail, and no real cloud
command can run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import test_deploy_script
from test_deploy_script import STAND_IN, Deploy, one_line_error

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "scripts" / "db-restore-drill.sh"
# Beyond deploy.sh's: the drill names its instance with the time, bounds its wait and sets the
# app's environment for flask.
EXTRA_SYSTEM_TOOLS = ("date", "timeout", "env", "tail")
SECRET_ARN = "arn:aws:secretsmanager:ap-south-1:123456789012:secret:rds!db-drill"
PASSWORD = "s3cr3t-from-secrets-manager"  # the stand-in's answer
REVISION = "0006"  # the form of app/migrations/versions/ revisions

# Appended to deploy's stand-in: its chain of `elif name == ...` goes on with these.
DRILL_ANSWERS = r"""
elif name == "aws" and args[:2] == ["rds", "describe-db-instances"]:
    ident = option("--db-instance-identifier")
    if "--query" in args:  # the wait's status check
        print(os.environ.get("FAKE_DRILL_STATUS", "available"))
    elif "-drill-" in ident:
        print(json.dumps({"DBInstances": [{
            "DBInstanceIdentifier": ident, "DBInstanceStatus": "available",
            "Endpoint": {"Address": ident + ".abc.ap-south-1.rds.amazonaws.com", "Port": 5432},
            "MasterUserSecret": {"SecretArn": os.environ["FAKE_SECRET_ARN"], "SecretStatus": "active"}}]}))
    else:
        print(json.dumps({"DBInstances": [{
            "DBInstanceIdentifier": ident, "DBName": "flask_auth", "MasterUsername": "flask_auth_admin",
            "DBSubnetGroup": {"DBSubnetGroupName": ident},
            "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0db", "Status": "active"},
                                  {"VpcSecurityGroupId": "sg-0old", "Status": "removing"}],
            "DBParameterGroups": [{"DBParameterGroupName": ident + "-pg16-1"}]}]}))
elif name == "aws" and args[:2] == ["rds", "describe-db-snapshots"]:
    kind = option("--snapshot-type")
    source = option("--db-instance-identifier")
    found = [] if os.environ.get("FAKE_NO_SNAPSHOTS") else {
        "automated": [
            {"DBSnapshotIdentifier": "rds:" + source + "-2026-12-02-20-00", "Status": "available",
             "SnapshotType": "automated", "SnapshotCreateTime": "2026-12-02T20:00:00.000Z"},
            {"DBSnapshotIdentifier": "rds:" + source + "-2026-12-03-20-00", "Status": "available",
             "SnapshotType": "automated", "SnapshotCreateTime": "2026-12-03T20:00:00.000Z"},
            {"DBSnapshotIdentifier": "rds:" + source + "-2026-12-04-20-00", "Status": "creating",
             "SnapshotType": "automated", "SnapshotCreateTime": "2026-12-04T20:00:00.000Z"}],
        "awsbackup": [
            {"DBSnapshotIdentifier": "awsbackup:job-" + os.environ.get("FAKE_BACKUP_JOB", "1"),
             "Status": "available", "SnapshotType": "awsbackup",
             "SnapshotCreateTime": os.environ.get("FAKE_BACKUP_TIME", "2026-12-04T01:00:00.000Z")}],
    }[kind]
    print(json.dumps({"DBSnapshots": found}))
elif name == "aws" and args[:2] == ["rds", "restore-db-instance-from-db-snapshot"]:
    print("creating")
elif name == "aws" and args[:2] == ["rds", "delete-db-instance"]:
    print("deleting")
elif name == "aws" and args[:2] == ["secretsmanager", "get-secret-value"]:
    print(json.dumps({"username": "flask_auth_admin", "password": os.environ["FAKE_PASSWORD"]}))
elif name == "flask":
    # The app as the drill builds it: staging settings, the throwaway instance, the password from libpq's env.
    url = os.environ.get("DATABASE_URL", "")
    if os.environ.get("APP_ENV") != "staging" or "-drill-" not in url or not os.environ.get("SECRET_KEY"):
        sys.exit("flask stand-in: not the drill's settings")
    if os.environ.get("PGPASSWORD") != os.environ["FAKE_PASSWORD"]:
        sys.exit("flask stand-in: no password")
    sys.stderr.write("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\n")
    print(os.environ.get("FAKE_REVISION", "0006 (head)"))
elif name == "psql":
    if os.environ.get("PGPASSWORD") != os.environ["FAKE_PASSWORD"]:
        sys.exit("psql: fe_sendauth: no password supplied")
    print(os.environ.get("FAKE_USERS", "42"))
"""


class Drill(Deploy):
    """deploy.sh's sandbox, holding the drill's tools instead of the deploy's (calls run the drill:
    see the fixture)."""

    def __init__(self, tmp_path: Path):
        super().__init__(tmp_path)
        for tool in ("terraform", "kubectl", "helm", "git", "smoke-test"):
            (self.bin / tool).unlink()
        for tool in ("aws", "flask", "psql"):
            (self.bin / tool).write_text(STAND_IN + DRILL_ANSWERS)
            (self.bin / tool).chmod(0o755)
        for tool in EXTRA_SYSTEM_TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is needed to run the drill"
            (self.system / tool).symlink_to(found)
        self.env.update(FAKE_SECRET_ARN=SECRET_ARN, FAKE_PASSWORD=PASSWORD)


@pytest.fixture
def drill(tmp_path: Path, monkeypatch) -> Drill:
    # Deploy's __call__ runs the script its module names: the drill, here.
    monkeypatch.setattr(test_deploy_script, "DEPLOY", DRILL)
    return Drill(tmp_path)


def steps(calls: list[list[str]]) -> list[str]:
    """The calls as 'aws rds OPERATION', 'flask db current', 'psql'."""
    out = []
    for call in calls:
        words = [word for word in call if not word.startswith("-")]
        if call[0] == "aws":
            out.append(" ".join(words[:3]))
        elif call[0] == "flask":
            out.append(" ".join(["flask", *[w for w in words[1:] if w != "app"]]))
        else:
            out.append(call[0])
    return out


def option(call: list[str], flag: str) -> str:
    return call[call.index(flag) + 1]


def drill_id(calls: list[list[str]]) -> str:
    (restore,) = [c for c in calls if c[:3] == ["aws", "rds", "restore-db-instance-from-db-snapshot"]]
    return option(restore, "--db-instance-identifier")


REAL_RUN = [
    "aws sts get-caller-identity",
    "aws rds describe-db-instances",
    "aws rds describe-db-snapshots",
    "aws rds describe-db-snapshots",
    "aws rds restore-db-instance-from-db-snapshot",
    "aws rds wait",
    "aws rds describe-db-instances",
    "aws secretsmanager get-secret-value",
    "flask db current",
    "psql",
    "aws rds delete-db-instance",
]


# -- arguments ----------------------------------------------------------------------------------


def test_help_documents_the_contract_and_runs_nothing(drill):
    result, calls = drill("--help")
    assert result.returncode == 0
    for word in ("staging|prod", "--dry-run", "DRILL_WAIT_MINUTES", "flask --app app db current"):
        assert word in result.stdout
    assert "ALWAYS deletes" in result.stdout and "--skip-final-snapshot" in result.stdout
    assert calls == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {}, "db-restore-drill.sh: no environment given: staging or prod"),
        (("qa",), {}, "db-restore-drill.sh: unknown environment 'qa' (staging or prod)"),
        (("dev",), {}, "db-restore-drill.sh: dev has no RDS database"),
        (("staging", "prod"), {}, "db-restore-drill.sh: unexpected argument 'prod'"),
        (("staging", "--keep"), {}, "db-restore-drill.sh: unknown option '--keep'"),
        (("staging",), {"DRILL_WAIT_MINUTES": "0"}, "DRILL_WAIT_MINUTES must be a positive whole number"),
        (
            ("staging",),
            {"DRILL_WAIT_MINUTES": "an hour"},
            "DRILL_WAIT_MINUTES must be a positive whole number",
        ),
        (("staging",), {"DRILL_INSTANCE_CLASS": "large"}, "DRILL_INSTANCE_CLASS must look like db.t4g.small"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_run_nothing(drill, args, env, message):
    result, calls = drill(*args, **env)
    assert result.returncode == 2
    one_line_error(result, message)
    assert calls == []


@pytest.mark.parametrize("tool", ["aws", "flask", "psql"])
def test_a_missing_tool_is_named_before_anything_runs(drill, tool):
    (drill.bin / tool).unlink()
    result, calls = drill("staging")
    assert result.returncode == 1
    assert f"db-restore-drill.sh: '{tool}' is not installed (needed to " in result.stderr
    assert calls == []


def test_no_aws_credentials_stops_before_anything_is_created(drill):
    result, calls = drill("prod", FAKE_FAIL="aws sts")
    assert result.returncode == 1
    assert "no usable AWS credentials" in result.stderr
    assert steps(calls) == ["aws sts get-caller-identity"]


# -- the drill ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_a_real_run_restores_waits_checks_and_deletes_in_that_order(drill, env):
    result, calls = drill(env)
    assert result.returncode == 0, result.stderr
    assert steps(calls) == REAL_RUN
    source = f"flask-auth-{env}-postgres"
    throwaway = drill_id(calls)
    assert throwaway.startswith(f"{source}-drill-") and len(throwaway) <= 63

    assert [option(c, "--db-instance-identifier") for c in calls[1:4]] == [source] * 3
    assert [option(c, "--snapshot-type") for c in calls[2:4]] == ["automated", "awsbackup"]
    restore = calls[4]
    # The newest *available* snapshot, across automated and AWS Backup ones.
    assert option(restore, "--db-snapshot-identifier") == "awsbackup:job-1"
    assert option(restore, "--db-subnet-group-name") == source
    assert option(restore, "--vpc-security-group-ids") == "sg-0db"
    assert "sg-0old" not in restore
    assert option(restore, "--db-parameter-group-name") == f"{source}-pg16-1"
    for flag in ("--no-publicly-accessible", "--no-deletion-protection", "--no-multi-az"):
        assert flag in restore
    assert "--manage-master-user-password" in restore
    assert "Key=drill,Value=true" in restore and f"Key=source,Value={source}" in restore
    assert "--db-instance-class" not in restore  # the snapshot's own class by default
    for call in calls[1:]:
        if call[0] == "aws":
            assert option(call, "--region") == "ap-south-1", call

    assert option(calls[5], "--db-instance-identifier") == throwaway  # the wait
    assert option(calls[6], "--db-instance-identifier") == throwaway
    assert option(calls[7], "--secret-id") == SECRET_ARN
    psql = calls[9]
    host = f"{throwaway}.abc.ap-south-1.rds.amazonaws.com"
    assert psql[1] == f"postgresql://flask_auth_admin@{host}:5432/flask_auth?sslmode=require"
    assert psql[-1] == "SELECT count(*) FROM users"
    delete = calls[10]
    assert option(delete, "--db-instance-identifier") == throwaway
    assert "--skip-final-snapshot" in delete and "--delete-automated-backups" in delete

    assert "snapshot           awsbackup:job-1 (awsbackup, taken 2026-12-04T01:00:00.000Z)" in result.stdout
    assert f"migration revision {REVISION} (head)" in result.stdout
    assert "users              42" in result.stdout
    assert "restore drill of " + env + ": passed" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_the_newest_automated_snapshot_wins_over_an_older_backup(drill):
    result, calls = drill("staging", FAKE_BACKUP_TIME="2026-11-30T01:00:00.000Z")
    assert result.returncode == 0, result.stderr
    assert option(calls[4], "--db-snapshot-identifier") == "rds:flask-auth-staging-postgres-2026-12-03-20-00"


def test_a_backup_behind_the_newest_migration_passes_and_says_so(drill):
    result, _ = drill("staging", FAKE_REVISION="0005")
    assert result.returncode == 0, result.stderr
    assert "migration revision 0005\n" in result.stdout
    assert "behind this checkout's newest migration" in result.stdout


def test_an_instance_class_can_be_chosen(drill):
    result, calls = drill("prod", DRILL_INSTANCE_CLASS="db.t4g.medium")
    assert result.returncode == 0, result.stderr
    assert option(calls[4], "--db-instance-class") == "db.t4g.medium"


@pytest.mark.parametrize(
    ("env", "failed_step", "message"),
    [
        ({"FAKE_FAIL": "flask"}, "flask db current", "migrations: flask --app app db current failed"),
        ({"FAKE_REVISION": ""}, "flask db current", "migrations: no revision recorded"),
        ({"FAKE_FAIL": "psql"}, "psql", "users: SELECT count(*) FROM users failed"),
        ({"FAKE_USERS": 'ERROR:  relation "users" does not exist'}, "psql", "users: SELECT count(*)"),
    ],
)
def test_a_failing_check_still_deletes_the_instance_and_exits_non_zero(drill, env, failed_step, message):
    result, calls = drill("staging", **env)
    assert result.returncode == 1
    assert failed_step in steps(calls)
    assert steps(calls)[-1] == "aws rds delete-db-instance"
    assert option(calls[-1], "--db-instance-identifier") == drill_id(calls)
    assert f"FAIL               {message}" in result.stdout
    assert "check(s) failed against the restored snapshot" in result.stderr
    assert "restore drill of staging FAILED" in result.stderr


def test_both_checks_run_even_when_the_first_fails(drill):
    result, calls = drill("staging", FAKE_FAIL="flask")
    assert result.returncode == 1
    assert steps(calls)[-3:] == ["flask db current", "psql", "aws rds delete-db-instance"]


@pytest.mark.parametrize(
    ("fail", "env", "message"),
    [
        ("aws rds wait", {"FAKE_DRILL_STATUS": "failed"}, "is failed"),
        ("aws rds wait", {"FAKE_DRILL_STATUS": "incompatible-restore"}, "is incompatible-restore"),
        ("aws secretsmanager", {}, "could not read the master password"),
        ("aws rds restore-db-instance-from-db-snapshot", {}, "restore-db-instance-from-db-snapshot failed"),
    ],
)
def test_a_failure_after_the_restore_was_asked_for_still_deletes(drill, fail, env, message):
    result, calls = drill("prod", FAKE_FAIL=fail, **env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "flask db current" not in steps(calls) and "psql" not in steps(calls)
    assert steps(calls)[-1] == "aws rds delete-db-instance"
    assert option(calls[-1], "--db-instance-identifier") == drill_id(calls)


def test_a_failed_delete_is_loud_and_says_how_to_delete_by_hand(drill):
    result, calls = drill("staging", FAKE_FAIL="aws rds delete-db-instance")
    assert result.returncode == 1
    throwaway = drill_id(calls)
    assert f"could not delete {throwaway}: delete it by hand: aws rds delete-db-instance" in result.stderr


def test_an_interrupted_drill_deletes_the_instance(drill):
    # The wait is where a drill spends its time: stop it there with SIGTERM.
    waiting = drill.tmp / "waiting"
    hang = drill.bin / "aws"
    hang.write_text(
        STAND_IN.replace(
            "call = ",
            "if sys.argv[1:3] == ['rds', 'wait']:\n"
            "    open(os.environ['FAKE_WAITING'], 'w').close()\n"
            "    import time; time.sleep(60)\n"
            "call = ",
            1,
        )
        + DRILL_ANSWERS
    )
    drill.log.write_text("")
    process = subprocess.Popen(
        [str(DRILL), "staging"],
        cwd=drill.tmp,
        env={**drill.env, "FAKE_WAITING": str(waiting)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            if waiting.exists():
                break
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail("the drill ended before its wait: " + process.stderr.read())
        assert waiting.exists()
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    calls = [json.loads(line) for line in drill.log.read_text().splitlines()]
    assert process.returncode != 0
    assert steps(calls)[-1] == "aws rds delete-db-instance", stderr
    assert option(calls[-1], "--db-instance-identifier") == drill_id(calls)


def test_no_snapshot_is_a_clear_error_and_nothing_is_created(drill):
    result, calls = drill("staging", FAKE_NO_SNAPSHOTS="1")
    assert result.returncode == 1
    assert "no available automated or AWS Backup snapshot of flask-auth-staging-postgres" in result.stderr
    assert "nothing was created" in result.stderr
    assert steps(calls) == REAL_RUN[:4]


def test_a_missing_source_instance_stops_before_anything_is_created(drill):
    result, calls = drill("prod", FAKE_FAIL="aws rds describe-db-instances")
    assert result.returncode == 1
    assert "aws rds describe-db-instances failed for flask-auth-prod-postgres" in result.stderr
    assert "restore-db-instance-from-db-snapshot" not in " ".join(steps(calls))
    assert "aws rds delete-db-instance" not in steps(calls)


# -- dry run ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_dry_run_makes_no_call_and_prints_every_one(drill, env):
    result, calls = drill(env, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert calls == []
    plan = [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]
    printed = [line.split(" ")[:3] for line in plan]
    assert [" ".join(w for w in words if not w.startswith("-")) for words in printed][:2] == [
        "aws sts get-caller-identity",
        "aws rds describe-db-instances",
    ]
    for operation in REAL_RUN:
        assert any(all(w in line.split(" ") for w in operation.split(" ")) for line in plan), operation
    (flask,) = [line for line in plan if " flask " in line]
    assert "APP_ENV=staging" in flask and "drill-" not in flask.split("SECRET_KEY=")[1]  # no key printed
    (restore,) = [line for line in plan if "restore-db-instance-from-db-snapshot" in line]
    assert "--no-publicly-accessible" in restore and "--no-deletion-protection" in restore
    (delete,) = [line for line in plan if "delete-db-instance" in line]
    assert f"--db-instance-identifier flask-auth-{env}-postgres-drill-" in delete
    assert "--skip-final-snapshot" in delete
    assert "nothing was created" in result.stdout


# -- lint ---------------------------------------------------------------------------------------


def test_the_drill_is_executable_shellcheck_clean_and_linted_by_make():
    assert os.access(DRILL, os.X_OK)
    shellcheck = ROOT / ".venv" / "bin" / "shellcheck"
    result = subprocess.run(
        [str(shellcheck), "-x", "-S", "style", str(DRILL)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
    # make lint-infra runs shellcheck on scripts/*.sh: the drill is among them.
    listed = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-shell-scripts"],
        input="print-shell-scripts:\n\t@echo $(wildcard $(SHELL_SCRIPTS))\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "scripts/db-restore-drill.sh" in listed.stdout.split()
