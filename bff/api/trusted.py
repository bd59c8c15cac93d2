"""Trusted documents: the operations in ``graphql/operations/``, known by their SHA-256.

A client may send an id instead of a document, as ``documentId`` (``sha256:<hex>``,
the trusted-documents convention) or as Apollo's
``extensions.persistedQuery.sha256Hash``. With ``BFF_TRUSTED_DOCUMENTS=only`` a
document that is not one of these is refused, so a production frontend's
operations are the only ones the BFF runs. Nothing is ever registered at run time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from bff.api.operations import Operation

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def document_id(document: str) -> str:
    """The id of a document: ``sha256:`` and the hex SHA-256 of its UTF-8 text."""
    return "sha256:" + hashlib.sha256(document.encode()).hexdigest()


class DocumentError(Exception):
    """A request's document or id cannot be used; ``code`` goes to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TrustedDocuments:
    """The known documents by id; ``only`` refuses every other document."""

    def __init__(self, documents: Mapping[str, str], *, only: bool = False) -> None:
        self._documents = dict(documents)
        self.only = only

    @classmethod
    def of(cls, operations: Mapping[str, Operation], *, only: bool = False) -> TrustedDocuments:
        return cls({document_id(op.document): op.document for op in operations.values()}, only=only)

    def resolve(self, query: object, doc_id: object, extensions: object) -> object:
        """The document to run for a request's ``query``, ``documentId`` and
        ``extensions``; raises DocumentError. Returns ``query`` untouched when there is
        neither a query nor an id, for the GraphQL layer to answer."""
        wanted = _requested_id(doc_id, extensions)
        if wanted is not None:
            document = self._documents.get(wanted)
            if document is None:
                raise DocumentError("PERSISTED_QUERY_NOT_FOUND", "no trusted document has this id")
            if isinstance(query, str) and document_id(query) != wanted:
                raise DocumentError("DOCUMENT_ID_MISMATCH", "the document does not match its id")
            return document
        if self.only and isinstance(query, str) and document_id(query) not in self._documents:
            raise DocumentError(
                "TRUSTED_DOCUMENT_REQUIRED",
                "this server runs trusted documents only: send a documentId",
            )
        return query


def _requested_id(doc_id: object, extensions: object) -> str | None:
    if doc_id is None and isinstance(extensions, dict):
        persisted = extensions.get("persistedQuery")
        if persisted is not None:
            doc_id = persisted.get("sha256Hash") if isinstance(persisted, dict) else persisted
            if doc_id is None:
                raise DocumentError("BAD_DOCUMENT_ID", "persistedQuery needs a sha256Hash")
    if doc_id is None:
        return None
    if not isinstance(doc_id, str):
        raise DocumentError("BAD_DOCUMENT_ID", "a document id is a string: sha256:<hex>")
    digest = doc_id.removeprefix("sha256:").lower()
    if not _HEX64.match(digest):
        raise DocumentError("BAD_DOCUMENT_ID", "a document id is sha256: and 64 hex digits")
    return "sha256:" + digest
