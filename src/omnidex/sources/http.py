"""Downloading http(s) URLs to a file without opening a door into the server's network (SSRF).

:func:`fetch_url` checks every hop — the URL asked for and each redirect — the same way:

1. the URL: http or https only; credentials (``user:password@host``) are refused, not stripped,
   since they mean the caller expects an authenticated fetch this module does not make and they
   are the usual vehicle of parser-confusion tricks; a valid host, where numeric IPv4 spellings
   (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``) read as the address they mean;
2. the addresses: the host is resolved once (``FetchPolicy.resolve``) and the hop is refused when
   ANY of its addresses is not public (loopback, private, link-local, metadata, multicast…) and
   not on ``FetchPolicy.allow_hosts``;
3. the connection: it goes to one of those very addresses — pinned, so a second DNS answer is
   never used (no DNS rebinding) — the socket's peer is checked again, and the request carries
   the original Host header; for https, SNI and certificate verification use the host name.

The body streams to a file with a generated name in ``dest_dir``, under ``max_bytes``
(Content-Length checked up front, bytes counted as they come) and one deadline for the whole
fetch, enforced by a watchdog that shuts the socket down whatever the body's shape (a length,
chunked, or ended by closing), so a server dripping bytes cannot stretch it.
A failure deletes the partial file. Errors are typed: :class:`~omnidex.errors.UnsafeUrlError`,
:class:`~omnidex.errors.LimitExceededError` (``limit`` is ``max_bytes``, ``timeout_s`` or
``max_redirects``), :class:`~omnidex.errors.SourceNotFoundError` for 404 and 410, and
:class:`~omnidex.errors.SourceError` for other statuses and network failures. Each carries
``url`` (the hop that failed) and ``source`` (the URL asked for).

:func:`check_url` applies the same URL and address rules without connecting, and :func:`post`
sends one request through the same pinned connection (the server's webhooks use both).
"""

from __future__ import annotations

import contextlib
import email.message
import functools
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urljoin, urlsplit

from omnidex.errors import (
    InvalidSpecError,
    LimitExceededError,
    OmnidexError,
    SourceError,
    SourceNotFoundError,
    StoreError,
    UnsafeUrlError,
)
from omnidex.sources.addresses import (
    AllowList,
    InvalidHostError,
    IPAddress,
    blocked_reason,
    local_name_reason,
    normalize_host,
    same_address,
)

Resolver = Callable[[str, int], Iterable[str | IPAddress]]

_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GONE = frozenset({404, 410})
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_DIGITS = re.compile(r"[0-9]+")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_MAX_URL_CHARS = 8192
_MAX_HINT_CHARS = 255
_CHUNK_BYTES = 64 * 1024
_USER_AGENT = "omnidex-fetch"


def resolve_system(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP), as strings."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class FetchPolicy:
    """What a URL fetch may do: how much, how long, how many redirects, which hosts.

    ``allow_hosts`` lists host names (exact match) and IP networks in CIDR form (a bare address
    is one address), each with an optional ``:port`` that limits it to that port, that may be
    reached even though they are private or local, e.g. an internal object store; everything
    else must resolve to public addresses only. ``resolve`` maps ``(host, port)`` to IP
    addresses (tests inject a fake DNS). ``ca_file`` is a PEM bundle trusted for https instead
    of the system store.
    """

    max_bytes: int = 2 * 1024**3
    timeout_s: float = 300
    connect_timeout_s: float = 10
    max_redirects: int = 5
    allow_hosts: tuple[str, ...] = ()
    resolve: Resolver = resolve_system
    ca_file: Path | None = None
    allow_list: AllowList = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_bytes", "timeout_s", "connect_timeout_s"):
            if getattr(self, name) <= 0:
                raise InvalidSpecError(f"{name} must be positive", field=name)
        if self.max_redirects < 0:
            raise InvalidSpecError("max_redirects must not be negative", field="max_redirects")
        try:
            allow_list = AllowList.parse(self.allow_hosts)
        except InvalidHostError as exc:
            raise InvalidSpecError(f"allow_hosts: {exc}", field="allow_hosts") from exc
        object.__setattr__(self, "allow_list", allow_list)

    @functools.cached_property
    def tls_context(self) -> ssl.SSLContext:
        """The context https connections verify certificates with, made on first use."""
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except OSError as exc:  # missing file, or no certificate in it
            raise InvalidSpecError(f"ca_file: {exc}", field="ca_file") from exc


@dataclass(frozen=True)
class Fetched:
    """A downloaded URL: the file (named by omnidex, inside ``dest_dir``), the URL it finally
    came from after redirects, its size and the server's content type. ``filename_hint`` is the
    name the server or the URL suggests, sanitized to one path component: metadata only."""

    path: Path
    url: str
    size: int
    content_type: str | None
    filename_hint: str | None


