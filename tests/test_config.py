"""Configuration: URL normalisation, required settings, dev defaults, bad values, pool options."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from app import config as app_config
from app import create_app
from app.config import ConfigError, DevelopmentConfig, ProductionConfig, StagingConfig, normalize_database_url
from app.extensions import db

GOOD_SECRET = "s" * 40

# Every variable these tests read, cleared so the developer's shell cannot leak in.
CONFIG_VARS = (
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "LOCKOUT_THRESHOLD",
    "RATELIMIT_ENABLED",
    "MAX_CONTENT_LENGTH",
    "DB_POOL_PRE_PING",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_RECYCLE_SECONDS",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def testing_env(clean_env, tmp_path):
    """A complete, valid testing environment on a throwaway SQLite file (never opened)."""
    clean_env.setenv("APP_ENV", "testing")
    clean_env.setenv("SECRET_KEY", GOOD_SECRET)
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    return clean_env


# --- normalize_database_url -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg2://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+psycopg2://u:p@h/db"),
        (
            "  postgres://u:p@h:5433/db?sslmode=require ",
            "postgresql+psycopg2://u:p@h:5433/db?sslmode=require",
        ),
        ("postgresql+psycopg2://u:p@h/db", "postgresql+psycopg2://u:p@h/db"),
        ("sqlite:///path/app.db", "sqlite:///path/app.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalize_database_url_maps_to_installed_driver(url, expected):
    """Operators' pasted URLs end up on psycopg2 (the only PostgreSQL driver installed)."""
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://u:p@h/db", "'mysql'"),
        ("postgresql+psycopg://u:p@h/db", "'postgresql+psycopg'"),
        ("not a url at all", "'not a url at all'"),
        ("", "''"),
    ],
)
def test_normalize_database_url_refuses_other_schemes(url, named):
    """An unsupported DATABASE_URL is a clear ConfigError, not a driver import error later."""
    with pytest.raises(ConfigError) as excinfo:
        normalize_database_url(url)
    message = str(excinfo.value)
    assert "DATABASE_URL" in message
    assert named in message
    assert "postgresql://" in message  # says what would be accepted


def test_create_app_with_postgres_scheme_uses_psycopg2(testing_env):
    """A postgres:// DATABASE_URL builds a psycopg2 engine (SQLAlchemy itself refuses postgres://)."""
    testing_env.setenv("DATABASE_URL", "postgres://u:p@db.invalid/app")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u:p@db.invalid/app"
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.dialect.driver == "psycopg2"
        db.engine.dispose()


def test_postgres_scheme_connects_to_real_database(backend, database_url, testing_env):
    """The normalised URL really connects: postgres:// on PostgreSQL, sqlite:// on SQLite."""
    if backend == "postgresql":
        assert os.environ["TEST_DATABASE_URL"]
        assert database_url.startswith("postgresql")
        url = "postgres://" + database_url.split("://", 1)[1]
        expected_driver = "psycopg2"
    else:
        url = database_url
        expected_driver = "pysqlite"
    testing_env.setenv("DATABASE_URL", url)
    app = create_app()
    with app.app_context():
        try:
            assert db.engine.dialect.name == backend
            assert db.engine.dialect.driver == expected_driver
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
                # The per-run database has been migrated: this is the right database.
                assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        finally:
            db.engine.dispose()


# --- staging and production refuse to guess ------------------------------------------------------


@pytest.mark.parametrize("env_name", ["staging", "production"])
@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL"])
def test_staging_and_production_require_settings(clean_env, env_name, missing):
    """Staging/production never fall back to a generated secret or a local SQLite file."""
    clean_env.setenv("APP_ENV", env_name)
    clean_env.setenv("SECRET_KEY", GOOD_SECRET)
    clean_env.setenv("DATABASE_URL", "postgresql://u:p@db.invalid/app")
    clean_env.delenv(missing)
    with pytest.raises(ConfigError) as excinfo:
        create_app()
    assert missing in str(excinfo.value)
    assert env_name in str(excinfo.value)


@pytest.mark.parametrize("env_name", ["staging", "production"])
def test_blank_secret_key_counts_as_missing(clean_env, env_name):
    """A whitespace-only SECRET_KEY is as good as none."""
    clean_env.setenv("APP_ENV", env_name)
    clean_env.setenv("SECRET_KEY", "   ")
    clean_env.setenv("DATABASE_URL", "postgresql://u:p@db.invalid/app")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


