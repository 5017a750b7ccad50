"""The README lists every service's authority table; this keeps it in step with the code
(003 §5 (三)). Regenerate the README section with `yidi authority`."""

from __future__ import annotations

from pathlib import Path

from runtime.cli import authority_tables

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_every_authority_table_as_the_code_has_it():
    readme = README.read_text(encoding="utf-8")
    for table in authority_tables().split("\n\n**"):
        table = table if table.startswith("**") else f"**{table}"
        assert table.strip() in readme, f"README is missing or out of date for:\n{table}\n(run `yidi authority`)"