def fetch_url(url: str, dest_dir: Path, policy: FetchPolicy) -> Fetched:
    """Download ``url`` into a new file in ``dest_dir``, following at most
    ``policy.max_redirects`` redirects, each checked like the first URL (see the module doc)."""
    deadline = _Deadline(policy.timeout_s)
    current = url.strip()
    try:
        for _ in range(policy.max_redirects + 1):
            outcome = _fetch_hop(current, dest_dir, policy, deadline)
            if isinstance(outcome, Fetched):
                return outcome
            current = outcome
        raise LimitExceededError(
            f"{url}: more than {policy.max_redirects} redirects (max_redirects)",
            url=current,
            limit="max_redirects",
        )
    except OmnidexError as exc:
        exc.context.setdefault("source", url)
        raise


# --- one hop -----------------------------------------------------------------------------------


def check_url(url: str, policy: FetchPolicy) -> None:
    """UnsafeUrlError unless ``url`` is http(s) without credentials and every address its host
    resolves to may be reached under ``policy``; SourceError when it does not resolve."""
    _addresses(_parse(url), policy)


def post(url: str, body: bytes, headers: dict[str, str], policy: FetchPolicy) -> int:
    """POST ``body`` to ``url`` through the SSRF guard, connected to a checked address, within
    ``policy.timeout_s``; the answer's status. Redirects are not followed. UnsafeUrlError for a
    refused URL; SourceError or LimitExceededError (time) when the network fails."""
    deadline = _Deadline(policy.timeout_s)
    target = _parse(url)
    conn = _connection(target, _addresses(target, policy), policy, deadline)
    with deadline.watch(), contextlib.closing(conn), _network_errors(target, deadline):
        conn.request("POST", target.path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read(ANSWER_BYTES)
        return answer.status


ANSWER_BYTES = 64 * 1024
"""How much of an answer to a POST is read (and dropped) before the connection closes."""


@dataclass(frozen=True)
class _Target:
    """One hop's URL, taken apart and checked: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str | IPAddress
    port: int
    path: str


def _fetch_hop(url: str, dest_dir: Path, policy: FetchPolicy, deadline: _Deadline) -> Fetched | str:
    """The file, or the URL the server redirects to."""
    target = _parse(url)
    addresses = _addresses(target, policy)
    conn = _connection(target, addresses, policy, deadline)
    with deadline.watch(), contextlib.closing(conn):
        with _network_errors(target, deadline):
            conn.request("GET", target.path, headers={"User-Agent": _USER_AGENT, "Accept": "*/*"})
            response = conn.getresponse()
        location = _redirect(response, target)
        if location is not None:
            return location
        _check_status(response, target)
        return _save(response, target, dest_dir, policy, deadline)


def _parse(url: str) -> _Target:
    if len(url) > _MAX_URL_CHARS:
        raise _unsafe(url, f"URL longer than {_MAX_URL_CHARS} characters")
    if _BAD_URL_CHARS.search(url):
        raise _unsafe(url, "URL with whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _unsafe(url, f"malformed URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in _PORTS:
        raise _unsafe(url, f"scheme {scheme or '(none)'!r} is not http or https")
    if "@" in parts.netloc:
        raise _unsafe(url, "credentials in the URL (user:password@host) are not accepted")
    if not parts.hostname:
        raise _unsafe(url, "URL without a host")
    if port == 0:
        raise _unsafe(url, "port 0")
    try:
        host = normalize_host(parts.hostname)
    except InvalidHostError as exc:
        raise _unsafe(url, str(exc)) from exc
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return _Target(url, scheme, host, port or _PORTS[scheme], path)


def _addresses(target: _Target, policy: FetchPolicy) -> tuple[IPAddress, ...]:
    """The addresses ``target`` may be reached at: all of them allowed, or UnsafeUrlError."""
    if isinstance(target.host, str):
        _check_name(target, target.host, policy.allow_list)
        addresses = _resolve(target, policy)
    else:
        addresses = (target.host,)
    for address in addresses:
        _check_address(target, address, policy.allow_list)
    return addresses


def _resolve(target: _Target, policy: FetchPolicy) -> tuple[IPAddress, ...]:
    host = str(target.host)
    try:
        found = tuple(
            dict.fromkeys(ipaddress.ip_address(str(a)) for a in policy.resolve(host, target.port))
        )
    except (OSError, UnicodeError, ValueError) as exc:
        raise SourceError(
            f"{target.url}: cannot resolve {host}: {exc}", url=target.url, reason="dns"
        ) from exc
    if not found:
        raise SourceError(
            f"{target.url}: {host} resolves to no address", url=target.url, reason="dns"
        )
    return found


def _check_name(target: _Target, name: str, allow_list: AllowList) -> None:
    """UnsafeUrlError for ``localhost`` and its kin, unless the allow list names them."""
    reason = local_name_reason(name)
    if reason is not None and not allow_list.allows_name(name, target.port):
        raise _unsafe(target.url, reason)


def _check_address(target: _Target, address: IPAddress, allow_list: AllowList) -> None:
    if allow_list.allows(target.host, address, target.port):
        return
    reason = blocked_reason(address)
    if reason is not None:
        raise _unsafe(target.url, reason, address)


def _unsafe(url: str, reason: str, address: IPAddress | None = None) -> UnsafeUrlError:
    where = f" ({address})" if address is not None else ""
    return UnsafeUrlError(
        f"{url}: refused: {reason}{where}",
        url=url,
        reason=reason,
        address=None if address is None else str(address),
    )


# --- connection --------------------------------------------------------------------------------


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection to addresses checked in advance, whatever the host resolves to now."""

    def __init__(
        self,
        target: _Target,
        addresses: tuple[IPAddress, ...],
        policy: FetchPolicy,
        deadline: _Deadline,
    ) -> None:
        super().__init__(str(target.host), target.port)
        self._target = target
        self._addresses = addresses
        self._policy = policy
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = _connect_pinned(self._target, self._addresses, self._policy, self._deadline)
        self._deadline.track(self.sock)


class _PinnedTLSConnection(_PinnedConnection):
    """:class:`_PinnedConnection` wrapped in TLS, with SNI and certificate checks on the host."""

    default_port = 443

    def __init__(
        self,
        target: _Target,
        addresses: tuple[IPAddress, ...],
        policy: FetchPolicy,
        deadline: _Deadline,
    ) -> None:
        super().__init__(target, addresses, policy, deadline)
        self._tls = policy.tls_context  # a bad ca_file fails here, before any connection

    def connect(self) -> None:
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.host)
        self._deadline.track(self.sock)


