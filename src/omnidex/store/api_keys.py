"""API keys: how they are made, hashed, checked against the catalog and held to their scope.

A key reads ``odx_<id>_<secret>``: ``id`` is 8 public characters that name the key in listings
and logs, ``secret`` is 43 URL-safe characters (256 bits) from :mod:`secrets`. The catalog stores
the id and the SHA-256 of the whole key, never the key itself.

Why SHA-256 and not bcrypt or argon2: those are slow on purpose, to make guessing a *low-entropy*
password from its hash expensive. A key here is 256 random bits, which no amount of guessing
finds, so a slow hash would add nothing but latency to every request. A fast hash also lets the
catalog find a key by an index on its hash instead of checking a slow hash per candidate key.
That lookup's timing can tell an attacker at most something about a hash, never about a key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string

from omnidex.errors import (
    AuthenticationError,
    InvalidSpecError,
    PermissionDeniedError,
    StorageFullError,
)
from omnidex.store.catalog import Catalog
from omnidex.types import ApiKeyInfo, KeyRole

log = logging.getLogger(__name__)

PREFIX = "odx"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 8
_SECRET_BYTES = 32
_KEY = re.compile(rf"^{PREFIX}_(?P<id>[a-z0-9]{{{_ID_LENGTH}}})_[A-Za-z0-9_-]{{43}}$")
_KEY_ID = re.compile(rf"^[a-z0-9]{{{_ID_LENGTH}}}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def new_key() -> str:
    """A fresh random key, ``odx_<id>_<secret>``."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
    return f"{PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def hash_key(key: str) -> str:
    """The SHA-256 of the whole key, in hex: what the catalog stores and looks keys up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str:
    """The public id inside ``key``; AuthenticationError if ``key`` is not of the form
    :func:`new_key` gives."""
    match = _KEY.match(key)
    if match is None:
        raise AuthenticationError(f"malformed API key: expected {PREFIX}_<id>_<secret>")
    return match["id"]


def check_stored_key(key_id: str, key_hash: str) -> None:
    """InvalidSpecError unless ``key_id`` and ``key_hash`` have the forms :func:`key_id_of` and
    :func:`hash_key` give, so that a raw key can never be stored by mistake."""
    if not _KEY_ID.match(key_id):
        raise InvalidSpecError(f"key id {key_id!r} must match {_KEY_ID.pattern}", field="key_id")
    if not _HASH.match(key_hash):
        raise InvalidSpecError("key_hash must be a hex SHA-256 digest", field="key_hash")


def authenticate(catalog: Catalog, key: str) -> ApiKeyInfo:
    """The active key ``key`` is, in any namespace, after recording its use.
    AuthenticationError if it is malformed, unknown or revoked."""
    key_id = key_id_of(key)
    info = catalog.find_api_key(hash_key(key))
    if info is None or info.id != key_id:
        raise AuthenticationError("unknown or revoked API key", key_id=key_id)
    try:
        catalog.touch_api_key(info.id)
    except StorageFullError:  # the use is not recorded, but the key still works: reads go on
        log.warning("API key %s: its use not recorded: no space left for the catalog", info.id)
    return info


def authorize(info: ApiKeyInfo, namespace: str, role: KeyRole = KeyRole.READ) -> None:
    """PermissionDeniedError unless the key ``info`` may act in ``namespace`` with ``role``: a
    ``write`` key may also read, a ``read`` key may only read."""
    if info.namespace != namespace:
        raise PermissionDeniedError(
            f"API key {info.id!r} belongs to namespace {info.namespace!r}, not {namespace!r}",
            key_id=info.id,
            namespace=namespace,
        )
    if role is KeyRole.WRITE and info.role is not KeyRole.WRITE:
        raise PermissionDeniedError(
            f"API key {info.id!r} may only read", key_id=info.id, namespace=namespace
        )