@pytest.mark.parametrize("env_name", ["staging", "production"])
def test_staging_and_production_start_with_full_settings(clean_env, env_name):
    """Control: with both settings present the same environments start."""
    clean_env.setenv("APP_ENV", env_name)
    clean_env.setenv("SECRET_KEY", GOOD_SECRET)
    clean_env.setenv("DATABASE_URL", "postgresql://u:p@db.invalid/app")
    app = create_app()
    assert app.config["APP_ENV"] == env_name
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_production_refuses_short_secret_key(clean_env, secret):
    """A guessable (< 32 characters) SECRET_KEY is refused in production."""
    clean_env.setenv("APP_ENV", "production")
    clean_env.setenv("SECRET_KEY", secret)
    clean_env.setenv("DATABASE_URL", "postgresql://u:p@db.invalid/app")
    with pytest.raises(ConfigError) as excinfo:
        create_app()
    assert "SECRET_KEY" in str(excinfo.value)
    assert "32" in str(excinfo.value)


def test_production_accepts_32_character_secret_key():
    """Control for the length rule: exactly 32 characters is enough."""
    config = ProductionConfig(
        environ={"SECRET_KEY": "k" * 32, "DATABASE_URL": "postgresql://u:p@db.invalid/app"}
    )
    assert config.SECRET_KEY == "k" * 32


# --- development defaults --------------------------------------------------------------------


def test_development_generates_and_keeps_secret_key(tmp_path):
    """Development writes one random secret to instance/secret_key (0600) and reuses it."""
    instance = tmp_path / "instance"
    first = DevelopmentConfig(environ={}, instance_path=instance)
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.SECRET_KEY) >= 32
    assert key_file.read_text().strip() == first.SECRET_KEY

    second = DevelopmentConfig(environ={}, instance_path=instance)
    assert second.SECRET_KEY == first.SECRET_KEY

    # Another checkout gets its own secret: it is generated, not a constant.
    other = DevelopmentConfig(environ={}, instance_path=tmp_path / "other")
    assert other.SECRET_KEY != first.SECRET_KEY


def test_development_explicit_secret_key_wins(tmp_path):
    """An explicit SECRET_KEY is used as given and no file is written."""
    config = DevelopmentConfig(environ={"SECRET_KEY": "mine"}, instance_path=tmp_path)
    assert config.SECRET_KEY == "mine"
    assert not (tmp_path / "secret_key").exists()


def test_development_defaults_to_sqlite_in_instance(tmp_path):
    """Without DATABASE_URL development uses instance/app.db (absolute path)."""
    config = DevelopmentConfig(environ={}, instance_path=tmp_path)
    expected = f"sqlite:///{(tmp_path / 'app.db').resolve()}"
    uri = config.SQLALCHEMY_DATABASE_URI
    assert uri == expected
    assert config.SQLALCHEMY_ENGINE_OPTIONS == {"hide_parameters": True, "connect_args": {"timeout": 5.0}}
    assert config.SESSION_COOKIE_SECURE is False


# --- bad values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_ENV", "nonsense"),
        ("LOCKOUT_THRESHOLD", "abc"),
        ("LOCKOUT_THRESHOLD", "0"),
        ("RATELIMIT_ENABLED", "maybe"),
        ("MAX_CONTENT_LENGTH", "10"),
        ("MAX_CONTENT_LENGTH", "lots"),
    ],
)
def test_bad_values_are_refused_by_name(testing_env, name, value):
    """A malformed setting stops start-up with an error naming the variable."""
    testing_env.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        create_app()
    assert name in str(excinfo.value)
    assert value in str(excinfo.value)


@pytest.mark.parametrize(
    ("name", "value", "key", "expected"),
    [
        ("LOCKOUT_THRESHOLD", "7", "LOCKOUT_THRESHOLD", 7),
        ("RATELIMIT_ENABLED", "false", "RATELIMIT_ENABLED", False),
        ("RATELIMIT_ENABLED", "Yes", "RATELIMIT_ENABLED", True),
        ("MAX_CONTENT_LENGTH", "2048", "MAX_CONTENT_LENGTH", 2048),
    ],
)
def test_good_values_are_read_from_environment(testing_env, name, value, key, expected):
    """Control: the same variables, well-formed, reach app.config."""
    testing_env.setenv(name, value)
    app = create_app()
    assert app.config[key] == expected


def test_app_env_picks_the_config_class(testing_env):
    """APP_ENV selects the class; an override mapping can pick it too."""
    assert create_app().config["TESTING"] is True
    testing_env.setenv("APP_ENV", "production")
    assert create_app({"APP_ENV": "testing"}).config["APP_ENV"] == "testing"


# --- engine options --------------------------------------------------------------------------

PG_ENV = {"SECRET_KEY": GOOD_SECRET, "DATABASE_URL": "postgresql://u:p@db.invalid/app"}