def _connection(
    target: _Target, addresses: tuple[IPAddress, ...], policy: FetchPolicy, deadline: _Deadline
) -> _PinnedConnection:
    kind = _PinnedTLSConnection if target.scheme == "https" else _PinnedConnection
    return kind(target, addresses, policy, deadline)


def _connect_pinned(
    target: _Target, addresses: tuple[IPAddress, ...], policy: FetchPolicy, deadline: _Deadline
) -> socket.socket:
    """A socket connected to the first of ``addresses`` that answers, its peer checked."""
    failure = OSError(f"{target.host}: no address to connect to")
    for address in addresses:
        left = deadline.left()
        if left <= 0:
            raise deadline.error(target.url)
        try:
            sock = socket.create_connection(
                (str(address), target.port), timeout=min(policy.connect_timeout_s, left)
            )
        except OSError as exc:
            failure = exc
            continue
        _check_peer(sock, target, address, policy.allow_list)
        sock.settimeout(max(deadline.left(), 0.001))
        return sock
    raise failure


def _check_peer(
    sock: socket.socket, target: _Target, address: IPAddress, allow_list: AllowList
) -> None:
    """UnsafeUrlError, the socket closed, unless its peer is ``address`` and still allowed."""
    try:
        peer = ipaddress.ip_address(sock.getpeername()[0])
        if not same_address(peer, address):
            raise _unsafe(target.url, f"connected to {peer} instead of the checked address", peer)
        _check_address(target, peer, allow_list)
    except BaseException:
        sock.close()
        raise


# --- deadline and network errors ---------------------------------------------------------------


