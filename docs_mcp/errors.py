"""Every error docs-mcp raises on purpose.

    DocsMcpError                 base: a message that says what to do next
    ├── ConfigError              a bad option, path or setting
    ├── CorpusError              the corpus folder is missing or holds no Markdown
    │   └── SourceFormatError    one source file cannot be converted (a malformed notebook);
    │                            the indexer reports that file as skipped and goes on
    ├── RemoteError              a remote listing cannot be fetched or read (nothing changed)
    ├── ModelError               the embedding model is missing, corrupt or unreachable
    ├── IndexStateError          the index cannot be used as it is
    │   ├── IndexNotFoundError   nothing has been published yet
    │   ├── ModelMismatchError   the index was built with another embedding model
    │   ├── IndexLockedError     another indexer is writing
    │   ├── IndexReadError       a served version's files changed or vanished under the server
    │   └── StorageFullError     the disk (or quota) ran out while writing; nothing was published
    ├── NotFoundError            an unknown doc id or section anchor
    │   └── UnknownCollectionError   an unknown collection or version
    └── QuestionError            ask_docs / docs-mcp ask got no question

The CLI prints the message of any of these on one line and exits 1; the MCP
server turns them into tool errors the assistant can read and act on.
"""

from __future__ import annotations

import errno

# Errors that mean "no room to write": a full disk, a quota, a file-size limit.
_OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_OUT_OF_SPACE_WORDS = ("no space left on device", "disk quota exceeded", "file too large")


class DocsMcpError(Exception):
    """Base class: an anticipated failure with a message meant for a person."""


class ConfigError(DocsMcpError):
    pass


class CorpusError(DocsMcpError):
    pass


class RemoteError(DocsMcpError):
    pass


class SourceFormatError(CorpusError):
    pass


class ModelError(DocsMcpError):
    pass


class IndexStateError(DocsMcpError):
    pass


class IndexNotFoundError(IndexStateError):
    pass


class ModelMismatchError(IndexStateError):
    pass


class IndexLockedError(IndexStateError):
    pass


class IndexReadError(IndexStateError):
    pass


class StorageFullError(IndexStateError):
    pass


def is_out_of_space(error: BaseException) -> bool:
    """Whether `error`, or one it was raised from, says the disk or a quota is full. LanceDB's
    Rust errors arrive as OSError/RuntimeError whose text carries the OS error, not its errno."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _OUT_OF_SPACE:
            return True
        if any(words in str(seen).lower() for words in _OUT_OF_SPACE_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class NotFoundError(DocsMcpError):
    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


class QuestionError(DocsMcpError):
    pass


class UnknownCollectionError(NotFoundError):
    pass
