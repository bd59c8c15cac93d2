"""The embedded search index: SQLite FTS5 over a corpus folder, updated incrementally.

One SQLite file holds a ``files`` table (what was indexed: path, size, mtime, SHA-256,
and the rowids of its chunks), a ``chunks`` FTS5 table (id, source, title, text,
tokens) ranked with BM25, a match in a title weighing more than one in the text, and a
``terms`` table (how many chunks hold each term, which ``bff.context.terms`` uses to
keep searches fast). ``update`` reads only what changed: a file with the size and mtime
it had is not opened, one whose bytes hash the same is not re-chunked. An index belongs
to one corpus folder; pointed at another, it starts over.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bff.context.chunking import chunk_text
from bff.context.corpus import CorpusFile, Skipped, corpus_root, scan
from bff.context.query import match_expression, query_words
from bff.context.snippets import Snippet, snippet_id, snippet_tokens
from bff.context.terms import TOKENIZER, Stemmer, plan
from bff.exceptions import ContextError

APPLICATION_ID = 0x62666678  # "bffx" in the file's header: this file is a context index
SCHEMA_VERSION = 1
TITLE_WEIGHT = 3.0
"""BM25 weight of the title column against the text's 1.0: a question naming a topic
should find the section about it before a passing mention."""
_TABLES = ("meta", "files", "chunks", "terms")
_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, first_rowid INTEGER NOT NULL, chunks INTEGER NOT NULL
);
CREATE VIRTUAL TABLE chunks USING fts5(
    id UNINDEXED, source UNINDEXED, title, text, tokens UNINDEXED,
    tokenize = '{TOKENIZER}'
);
CREATE TABLE terms (term TEXT PRIMARY KEY, chunks INTEGER NOT NULL)
    WITHOUT ROWID;
"""
# The weights follow the columns: id, source, title, text, tokens.
_SEARCH = f"""
SELECT id, source, title, text, tokens, bm25(chunks, 0, 0, {TITLE_WEIGHT}, 1, 0) AS rank
FROM chunks WHERE chunks MATCH ? ORDER BY rank LIMIT ?
"""


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What an ``update`` did. ``read`` counts the files opened (new, changed, or with a
    new mtime); ``chunks`` is the index's total after the update."""

    added: int
    changed: int
    removed: int
    unchanged: int
    read: int
    chunks_written: int
    chunks: int
    skipped: tuple[Skipped, ...]