class _Deadline:
    """One time limit for a whole fetch, redirects included.

    The watchdog shuts down the sockets themselves (:meth:`track`), not whatever socket the
    connection holds when time runs out: ``http.client`` hands the socket over to the response
    and forgets it for every body read until the server closes (``Connection: close``, HTTP/1.0,
    no length), and a server dripping such a body must be cut off like any other.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def left(self) -> float:
        return self._at - time.monotonic()

    def passed(self) -> bool:
        return self._cut.is_set() or self.left() <= 0

    def error(self, url: str) -> LimitExceededError:
        return LimitExceededError(
            f"{url}: the download took longer than {self.seconds:g} s (timeout_s)",
            url=url,
            limit="timeout_s",
        )

    def track(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when time runs out (at once if it already has)."""
        with self._lock:
            self._sockets.append(sock)
            cut = self._cut.is_set()
        if cut:
            _shutdown(sock)

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        """Shut the tracked sockets down when time runs out, so a blocked read returns at once."""
        timer = threading.Timer(max(self.left(), 0), self._shut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _shut(self) -> None:
        with self._lock:
            self._cut.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed, or detached by TLS
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextlib.contextmanager
def _network_errors(target: _Target, deadline: _Deadline) -> Iterator[None]:
    """Socket, TLS and HTTP protocol errors as LimitExceededError (past the deadline) or
    SourceError."""
    try:
        yield
    except (OSError, http.client.HTTPException) as exc:
        if deadline.passed():
            raise deadline.error(target.url) from exc
        reason, what = _describe(exc)
        raise SourceError(f"{target.url}: {what}", url=target.url, reason=reason) from exc


def _describe(exc: OSError | http.client.HTTPException) -> tuple[str, str]:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls", f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "disconnected", "the server closed the connection without an answer"
    if isinstance(exc, http.client.IncompleteRead):
        return "truncated", "the connection closed before the body was complete"
    if isinstance(exc, http.client.HTTPException):
        return "protocol", f"invalid HTTP response ({type(exc).__name__})"
    return "connect", f"connection failed: {exc.strerror or exc}"


# --- response ----------------------------------------------------------------------------------


def _redirect(response: http.client.HTTPResponse, target: _Target) -> str | None:
    """The absolute URL a redirect points to, or None when ``response`` is no redirect."""
    if response.status not in _REDIRECTS:
        return None
    location = response.getheader("Location")
    if not location:
        raise SourceError(
            f"{target.url}: redirect {response.status} without a Location",
            url=target.url,
            status=response.status,
        )
    return urljoin(target.url, location.strip())


def _check_status(response: http.client.HTTPResponse, target: _Target) -> None:
    if 200 <= response.status < 300:
        return
    kind = SourceNotFoundError if response.status in _GONE else SourceError
    raise kind(
        f"{target.url}: the server answered {response.status} {response.reason[:80]}".rstrip(),
        url=target.url,
        status=response.status,
    )


def _save(
    response: http.client.HTTPResponse,
    target: _Target,
    dest_dir: Path,
    policy: FetchPolicy,
    deadline: _Deadline,
) -> Fetched:
    """The body written to a new file in ``dest_dir``; the file is gone if anything fails."""
    declared = _content_length(response)
    if declared is not None and declared > policy.max_bytes:
        raise _too_big(target, policy, f"the server announces {declared} bytes")
    path = dest_dir / f"fetched-{uuid.uuid4().hex}"
    try:
        size = _write(path, _body(response, target, policy, deadline))
        if declared is not None and size < declared:
            raise SourceError(
                f"{target.url}: the body ended after {size} of {declared} bytes",
                url=target.url,
                reason="truncated",
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Fetched(
        path, target.url, size, _content_type(response), _filename_hint(response, target)
    )


def _write(path: Path, chunks: Iterable[bytes]) -> int:
    try:
        dest = path.open("xb")
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the download file: {exc}", path=str(path)) from exc
    with dest:
        return sum(_write_chunk(dest, path, chunk) for chunk in chunks)


def _write_chunk(dest: BinaryIO, path: Path, chunk: bytes) -> int:
    try:
        return dest.write(chunk)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write the download: {exc}", path=str(path)) from exc


def _body(
    response: http.client.HTTPResponse, target: _Target, policy: FetchPolicy, deadline: _Deadline
) -> Iterator[bytes]:
    """The response body in chunks as they arrive, stopping with an error past ``max_bytes`` or
    once the deadline has passed (the watchdog's cut reads as an early end)."""
    size = 0
    while True:
        with _network_errors(target, deadline):
            chunk = response.read1(_CHUNK_BYTES)
        if deadline.passed():
            raise deadline.error(target.url)
        if not chunk:
            return
        size += len(chunk)
        if size > policy.max_bytes:
            raise _too_big(target, policy, "the body goes on")
        yield chunk


def _too_big(target: _Target, policy: FetchPolicy, what: str) -> LimitExceededError:
    return LimitExceededError(
        f"{target.url}: {what}, over the limit of {policy.max_bytes} bytes (max_bytes)",
        url=target.url,
        limit="max_bytes",
    )


def _content_length(response: http.client.HTTPResponse) -> int | None:
    """The length the server announces; none for a chunked body, where Content-Length is void."""
    if response.chunked:
        return None
    value = (response.getheader("Content-Length") or "").strip()
    return int(value) if _DIGITS.fullmatch(value) else None


def _content_type(response: http.client.HTTPResponse) -> str | None:
    if response.getheader("Content-Type") is None:
        return None
    return response.headers.get_content_type()


def _filename_hint(response: http.client.HTTPResponse, target: _Target) -> str | None:
    """The file name Content-Disposition or the URL's last path segment suggests, reduced to
    one printable path component; never used to name a file."""
    message = email.message.Message()
    message["Content-Disposition"] = response.getheader("Content-Disposition") or ""
    suggested = message.get_filename() or unquote(urlsplit(target.url).path)
    name = suggested.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:_MAX_HINT_CHARS] or None
