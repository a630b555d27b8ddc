"""The app's container image as tests/infra/test_docker.py builds and runs it: the docker
CLI, and what the build reports (the base image it used, the image's size) for the end of
the run (tests/infra/conftest.py prints it; under pytest-xdist each worker hands its part
to the controller there)."""

from __future__ import annotations

import subprocess

from tests.support.standins import DOCKER

# Filled by test_docker.py's fixtures: "base image" and "image size", each a line of the summary.
REPORT: dict[str, str] = {}


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DOCKER, *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
