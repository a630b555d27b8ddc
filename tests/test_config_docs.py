"""One home per setting (issue 17): app/config.py declares every environment variable the
app and gunicorn.conf.py read; the README's tables are generated from that declaration
and must be current; nothing reads a variable that is not declared; gunicorn.conf.py
takes its defaults from the declaration without importing the app."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import (
    BY_NAME,
    ENVIRONMENTS,
    GUNICORN_SETTINGS,
    SETTINGS,
    Computed,
    ConfigError,
    Int,
    Setting,
)
from scripts import config_table

ROOT = Path(__file__).resolve().parents[1]
APP_TABLE = (BY_NAME["APP_ENV"], *SETTINGS)


def readme_rows() -> dict[str, str]:
    """Variable -> default cell of every row between the markers, read without the renderer."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index(config_table.BEGIN) : text.index(config_table.END)]
    return dict(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \| ", block, flags=re.MULTILINE))


# --- the README ----------------------------------------------------------------------------------


def test_the_readme_tables_are_what_the_declaration_generates():
    assert config_table.main(["--check"]) == 0, "run python -m scripts.config_table"


def test_the_readme_documents_exactly_the_declared_settings_with_their_defaults():
    rows = readme_rows()
    assert set(rows) == set(BY_NAME)
    assert len(rows) == len(BY_NAME) > 80
    for setting in BY_NAME.values():
        if not setting.default_doc and setting.default not in (None, "", ()):
            assert f"`{setting.kind.show(setting.default)}`" in rows[setting.name], setting.name


@pytest.mark.parametrize(
    "drift",
    [
        pytest.param(lambda s: s[:-1], id="a setting removed"),
        pytest.param(lambda s: (*s, Setting("NEW_SETTING", Int(), 1, "new")), id="a setting added"),
        pytest.param(
            lambda s: tuple(x.replace(default=7) if x.name == "LOCKOUT_THRESHOLD" else x for x in s),
            id="a default changed",
        ),
        pytest.param(
            lambda s: tuple(
                x.replace(by_env={"production": "text"}) if x.name == "LOG_FORMAT" else x for x in s
            ),
            id="a per-environment default changed",
        ),
    ],
)
def test_the_check_fails_when_the_declaration_drifts_from_the_readme(tmp_path, monkeypatch, drift):
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    monkeypatch.setattr(config_table, "README", readme)
    assert config_table.main(["--check"]) == 0  # control: the copy is current
    monkeypatch.setattr(config_table, "TABLES", (drift(APP_TABLE), GUNICORN_SETTINGS))
    assert config_table.main(["--check"]) == 1
    config_table.main([])  # regenerating makes the copy current again
    assert config_table.main(["--check"]) == 0


def test_the_check_fails_when_the_readme_is_edited_by_hand(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    edited = text.replace("| `GUNICORN_THREADS` | `4` |", "| `GUNICORN_THREADS` | `8` |")
    assert edited != text
    readme.write_text(edited)
    monkeypatch.setattr(config_table, "README", readme)
    assert config_table.main(["--check"]) == 1


# --- the declaration -----------------------------------------------------------------------------

# The process environment only (a WSGI environ's keys are no settings).
READS = re.compile(r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
CONTAINS = re.compile(r"""["']([A-Z][A-Z0-9_]+)["']\s+in\s+os\.environ\b""")


def test_every_variable_the_app_and_gunicorn_read_is_declared():
    sources = [*(ROOT / "app").rglob("*.py"), ROOT / "gunicorn.conf.py"]
    read = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in sources
        for pattern in (READS, CONTAINS)
        for name in pattern.findall(path.read_text())
    }
    assert ("app/__init__.py", "APP_ENV") in read  # the scan finds reads at all
    assert sorted((path, name) for path, name in read if name not in BY_NAME) == []


def test_every_literal_default_reads_back_as_itself():
    """A default, written as the environment value the README shows, is accepted by its own
    validation and gives the same value: the documented default is a real one."""
    checked = 0
    for setting in BY_NAME.values():
        defaults = [setting.default, *setting.by_env.values()]
        for default in defaults:
            if isinstance(default, Computed) or default in (None, "", ()):
                continue
            raw = setting.kind.show(default)
            assert setting.kind.parse(setting.name, raw) == default, setting.name
            checked += 1
    assert checked > 70


def test_per_environment_defaults_name_real_environments_and_computed_ones_are_documented():
    for setting in BY_NAME.values():
        assert set(setting.by_env) <= set(ENVIRONMENTS), setting.name
        assert set(setting.required_in) <= set(ENVIRONMENTS), setting.name
        if isinstance(setting.default, Computed) or (setting.default is None and setting.required_in):
            assert setting.default_doc, setting.name


# --- gunicorn.conf.py ----------------------------------------------------------------------------

LOAD_CONF = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("__config__", "gunicorn.conf.py")  # as gunicorn loads it
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
names = ("bind", "workers", "threads", "timeout", "graceful_timeout", "keepalive", "max_requests",
         "max_requests_jitter", "backlog", "forwarded_allow_ips", "loglevel")
print(json.dumps({
    "values": {name: getattr(conf, name) for name in names},
    "imported": sorted(m for m in ("flask", "sqlalchemy", "app", "limits") if m in sys.modules),
}))
"""

GUNICORN_VARS = [s.name for s in GUNICORN_SETTINGS] + ["APP_ENV", "LOG_LEVEL", "LOG_FORMAT"]


def load_gunicorn_conf(**environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in GUNICORN_VARS} | environ
    return subprocess.run(
        [sys.executable, "-c", LOAD_CONF], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_gunicorn_conf_takes_its_defaults_from_the_declaration_without_the_app():
    result = load_gunicorn_conf()
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["imported"] == []  # neither Flask nor the app package in the arbiter
    default = {s.name: s.default for s in GUNICORN_SETTINGS}
    assert loaded["values"] == {
        "bind": f"0.0.0.0:{default['PORT']}",
        "workers": os.cpu_count(),
        "threads": default["GUNICORN_THREADS"],
        "timeout": default["GUNICORN_TIMEOUT"],
        "graceful_timeout": default["GUNICORN_GRACEFUL_TIMEOUT"],
        "keepalive": default["GUNICORN_KEEPALIVE"],
        "max_requests": default["GUNICORN_MAX_REQUESTS"],
        "max_requests_jitter": default["GUNICORN_MAX_REQUESTS_JITTER"],
        "backlog": default["GUNICORN_BACKLOG"],
        "forwarded_allow_ips": default["FORWARDED_ALLOW_IPS"],
        "loglevel": BY_NAME["LOG_LEVEL"].default.lower(),
    }


def test_gunicorn_conf_reads_the_environment():
    result = load_gunicorn_conf(PORT="9000", WEB_CONCURRENCY="3", GUNICORN_THREADS="7", LOG_LEVEL="warning")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)["values"]
    assert (values["bind"], values["workers"], values["threads"]) == ("0.0.0.0:9000", 3, 7)
    assert values["loglevel"] == "warning"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_THREADS", "lots", "GUNICORN_THREADS must be a whole number, not 'lots'"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be at least 1, not 0"),
        ("APP_ENV", "prod", "APP_ENV must be one of development, testing, staging, production, not 'prod'"),
    ],
)
def test_gunicorn_conf_refuses_a_bad_value_by_name(name, value, message):
    result = load_gunicorn_conf(**{name: value})
    assert result.returncode != 0
    assert message in result.stderr
    assert ConfigError.__name__ in result.stderr


START_ARBITER = """
import importlib.util, sys, types
spec = importlib.util.spec_from_file_location("__config__", "gunicorn.conf.py")
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
server = types.SimpleNamespace(cfg=types.SimpleNamespace(workers=1, reload=sys.argv[1] == "reload"),
                               log=types.SimpleNamespace(info=lambda *args: None))
conf.on_starting(server)
print(sorted(m for m in ("flask", "app", "app.extensions") if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("mode", "imported"), [("serve", ["app", "app.extensions", "flask"]), ("reload", [])]
)
def test_the_arbiter_imports_the_app_modules_for_its_workers_except_under_reload(tmp_path, mode, imported):
    env = {k: v for k, v in os.environ.items() if k not in GUNICORN_VARS}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", START_ARBITER, mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.replace("'", '"')) == imported
