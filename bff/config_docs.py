"""The configuration table of docs/configuration.md, generated from ``Settings``.

``python -m bff.config_docs`` prints it; ``python -m bff.config_docs --write FILE``
puts it between the ``<!-- settings:begin -->`` and ``<!-- settings:end -->``
lines of FILE. A test fails when the file and the fields disagree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

from bff.config import Settings

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def settings_table() -> str:
    """Every setting: its environment variable, its TOML key, its default, its meaning."""
    rows = ["| environment | TOML key | default | meaning |", "|---|---|---|---|"]
    for name, info in Settings.model_fields.items():
        rows.append(f"| {_env(name, info)} | {_toml(name, info)} | {_default(info)} | "
                    f"{info.description} |")  # fmt: skip
    return "\n".join(rows)


def _table_like(info: FieldInfo) -> bool:
    """Whether the setting is a table of named entries (``[prices."route"]``)."""
    return get_origin(info.annotation) is dict


def _env(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    variable = str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"BFF_{name.upper()}"
    return f"`{variable}` (JSON)" if _table_like(info) else f"`{variable}`"


def _toml(name: str, info: FieldInfo) -> str:
    if not _table_like(info):
        return f"`{name}`"
    _, entry = get_args(info.annotation)
    if isinstance(entry, type) and issubclass(entry, BaseModel):
        return f"`[{name}.NAME]`"  # a section per entry
    return f"`[{name}]`"  # one section of ``"key" = value`` lines


def _default(info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    text: Any = extra.get("default_text")
    if text is not None:
        return str(text)
    value = info.default
    if value is None or value in ([], {}):
        return "none"
    if isinstance(value, BaseModel):  # pragma: no cover - no setting has one
        return "`" + value.model_dump_json() + "`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def replaced(document: str, table: str) -> str:
    """``document`` with ``table`` between its settings markers."""
    head, found, rest = document.partition(BEGIN)
    _, ended, tail = rest.partition(END)
    if not (found and ended):
        raise ValueError(f"the document has no {BEGIN} ... {END} block")
    return f"{head}{BEGIN}\n\n{table}\n\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bff.config_docs", description=__doc__)
    parser.add_argument("--write", type=Path, metavar="FILE", help="update FILE in place")
    args = parser.parse_args(argv)
    table = settings_table()
    if args.write is None:
        print(table)
        return 0
    args.write.write_text(replaced(args.write.read_text(encoding="utf-8"), table), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