class FtsIndex:
    """A corpus's search index in the SQLite file ``path`` (``":memory:"`` for none).

    Calls are serialized by a lock, so a retriever may run searches in worker threads.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._next_rowid = 1  # the rowid of the next chunk written (set by each update)
        require_fts5()
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise ContextError(f"cannot open the index {path}: {_reason(exc)}") from exc
        try:
            foreign = self._foreign()
            if not foreign:
                self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            raise ContextError(f"cannot use {path} as an index: {_reason(exc)}") from exc
        if foreign:
            self._db.close()
            raise ContextError(f"{path} is a SQLite database, but not a context index")
        self._stemmer = Stemmer()

    def _foreign(self) -> bool:
        """Whether the file is some other database, whose tables must not be touched."""
        (application,) = self._db.execute("PRAGMA application_id").fetchone()
        (tables,) = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return bool(application != APPLICATION_ID and tables > 0)

    def _prepare(self) -> None:
        """Create the tables in a new file, or start over in one of another schema; an
        index of this schema is not written to, so it may be read-only."""
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version != SCHEMA_VERSION:
            self._db.executescript("".join(f"DROP TABLE IF EXISTS {t};" for t in _TABLES))
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # How many chunks hold each term, counted from the postings (slow for a common
        # term); ``terms`` keeps the counts of the last update.
        self._db.execute("CREATE VIRTUAL TABLE temp.postings USING fts5vocab(main, chunks, row)")

    def close(self) -> None:
        self._db.close()
        self._stemmer.close()

    def __enter__(self) -> FtsIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, corpus: Path) -> IndexReport:
        """Bring the index up to date with the folder ``corpus``, in one transaction (a
        failed update leaves the index as it was). ContextError when it is no folder."""
        root = corpus_root(corpus)
        files, skipped = scan(root)
        counts: Counter[str] = Counter()
        try:
            with self._lock, self._db:
                counts["removed"] = self._claim(root)
                rows = self._db.execute("SELECT path, size, mtime_ns, sha256 FROM files")
                known = {path: (size, mtime_ns, sha) for path, size, mtime_ns, sha in rows}
                self._next_rowid = self._last_rowid() + 1
                indexed = set()
                for file in files:
                    outcome = self._refresh(file, known.get(file.source), counts)
                    if isinstance(outcome, Skipped):
                        skipped.append(outcome)
                    else:
                        counts[outcome] += 1
                        indexed.add(file.source)
                for source in known.keys() - indexed:
                    self._forget(source)
                    counts["removed"] += 1
                if counts["added"] + counts["changed"] + counts["removed"]:
                    self._count_terms()
                total = self._chunks()
        except sqlite3.Error as exc:
            raise ContextError(f"cannot update the index {self.path}: {_reason(exc)}") from exc
        return IndexReport(
            counts["added"], counts["changed"], counts["removed"], counts["unchanged"],
            counts["read"], counts["chunks_written"], total, tuple(skipped),
        )  # fmt: skip

    def _claim(self, root: Path) -> int:
        """Mark the index as ``root``'s; when it was another folder's, empty it and
        return how many files that removed."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'root'").fetchone()
        removed = 0
        if row is not None and row[0] != str(root):
            (removed,) = self._db.execute("SELECT count(*) FROM files").fetchone()
            self._db.execute("DELETE FROM files")  # not executescript: it would commit
            self._db.execute("DELETE FROM chunks")
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(root),))
        return int(removed)

    def _last_rowid(self) -> int:
        row = self._db.execute("SELECT rowid FROM chunks ORDER BY rowid DESC LIMIT 1").fetchone()
        return int(row[0]) if row else 0

    def _refresh(
        self, file: CorpusFile, known: tuple[int, int, str] | None, counts: Counter[str]
    ) -> str | Skipped:
        """Index ``file`` if it changed since ``known`` (its size, mtime and hash then):
        ``added``, ``changed``, ``unchanged``, or why it was skipped."""
        if known is not None and known[:2] == (file.size, file.mtime_ns):
            return "unchanged"
        try:
            data = file.path.read_bytes()
        except OSError as exc:
            return Skipped(file.source, f"cannot be read ({exc.strerror})")
        counts["read"] += 1
        digest = hashlib.sha256(data).hexdigest()
        if known is not None and known[2] == digest:  # touched, not edited
            self._db.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                (file.size, file.mtime_ns, file.source),
            )
            return "unchanged"
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return Skipped(file.source, "not UTF-8 text")
        if known is not None:
            self._forget(file.source)
        counts["chunks_written"] += self._insert(file, digest, text)
        return "added" if known is None else "changed"

    def _insert(self, file: CorpusFile, digest: str, text: str) -> int:
        """Chunk ``text`` into consecutive rowids, recorded with the file so that its
        chunks can be deleted by rowid range (``source`` is not indexed)."""
        first = self._next_rowid
        rows = []
        for ordinal, chunk in enumerate(chunk_text(text)):
            title = chunk.title or file.source
            id_ = snippet_id(file.source, ordinal, title, chunk.text)
            tokens = snippet_tokens(title, chunk.text)
            rows.append((first + ordinal, id_, file.source, title, chunk.text, tokens))
        self._db.executemany(
            "INSERT INTO chunks(rowid, id, source, title, text, tokens) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (file.source, file.size, file.mtime_ns, digest, first, len(rows)),
        )
        self._next_rowid += len(rows)
        return len(rows)

    def _forget(self, source: str) -> None:
        first, count = self._db.execute(
            "SELECT first_rowid, chunks FROM files WHERE path = ?", (source,)
        ).fetchone()
        self._db.execute(
            "DELETE FROM chunks WHERE rowid BETWEEN ? AND ?", (first, first + count - 1)
        )
        self._db.execute("DELETE FROM files WHERE path = ?", (source,))

    def _count_terms(self) -> None:
        """Recount the chunks of every term (a scan of the postings: 40 ms for 30,000
        chunks) and the chunks in all."""
        self._db.execute("DELETE FROM terms")
        self._db.execute("INSERT INTO terms SELECT term, doc FROM temp.postings")
        (total,) = self._db.execute("SELECT coalesce(sum(chunks), 0) FROM files").fetchone()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('chunks', ?)", (total,))

    def _chunks(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'chunks'").fetchone()
        return int(row[0]) if row else 0

    def search(self, query: str, limit: int) -> list[Snippet]:
        """The ``limit`` chunks that match ``query`` best, best first. Any text is a valid
        query (``query_words``); one with no word worth searching for finds nothing."""
        words = query_words(query)
        if not words or limit < 1:
            return []
        try:
            with self._lock:
                matches = [
                    min((self._term_chunks(term) for term in terms), default=0)
                    for terms in self._stemmer.terms(words)
                ]  # a phrase of several terms is in no more chunks than its rarest
                found = plan(words, matches, self._chunks())
                if found is None:
                    return []
                match = match_expression(found.words, titles_only=found.titles_only)
                rows = self._db.execute(_SEARCH, (match, limit)).fetchall()
        except sqlite3.Error as exc:
            raise ContextError(f"cannot search the index {self.path}: {_reason(exc)}") from exc
        return [
            Snippet(id_, source, title, text, tokens, -rank)
            for id_, source, title, text, tokens, rank in rows
        ]

    def _term_chunks(self, term: str) -> int:
        row = self._db.execute("SELECT chunks FROM terms WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else 0


def require_fts5() -> None:
    """ContextError unless this Python's SQLite has the FTS5 extension."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(text)")
    except sqlite3.OperationalError as exc:
        raise ContextError(
            f"the SQLite library of this Python ({sqlite3.sqlite_version}) has no FTS5 "
            "extension, which the context index needs"
        ) from exc
    finally:
        probe.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
