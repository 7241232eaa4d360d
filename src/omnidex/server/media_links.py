"""Short-lived signed links to one document's source media, for players that cannot send a key.

A ``<video>`` element fetches its source itself, with range requests as the user seeks, and
cannot add an ``Authorization`` header. A caller with a key asks for a link to one document's
media; the link carries no key but an HMAC-signed token naming the namespace, collection and
document and when it expires, so it opens that one file for a while and nothing else. The
signing secret is drawn when the server starts: links die with the process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from omnidex.errors import AuthenticationError


@dataclass(frozen=True)
class MediaTarget:
    namespace: str
    collection: str
    document_id: str


@dataclass
class MediaLinks:
    ttl_s: float = 3600.0
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def issue(self, target: MediaTarget, now: float | None = None) -> tuple[str, float]:
        """A token for ``target`` and the time it expires."""
        expires = (now if now is not None else time.time()) + self.ttl_s
        payload = json.dumps(
            [target.namespace, target.collection, target.document_id, round(expires)],
            separators=(",", ":"),
        ).encode()
        body = _encode(payload)
        return f"{body}.{_encode(self._sign(body))}", round(expires)

    def verify(self, token: str, now: float | None = None) -> MediaTarget:
        """The target a genuine, unexpired token names; AuthenticationError otherwise."""
        body, _, signature = token.partition(".")
        try:
            genuine = hmac.compare_digest(_decode(signature), self._sign(body))
            namespace, collection, document_id, expires = json.loads(_decode(body))
        except (ValueError, TypeError):
            raise AuthenticationError("malformed media link") from None
        if not genuine:
            raise AuthenticationError("media link with a wrong signature")
        if (now if now is not None else time.time()) > float(expires):
            raise AuthenticationError("the media link has expired; ask for a new one")
        return MediaTarget(str(namespace), str(collection), str(document_id))

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
