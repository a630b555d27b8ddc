"""Production settings built from an environment, as the config tests build them."""

from __future__ import annotations

import re

import pytest

from app.config import ConfigError, config_class

# The least a production environment needs; each test adds the settings it is about.
PRODUCTION_BASE = {"SECRET_KEY": "s" * 40, "DATABASE_URL": "sqlite:///:memory:"}


def production_config(**environ: str):
    """The production config for PRODUCTION_BASE plus `environ`."""
    return config_class("production")({**PRODUCTION_BASE, **environ})


def assert_production_refuses(environ: dict[str, str], message: str) -> None:
    """Production refuses to start with `environ`, with an error containing `message`."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        production_config(**environ)
