"""`BatchSigner` signs many events of one author before appending any of them
(it lives with `Author` in the event log's writer module)."""

from ..eventlog.writer import BatchSigner

__all__ = ["BatchSigner"]
