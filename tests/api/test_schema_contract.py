"""graphql/ is the contract: the SDL matches the code, and every operation is valid."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from graphql import build_schema, parse, validate
from tests.api.helpers import OPERATIONS, fragment_names, operation
from tests.processes import BFF

SDL = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


def test_schema_file_matches_export_schema() -> None:
    exported = subprocess.run([*BFF, "export-schema"], capture_output=True, text=True, check=True)
    assert exported.stdout == SDL.read_text(), (
        "graphql/schema.graphql is stale: run `bff export-schema > graphql/schema.graphql`"
    )


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in OPERATIONS.glob("*.graphql") if p.stem != "fragments")
)
def test_operation_is_valid_against_the_schema(name: str) -> None:
    schema = build_schema(SDL.read_text())
    errors = validate(schema, parse(operation(name)))
    assert errors == []


def test_every_fragment_is_used() -> None:
    used = "".join(operation(p.stem) for p in OPERATIONS.glob("*.graphql") if p.stem != "fragments")
    for fragment in fragment_names():
        assert f"fragment {fragment} " in used, fragment


def test_a_broken_operation_would_be_caught() -> None:
    schema = build_schema(SDL.read_text())
    assert validate(schema, parse("query { health { nope } }"))
