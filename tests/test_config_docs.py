"""The configuration table of docs/configuration.md is the one the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from bff.config import Settings
from bff.config_docs import BEGIN, END, main, replaced, settings_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_documented_table_is_the_generated_one() -> None:
    document = DOC.read_text(encoding="utf-8")
    assert replaced(document, settings_table()) == document, (
        "docs/configuration.md is out of date: run "
        "`.venv/bin/python -m bff.config_docs --write docs/configuration.md`"
    )


def test_every_setting_has_a_row_and_a_meaning() -> None:
    table = settings_table()
    for name, info in Settings.model_fields.items():
        assert any(f"`{key}`" in table for key in (name, f"[{name}]", f"[{name}.NAME]")), name
        assert info.description, f"{name} has no description"


def test_a_changed_description_is_caught(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(f"intro\n{BEGIN}\n\n| old |\n\n{END}\nrest\n", encoding="utf-8")
    assert replaced(stale.read_text(), settings_table()) != stale.read_text()
    assert main(["--write", str(stale)]) == 0
    assert stale.read_text().startswith("intro\n") and stale.read_text().endswith("rest\n")
    assert replaced(stale.read_text(), settings_table()) == stale.read_text()
    with pytest.raises(ValueError, match="no <!-- settings:begin -->"):
        replaced("no markers", settings_table())
