"""The README's configuration tables, generated from the declaration in app/config.py.

    python -m scripts.config_table          rewrite the tables in README.md
    python -m scripts.config_table --check  exit 1 when README.md is not what this writes

tests/test_config_docs.py runs the check: a setting added, removed or given another
default in app/config.py without running this fails the suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.config import APP_ENV, ENVIRONMENTS, GUNICORN_SETTINGS, SETTINGS, Setting

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN = "<!-- settings: generated from app/config.py by `python -m scripts.config_table`; do not edit -->"
END = "<!-- end of settings -->"


def shown(setting: Setting, value: Any) -> str:
    if value is None or value == "" or value == ():
        return "none"
    return f"`{setting.kind.show(value)}`"


def default_text(setting: Setting) -> str:
    """The default as an operator sets it, then where an APP_ENV has another one."""
    if setting.default_doc:
        return setting.default_doc
    text = shown(setting, setting.default)
    others: dict[str, list[str]] = {}
    for env_name in ENVIRONMENTS:
        if env_name in setting.by_env:
            others.setdefault(shown(setting, setting.by_env[env_name]), []).append(env_name)
    if others:
        text += " (" + "; ".join(f"{', '.join(envs)}: {value}" for value, envs in others.items()) + ")"
    return text


def table(settings: tuple[Setting, ...]) -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for setting in settings:
        cells = (f"`{setting.name}`", default_text(setting), setting.doc)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


# The app's settings (APP_ENV first), then gunicorn.conf.py's.
TABLES: tuple[tuple[Setting, ...], tuple[Setting, ...]] = ((APP_ENV, *SETTINGS), GUNICORN_SETTINGS)


def render() -> str:
    app_settings, gunicorn_settings = TABLES
    return "\n".join(
        [
            BEGIN,
            table(app_settings),
            "",
            "Gunicorn (`gunicorn.conf.py`, in the arbiter, before any worker starts):",
            "",
            table(gunicorn_settings),
            END,
        ]
    )


def with_tables(readme: str, generated: str) -> str:
    """readme with the text between the markers (markers included) replaced."""
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + generated + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check that README.md is current")
    args = parser.parse_args(argv)
    current = README.read_text()
    wanted = with_tables(current, render())
    if args.check:
        if wanted != current:
            print(
                "README.md's settings tables are stale: run python -m scripts.config_table", file=sys.stderr
            )
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
