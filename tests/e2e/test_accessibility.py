"""axe-core (axe-playwright-python) on every page, signed out and signed in, at desktop and phone widths.

No violation of impact "serious" or "critical" may remain. The full axe results of each page
(every impact, and what axe could not decide) are kept in test-artifacts/e2e/axe-<page>-<width>.json
for a person to read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from .support import DESKTOP, PAGES, PHONE, Mailbox, open_page

BLOCKING = {"serious", "critical"}
AXE = Axe()


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    target {', '.join(map(str, node['target']))}: {node['html'][:200]}")
    return "\n".join(lines)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_accessibility_violations(
    name: str, viewport: dict, make_context, new_user, mailbox: Mailbox, artifacts_dir: Path
) -> None:
    phone = viewport is PHONE
    page = make_context(viewport=viewport, is_mobile=phone, has_touch=phone).new_page()
    open_page(name, page, new_user(), mailbox)
    results = AXE.run(page)
    violations = results.response["violations"]
    assert results.response["passes"], f"axe checked nothing on {name}"
    report = {"url": page.url, "violations": violations, "incomplete": results.response["incomplete"]}
    (artifacts_dir / f"axe-{name}-{viewport['width']}.json").write_text(json.dumps(report, indent=2))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {name} at {viewport['width']} px ({page.url}):\n{describe(blocking)}"
