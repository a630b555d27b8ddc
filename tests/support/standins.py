"""The service images docker-compose.dev.yml names, on a Docker engine that
cannot pull them: built from the recipes in tests/support/compose_standins on
the debootstrap base of scripts/ci/docker-engine.sh (Debian's PostgreSQL,
redis-server and an aiosmtpd mail sink with Mailpit's API), then tagged with
the compose file's image names so the compose file runs unchanged.

A built stand-in is kept as flask-auth-standin/NAME:HASH, the hash covering its
recipe and the base image: the next run only tags it again. Where the engine
could pull the official base (BASE_IMAGE_KIND=official), the official service
images are pulled instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPES = Path(__file__).resolve().parent / "compose_standins"
# Debian's docker.io client (/usr/bin/docker) builds with the engine's own BuildKit; a newer
# client elsewhere on PATH may insist on a buildx plugin that is not here. tests.support.container
# runs the app's image with it too.
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (shutil.which("docker") or "docker")
# recipe directory -> the compose service whose image it stands in for
SERVICES = {"postgres": "db", "redis": "redis", "mailpit": "mailpit"}


def _docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False)


def docker_build(*args: str) -> None:
    """`docker build ARGS` with BuildKit; a failure shows the end of the build log."""
    built = subprocess.run(
        [DOCKER, "build", *args],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]


def compose_images() -> dict[str, str]:
    """service -> image, as the compose file names them."""
    services = yaml.safe_load((ROOT / "docker-compose.dev.yml").read_text())["services"]
    return {service: services[service]["image"] for service in SERVICES.values()}


def recipe_hash(recipe: str, base_image: str) -> str:
    """What decides the stand-in's content: its files and the base image's id."""
    base_id = _docker("image", "inspect", "-f", "{{.Id}}", base_image).stdout.strip()
    assert base_id, f"base image {base_image} is missing"
    digest = hashlib.sha256(base_id.encode())
    for path in sorted((RECIPES / recipe).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(RECIPES)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_service_images(base_image: str, kind: str | None = None) -> dict[str, str]:
    """Make every service image of the compose file present; image -> where it came from."""
    kind = kind or os.environ.get("BASE_IMAGE_KIND", "stand-in")
    report = {}
    for recipe, service in SERVICES.items():
        image = compose_images()[service]
        if kind == "official":
            pulled = _docker("pull", "--quiet", image)
            assert pulled.returncode == 0, pulled.stderr
            report[image] = "official"
            continue
        cached = f"flask-auth-standin/{recipe}:{recipe_hash(recipe, base_image)}"
        how = "cached stand-in"
        if _docker("image", "inspect", cached).returncode != 0:
            docker_build("--build-arg", f"BASE_IMAGE={base_image}", "-t", cached, str(RECIPES / recipe))
            how = "stand-in built now"
        tagged = _docker("tag", cached, image)
        assert tagged.returncode == 0, tagged.stderr
        report[image] = f"{how} ({cached})"
    return report
