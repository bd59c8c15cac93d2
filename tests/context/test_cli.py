"""``bff index [PATH]``: builds or updates the index and reports; bad paths exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bff.cli import main
from bff.config import cached_index_file
from tests.processes import BFF, clean_env

pytestmark = pytest.mark.usefixtures("clean_environ")


def test_index_builds_then_updates_the_cache_file_of_the_folder(
    corpus: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["index", str(corpus)]) == 0
    out = capsys.readouterr().out.splitlines()
    index_file = cached_index_file(corpus)
    assert index_file.is_relative_to(tmp_path / "cache" / "llm-bff") and index_file.exists()
    assert out[0].startswith(f"indexed {corpus} into {index_file} in ")
    assert out[1:] == [
        "files: 6 added, 0 changed, 0 removed, 0 unchanged (6 read)",
        "chunks: 8 written, 8 in the index",
    ]
    (corpus / "notes.txt").unlink()
    (corpus / "big.md").write_bytes(b"#" * (2 * 1024 * 1024 + 1))
    assert main(["index", str(corpus)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "files: 0 added, 0 changed, 1 removed, 5 unchanged (0 read)",
        "chunks: 0 written, 7 in the index",
        "skipped big.md: over the 2 MB cap",
    ]


def test_index_defaults_to_the_configured_corpus_and_index_file(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BFF_CORPUS_PATH", str(corpus))
    monkeypatch.setenv("BFF_CONTEXT_INDEX_PATH", str(tmp_path / "here.sqlite3"))
    assert main(["index"]) == 0
    assert capsys.readouterr().out.startswith(f"indexed {corpus} into {tmp_path}/here.sqlite3")


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing", "does not exist"), ("file.md", "is not a folder")],
)
def test_a_path_that_is_no_folder_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    (tmp_path / "file.md").write_text("# A page\n")
    assert main(["index", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"bff index: corpus {'folder ' if name == 'missing' else ''}" + (
        f"{tmp_path / name} {message}\n"
    )
    assert not (tmp_path / "cache").exists()  # no index file was left for the bad path


def test_a_bad_corpus_setting_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BFF_CORPUS_PATH", "/no/such/corpus")
    assert main(["index"]) == 2
    assert capsys.readouterr().err.startswith("bff: invalid setting BFF_CORPUS_PATH: no such")


def test_the_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [*BFF, "index", str(tmp_path / "missing")],
        env=clean_env(XDG_CACHE_HOME=str(tmp_path / "cache")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"bff index: corpus folder {tmp_path / 'missing'} does not exist\n"
