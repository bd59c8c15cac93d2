"""Incremental indexing: only what changed is read and re-chunked; ids follow the text."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from bff.context import FtsIndex, IndexReport
from bff.context import index as index_module
from bff.context.corpus import MAX_FILE_BYTES
from bff.exceptions import ContextError
from tests.context.conftest import FIXTURE_CORPUS


def _ids(index: FtsIndex, source: str) -> set[str]:
    words = " ".join(Path(source).stem.split("-")) + " " + FIXTURE_CORPUS[source]
    return {s.id for s in index.search(words, 100) if s.source == source}


def test_a_first_update_adds_every_file(tmp_path: Path, corpus: Path) -> None:
    with FtsIndex(tmp_path / "state" / "index.sqlite3") as index:  # the folder is created
        report = index.update(corpus)
    assert report == IndexReport(
        added=6, changed=0, removed=0, unchanged=0, read=6, chunks_written=8, chunks=8,
        skipped=(),
    )  # fmt: skip


def test_a_second_update_reads_nothing_even_after_reopening(tmp_path: Path, corpus: Path) -> None:
    path = tmp_path / "index.sqlite3"
    with FtsIndex(path) as index:
        index.update(corpus)
    with FtsIndex(path) as index:
        report = index.update(corpus)
        assert (report.read, report.unchanged, report.chunks_written) == (0, 6, 0)
        assert (report.added, report.changed, report.removed, report.chunks) == (0, 0, 0, 8)
        assert index.search("refund annual", 1)[0].source == "billing/refunds.md"


def test_editing_one_file_rechunks_only_it_and_changes_its_ids(
    index: FtsIndex, corpus: Path
) -> None:
    before = {source: _ids(index, source) for source in FIXTURE_CORPUS}
    edited = corpus / "billing/refunds.md"
    edited.write_text(edited.read_text().replace("30 days", "14 days"), encoding="utf-8")
    report = index.update(corpus)
    assert (report.changed, report.read, report.unchanged, report.chunks_written) == (1, 1, 5, 2)
    assert report.chunks == 8
    after = {source: _ids(index, source) for source in FIXTURE_CORPUS}
    annual_before = {
        i for i in before["billing/refunds.md"] if i.startswith("billing/refunds.md#0-")
    }
    annual_after = {i for i in after["billing/refunds.md"] if i.startswith("billing/refunds.md#0-")}
    assert annual_before != annual_after  # its text changed
    assert before["billing/refunds.md"] & after["billing/refunds.md"]  # "Monthly" did not
    for source in FIXTURE_CORPUS.keys() - {"billing/refunds.md"}:
        assert before[source] == after[source]
    assert "14 days" in index.search("annual refund", 1)[0].text


def test_an_edit_that_keeps_the_size_is_found_by_its_mtime_and_hash(
    index: FtsIndex, corpus: Path
) -> None:
    notes = corpus / "notes.txt"
    notes.write_text(FIXTURE_CORPUS["notes.txt"].replace("coffee", "teapot"), encoding="utf-8")
    os.utime(notes, ns=(1, 1))  # a new mtime, whatever the clock's resolution
    report = index.update(corpus)
    assert (report.changed, report.read) == (1, 1)
    assert index.search("teapot", 1)[0].source == "notes.txt"
    assert index.search("coffee", 1) == []


def test_a_touched_file_is_hashed_but_not_rechunked(index: FtsIndex, corpus: Path) -> None:
    os.utime(corpus / "notes.txt", ns=(2, 2))
    report = index.update(corpus)
    assert (report.read, report.changed, report.unchanged, report.chunks_written) == (1, 0, 6, 0)
    assert index.update(corpus).read == 0  # the new mtime was recorded


def test_a_deleted_file_loses_its_chunks(index: FtsIndex, corpus: Path) -> None:
    (corpus / "api/limits.md").unlink()
    report = index.update(corpus)
    assert (report.removed, report.unchanged, report.read, report.chunks) == (1, 5, 0, 7)
    assert index.search("429 requests per minute", 10) == []
    assert all(s.source != "api/limits.md" for s in index.search("rate limits retry", 10))
    assert index.search("webhooks signed", 1)[0].source == "api/webhooks.markdown"


def test_a_new_file_is_added_and_found(index: FtsIndex, corpus: Path) -> None:
    (corpus / "api" / "pagination.md").write_text("# Pagination\n\nCursors expire in 24 hours.\n")
    report = index.update(corpus)
    assert (report.added, report.read, report.unchanged) == (1, 1, 6)
    assert index.search("cursor expiry", 1)[0].source == "api/pagination.md"


def test_ids_are_stable_across_builds_and_name_source_and_ordinal(corpus: Path) -> None:
    with FtsIndex(":memory:") as first, FtsIndex(":memory:") as second:
        first.update(corpus)
        second.update(corpus)
        ids = [s.id for s in first.search("refunded plans", 2)]
        assert ids == [s.id for s in second.search("refunded plans", 2)]
    assert ids[0].startswith("billing/refunds.md#")
    ordinal, digest = ids[0].rpartition("#")[2].split("-")
    assert ordinal in ("0", "1") and len(digest) == 8 and int(digest, 16) >= 0


def test_another_corpus_folder_starts_the_index_over(tmp_path: Path, index: FtsIndex) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "one.md").write_text("# One\n\nA single page.\n")
    report = index.update(other)
    assert (report.removed, report.added, report.chunks) == (6, 1, 1)
    assert index.search("refund", 5) == []


def test_files_left_out_are_reported(tmp_path: Path, corpus: Path) -> None:
    (corpus / "image.png").write_bytes(b"\x89PNG")  # not a corpus file: silently ignored
    (corpus / ".hidden.md").write_text("# Hidden\n")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "HEAD.md").write_text("# Git\n")
    (corpus / "big.md").write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    (corpus / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    outside = tmp_path / "outside.md"
    outside.write_text("# Secret\n\nNot part of the corpus.\n")
    (corpus / "link-out.md").symlink_to(outside)
    (corpus / "link-in.md").symlink_to(corpus / "notes.txt")
    (corpus / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    with FtsIndex(":memory:") as index:
        report = index.update(corpus)
        assert {(s.source, s.reason) for s in report.skipped} == {
            ("big.md", "over the 2 MB cap"),
            ("latin1.md", "not UTF-8 text"),
            ("link-out.md", "a link to outside the corpus folder"),
        }
        assert report.added == 7  # the six, and the link that stays inside
        assert index.search("secret", 5) == []
        assert {s.source for s in index.search("coffee", 5)} == {"notes.txt", "link-in.md"}


@pytest.mark.parametrize("name", ["missing", "a-file.md"])
def test_a_corpus_that_is_no_folder_is_a_context_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-file.md").write_text("# A file\n")
    with FtsIndex(":memory:") as index, pytest.raises(ContextError, match=name):
        index.update(tmp_path / name)


def test_another_databases_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE files (owner TEXT)")
    with pytest.raises(ContextError, match="not a context index"):
        FtsIndex(path)
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM files").fetchone() == (0,)
    not_sqlite = tmp_path / "notes.md"
    not_sqlite.write_text("# Not a database at all, but long enough to have a header.\n" * 5)
    with pytest.raises(ContextError, match="cannot use"):
        FtsIndex(not_sqlite)


def test_an_index_of_an_older_schema_is_rebuilt(tmp_path: Path, corpus: Path) -> None:
    path = tmp_path / "index.sqlite3"
    with FtsIndex(path) as index:
        index.update(corpus)
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 0")
    with FtsIndex(path) as index:
        assert index.update(corpus).added == 6


def test_an_unwritable_index_location_is_a_context_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ContextError, match="cannot open the index"):
        FtsIndex(blocker / "index.sqlite3")


def test_no_fts5_is_a_clear_context_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoFts5:
        def execute(self, sql: str) -> None:
            raise sqlite3.OperationalError("no such module: fts5")

        def close(self) -> None:
            pass

    monkeypatch.setattr(index_module.sqlite3, "connect", lambda *_, **__: NoFts5())
    with pytest.raises(ContextError, match="no FTS5"):
        FtsIndex(":memory:")