def test_postgresql_engine_options_defaults():
    """PostgreSQL pools check connections before use and recycle them by default."""
    options = ProductionConfig(environ=PG_ENV).SQLALCHEMY_ENGINE_OPTIONS
    assert options["pool_pre_ping"] is True
    assert options["pool_size"] == 5
    assert options["max_overflow"] == 5
    assert options["pool_recycle"] == 1800
    assert options["connect_args"]["connect_timeout"] == 5


def test_postgresql_engine_options_from_environment():
    """DB_POOL_* variables tune the pool."""
    env = dict(
        PG_ENV,
        DB_POOL_PRE_PING="false",
        DB_POOL_SIZE="11",
        DB_MAX_OVERFLOW="3",
        DB_POOL_RECYCLE_SECONDS="600",
    )
    options = StagingConfig(environ=env).SQLALCHEMY_ENGINE_OPTIONS
    assert options["pool_pre_ping"] is False
    assert options["pool_size"] == 11
    assert options["max_overflow"] == 3
    assert options["pool_recycle"] == 600


def test_postgresql_engine_options_reach_the_engine(clean_env):
    """The options are applied to the engine create_app builds, not only stored."""
    for name, value in PG_ENV.items():
        clean_env.setenv(name, value)
    clean_env.setenv("APP_ENV", "production")
    clean_env.setenv("DB_POOL_SIZE", "9")
    clean_env.setenv("DB_MAX_OVERFLOW", "2")
    clean_env.setenv("DB_POOL_RECYCLE_SECONDS", "300")
    app = create_app()
    with app.app_context():
        pool = db.engine.pool
        assert pool.size() == 9
        assert pool._max_overflow == 2
        assert pool._recycle == 300
        assert pool._pre_ping is True
        db.engine.dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [("DB_POOL_SIZE", "0"), ("DB_POOL_SIZE", "big"), ("DB_POOL_PRE_PING", "sometimes")],
)
def test_bad_pool_settings_are_refused(name, value):
    """A malformed pool setting is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=name):
        ProductionConfig(environ=dict(PG_ENV, **{name: value}))


def test_sqlite_has_no_pool_options(tmp_path):
    """SQLite gets no PostgreSQL pool options, even when DB_POOL_* are set; only its busy timeout."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "DB_POOL_SIZE": "11",
        "DB_BUSY_TIMEOUT_MS": "750",
    }
    assert app_config.TestingConfig(environ=env, instance_path=tmp_path).SQLALCHEMY_ENGINE_OPTIONS == {
        "hide_parameters": True,
        "connect_args": {"timeout": 0.75},
    }


def test_every_database_wait_is_bounded_below_gunicorns_timeout():
    """Statement, lock and pool waits default to a few seconds, all under gunicorn's 30 s."""
    options = ProductionConfig(environ=PG_ENV).SQLALCHEMY_ENGINE_OPTIONS
    assert options["pool_timeout"] == 3
    assert options["connect_args"]["options"] == "-c statement_timeout=5000 -c lock_timeout=3000"
    env = dict(PG_ENV, DB_STATEMENT_TIMEOUT_MS="800", DB_LOCK_TIMEOUT_MS="200", DB_POOL_TIMEOUT_SECONDS="2")
    options = ProductionConfig(environ=env).SQLALCHEMY_ENGINE_OPTIONS
    assert options["pool_timeout"] == 2
    assert options["connect_args"]["options"] == "-c statement_timeout=800 -c lock_timeout=200"


@pytest.mark.parametrize(
    "name",
    ["DB_STATEMENT_TIMEOUT_MS", "DB_LOCK_TIMEOUT_MS", "DEPENDENCY_RETRY_AFTER_SECONDS", "REDIS_TIMEOUT_MS"],
)
def test_bad_timeouts_are_refused(name):
    env = dict(PG_ENV, RATELIMIT_STORAGE_URI="redis://cache.invalid:6379/0", **{name: "0"})
    with pytest.raises(ConfigError, match=name):
        ProductionConfig(environ=env)


def test_redis_waits_are_bounded_and_limits_fall_back_to_memory():
    """A Redis rate-limit store gets socket timeouts; every store gets the in-memory fallback."""
    config = ProductionConfig(environ=dict(PG_ENV, RATELIMIT_STORAGE_URI="redis://cache.invalid:6379/0"))
    assert config.RATELIMIT_STORAGE_OPTIONS == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    assert config.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED is True
    assert config.DEPENDENCY_RETRY_AFTER_SECONDS == 5
    assert not hasattr(ProductionConfig(environ=PG_ENV), "RATELIMIT_STORAGE_OPTIONS")
