"""The exception hierarchy of omnidex, in one place.

Every error carries enough context (which source, which extractor, which field, which limit) for the
CLI to print a one-line message and for the server to answer with an HTTP 4xx. ``code`` is a stable
machine-readable identifier; ``http_status`` is what the server answers with.
"""

from __future__ import annotations

import errno
from typing import Any


class OmnidexError(Exception):
    """Base of every error omnidex raises on purpose."""

    code = "omnidex_error"
    http_status = 500

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the context, so errors cross process boundaries (sandbox, Ray) whole."""
        return (_rebuild, (type(self), self.message, self.context))

    def to_dict(self) -> dict[str, Any]:
        """The wire form: a code, a message and the context (field, source, limit…)."""
        return {"code": self.code, "message": self.message, **self.context}


# --- configuration and specs -------------------------------------------------------------------


class InvalidSpecError(OmnidexError):
    """A collection spec, an extractor name or its params are wrong; ``field`` names the culprit."""

    code = "invalid_spec"
    http_status = 422


class UnknownExtractorError(InvalidSpecError):
    code = "unknown_extractor"


class InvalidSettingError(InvalidSpecError):
    """An ``OMNIDEX_*`` environment variable holds a value its setting cannot take."""

    code = "invalid_setting"


class InvalidFilterError(OmnidexError):
    """A ``where`` expression that does not parse or names a field that does not exist."""

    code = "invalid_filter"
    http_status = 422


class NotFoundError(OmnidexError):
    code = "not_found"
    http_status = 404


class AlreadyExistsError(OmnidexError):
    code = "already_exists"
    http_status = 409


class TaskStateError(OmnidexError):
    """A task is not in a state that allows this: cancel a running task, retry a queued one."""

    code = "task_state"
    http_status = 409


# --- sources and media -------------------------------------------------------------------------


class SourceError(OmnidexError):
    """Something is wrong with one input; the ingest of that object fails, others go on."""

    code = "bad_source"
    http_status = 422


class SourceNotFoundError(SourceError):
    code = "source_not_found"
    http_status = 404


class UnsupportedMediaError(SourceError):
    code = "unsupported_media"
    http_status = 415


class EmptyFileError(SourceError):
    code = "empty_file"


class CorruptMediaError(SourceError):
    code = "corrupt_media"


class EncryptedMediaError(SourceError):
    code = "encrypted_media"


class LimitExceededError(SourceError):
    """An input is over a configured limit (bytes, pixels, pages…); ``limit`` names it."""

    code = "limit_exceeded"
    http_status = 413


class UnsafeUrlError(SourceError):
    """A URL the server refuses to fetch (SSRF guard): a scheme other than http(s), credentials,
    or a host that is or resolves to a non-public address; ``url``, ``reason`` and ``address``
    say which and why."""

    code = "unsafe_url"
    http_status = 422


# --- extraction and models ---------------------------------------------------------------------


class ExtractionError(OmnidexError):
    """An extractor failed on a batch; ``extractor`` names it."""

    code = "extraction_failed"
    http_status = 500


class ModelServerError(ExtractionError):
    """A served model (an OpenAI-compatible endpoint) refused, failed or could not be reached;
    ``url``, ``model`` and ``status`` say where and how."""

    code = "model_server_error"
    http_status = 502


class MissingDependencyError(OmnidexError):
    """An optional package or program is absent; the message says how to install it."""

    code = "missing_dependency"
    http_status = 501


class ModelLoadError(OmnidexError):
    code = "model_load_failed"
    http_status = 500


class ClusterError(OmnidexError):
    """The Ray cluster failed under a run (a worker or node lost, the cluster unreachable);
    trying again may help. Objects written before it stay."""

    code = "cluster_error"
    http_status = 503


class ErrorBudgetExceededError(OmnidexError):
    """A run stopped because more objects failed than its error budget allows; ``failed`` and
    ``budget`` say how many. Objects written before it stay; running it again resumes."""

    code = "error_budget_exceeded"
    http_status = 500


# --- access ------------------------------------------------------------------------------------


class AuthenticationError(OmnidexError):
    """No valid API key: it is missing, malformed, unknown or revoked."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(OmnidexError):
    """A valid API key that may not do this: another namespace, or a write with a read key."""

    code = "forbidden"
    http_status = 403


class RateLimitedError(OmnidexError):
    """Too many requests with one API key; ``retry_after_s`` says when to try again."""

    code = "rate_limited"
    http_status = 429


class PayloadTooLargeError(OmnidexError):
    """An upload or request body over the server's limit."""

    code = "payload_too_large"
    http_status = 413


# --- storage -----------------------------------------------------------------------------------


class StoreError(OmnidexError):
    code = "store_error"
    http_status = 500


class ReadOnlyStoreError(StoreError):
    """The data folder can be read but not written (a read-only mount, another user's files): it
    was opened for reading only, so searching and listing work and this write cannot."""

    code = "read_only"
    http_status = 507


class CollectionDamagedError(StoreError):
    """The catalog has the collection and its objects, but its documents table is gone (deleted
    outside omnidex): its documents cannot be read. Drop it, or create it again and ingest."""

    code = "collection_damaged"
    http_status = 409


class StoreConflictError(StoreError):
    """Other writers kept committing to the same table while this write retried; nothing of it
    was committed, and it is safe to repeat."""

    code = "store_conflict"
    http_status = 503


class CatalogUnavailableError(StoreError):
    """The catalog's database cannot be reached now (down, restarting, every connection busy);
    ``retry_after_s`` says when to try again. A write cut off while committing may or may not
    have committed: the queue and webhook calls are safe to repeat."""

    code = "catalog_unavailable"
    http_status = 503


class StorageFullError(StoreError):
    """A write found no space left (the disk or the quota is full): nothing was written. Reads
    keep working; writes work again once space is freed."""

    code = "storage_full"
    http_status = 507


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = 13


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it came from, says there is no space left: an OSError
    (ENOSPC, EDQUOT), SQLite's SQLITE_FULL, or a native store's "No space left on device"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFullError):
            return True
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if "No space left on device" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _rebuild(cls: type[OmnidexError], message: str, context: dict[str, Any]) -> OmnidexError:
    return cls(message, **context)
