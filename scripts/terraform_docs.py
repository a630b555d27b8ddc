"""Write each Terraform module's inputs and outputs into its README.

The tables stand between terraform-docs' markers (<!-- BEGIN_TF_DOCS --> and
<!-- END_TF_DOCS -->) under the same two headings in every module, made from the
module's variable and output blocks (python-hcl2, in the infra venv), so a
README cannot drift from the code: tests/infra/test_terraform.py fails when one
is stale.

    .venv/bin/python scripts/terraform_docs.py          # rewrite the sections
    .venv/bin/python scripts/terraform_docs.py --check  # exit 1 when one is stale
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "terraform" / "modules"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
SECTION = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)


def declared(module: Path, kind: str) -> dict[str, dict]:
    """{name: body} of the module's `kind` blocks (variable or output), file by file in name
    order: a module's inputs.tf and log_inputs.tf are links to the inputs modules share."""
    found = {}
    for path in sorted(module.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        for entry in parsed.get(kind, []):
            for name, body in entry.items():
                if name != "__is_block__":
                    found[name] = body
    return found


def cell(text: str) -> str:
    """One table cell: a single line (a heredoc's body), pipes escaped."""
    text = re.sub(r"(?s)^<<-?(\w+)\n(.*)\n\s*\1$", r"\2", str(text))
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def hcl_expression(value) -> str:
    text = str(value)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def render(module: Path) -> str:
    lines = [
        BEGIN,
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|---|---|---|---|:---:|",
    ]
    for name, body in declared(module, "variable").items():
        required = "default" not in body
        default = "n/a" if required else f"`{cell(json.dumps(body['default']))}`"
        lines.append(
            f"| `{name}` | {cell(body.get('description', ''))} | `{cell(hcl_expression(body['type']))}` "
            f"| {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in declared(module, "output").items():
        lines.append(f"| `{name}` | {cell(body.get('description', ''))} |")
    return "\n".join([*lines, END])


def stale_readmes(write: bool) -> list[Path]:
    stale = []
    for module in sorted(p for p in MODULES.iterdir() if p.is_dir()):
        readme = module / "README.md"
        text = readme.read_text()
        if not SECTION.search(text):
            stale.append(readme)
            continue
        section = render(module)
        updated = SECTION.sub(lambda _match, section=section: section, text)
        if updated != text:
            stale.append(readme)
            if write:
                readme.write_text(updated)
    return stale


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = stale_readmes(write=not check)
    for readme in stale:
        action = "is stale" if check else "updated"
        if not SECTION.search(readme.read_text()):
            action = f"has no {BEGIN} ... {END} section"
        print(f"{readme.relative_to(ROOT)} {action}", file=sys.stderr)
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
