"""Which hosts and IP addresses a URL fetch may reach: the address half of the SSRF guard.

:func:`normalize_host` turns the host of a URL into one canonical form: a lower-case ASCII host
name, or an IP address — including the numeric spellings that ``inet_aton`` and browsers accept
(``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``), so that no spelling slips past the
checks. :func:`blocked_reason` says why an address must not be reached (loopback, private,
link-local, multicast, documentation…, also when an IPv6 address embeds such an IPv4 one: mapped,
6to4, Teredo, NAT64) or ``None`` for a public one. :class:`AllowList` holds the exceptions an
operator grants: host names and IP networks that may be reached even so.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_NAME_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_MAX_NAME_CHARS = 253
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


def _table(*rows: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in rows)


# First match wins, so the narrow ranges come before the wide ones that hold them.
_BLOCKED = _table(
    ("0.0.0.0/8", "unspecified address"),
    ("10.0.0.0/8", "private address"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback address"),
    ("169.254.0.0/16", "link-local address (cloud metadata lives here)"),
    ("172.16.0.0/12", "private address"),
    ("192.0.0.0/24", "reserved address (IETF protocol assignments)"),
    ("192.0.2.0/24", "documentation address"),
    ("192.88.99.0/24", "reserved address (6to4 relay anycast)"),
    ("192.168.0.0/16", "private address"),
    ("198.18.0.0/15", "benchmarking address"),
    ("198.51.100.0/24", "documentation address"),
    ("203.0.113.0/24", "documentation address"),
    ("224.0.0.0/4", "multicast address"),
    ("255.255.255.255/32", "broadcast address"),
    ("240.0.0.0/4", "reserved address"),
    ("::/128", "unspecified address"),
    ("::1/128", "loopback address"),
    ("::ffff:0:0/96", "IPv4-mapped address"),
    ("::/96", "IPv4-compatible address (deprecated)"),
    ("64:ff9b:1::/48", "private address (local-use NAT64)"),
    ("100::/64", "reserved address (discard-only)"),
    ("2001:db8::/32", "documentation address"),
    ("2001::/23", "reserved address (IETF protocol assignments, Teredo)"),
    ("3fff::/20", "documentation address"),
    ("5f00::/16", "reserved address (SRv6 SIDs)"),
    ("fc00::/7", "private address (unique local)"),
    ("fe80::/10", "link-local address"),
    ("fec0::/10", "private address (site-local, deprecated)"),
    ("ff00::/8", "multicast address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class InvalidHostError(ValueError):
    """A URL's host that is no valid host name or IP address; the message says why."""


def normalize_host(host: str) -> str | IPAddress:
    """The canonical form of a URL's host: an IP address, or a lower-case ASCII host name.

    Non-ASCII names are IDNA-encoded (which also folds ``。`` and other dots) and one trailing dot
    is dropped. A name whose last label is a number is an IPv4 address, as browsers read it:
    decimal, octal, hex and short forms become the address they mean, and one that does not parse
    is refused. :class:`InvalidHostError` says what is wrong.
    """
    literal = _ip_literal(host)
    if literal is not None:
        return literal
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidHostError(f"invalid host name {host!r}") from exc
    name = name.removesuffix(".")
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _numeric_ipv4(name)
    if len(name) > _MAX_NAME_CHARS or not all(_NAME_LABEL.fullmatch(label) for label in labels):
        raise InvalidHostError(f"invalid host name {host!r}")
    return name


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be reached from the server, or ``None`` when it is public.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by the IPv4
    address too. Anything the tables miss but Python does not deem globally reachable is refused.
    """
    address = _without_scope(address)
    for label, inner in _embedded_ipv4(address):
        reason = blocked_reason(inner)
        if reason is not None:
            return f"{reason} {inner} embedded in {label} address"
    for network, reason in _BLOCKED:
        if address in network:
            return reason
    return None if address.is_global else "address not globally reachable"


def local_name_reason(name: str) -> str | None:
    """Why a host name must not be resolved at all (``localhost`` and its kin), or ``None``."""
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return "local host name"
    return None


def same_address(a: IPAddress, b: IPAddress) -> bool:
    """Whether two addresses are the same, ignoring an IPv6 zone (``%eth0``)."""
    return _without_scope(a) == _without_scope(b)


@dataclass(frozen=True)
class AllowList:
    """Host names and IP networks an operator allows even when they are private or local.

    A host name matches exactly (after :func:`normalize_host`), whatever it resolves to; an
    address matches when it lies in one of the networks (a bare address is a /32 or /128). An
    entry with a port — ``minio.internal:9000``, ``10.0.0.5:9000``, ``[fd00::5]:9000`` — allows
    that port alone; one without a port allows every port.
    """

    names: frozenset[tuple[str, int | None]]
    networks: tuple[tuple[IPNetwork, int | None], ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """The allow list ``entries`` describe; :class:`InvalidHostError` for a bad entry."""
        names: set[tuple[str, int | None]] = set()
        networks: list[tuple[IPNetwork, int | None]] = []
        for entry in entries:
            where, port = _split_port(entry.strip())
            try:
                networks.append((ipaddress.ip_network(where, strict=False), port))
                continue
            except ValueError:
                pass
            host = normalize_host(where)
            if isinstance(host, str):
                names.add((host, port))
            else:
                networks.append((ipaddress.ip_network(host), port))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, name: str, port: int) -> bool:
        """Whether the host name ``name`` is on the list for ``port``."""
        return (name, None) in self.names or (name, port) in self.names

    def allows(self, host: str | IPAddress, address: IPAddress, port: int) -> bool:
        """Whether ``address`` and ``port``, reached through ``host``, are on the list."""
        address = _without_scope(address)
        return (isinstance(host, str) and self.allows_name(host, port)) or any(
            address in network and allowed in (None, port) for network, allowed in self.networks
        )


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port`` or ``[v6]:port`` as (host, port); a bare host or IPv6 address, port None."""
    if entry.startswith("["):
        where, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidHostError(f"invalid allow-list entry {entry!r}")
        return where, _port(rest[1:], entry) if rest else None
    if entry.count(":") == 1:
        where, _, port = entry.partition(":")
        return where, _port(port, entry)
    return entry, None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidHostError(f"invalid port in allow-list entry {entry!r}")
    return int(text)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _numeric_ipv4(name: str) -> ipaddress.IPv4Address:
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in name.split(".")):
        raise InvalidHostError(f"invalid numeric host {name!r}")
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError as exc:
        raise InvalidHostError(f"invalid numeric host {name!r}") from exc


def _embedded_ipv4(address: IPAddress) -> Iterator[tuple[str, ipaddress.IPv4Address]]:
    if isinstance(address, ipaddress.IPv4Address):
        return
    if address.ipv4_mapped is not None:
        yield "an IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        yield "a 6to4", address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        yield "a Teredo", server
        yield "a Teredo", client
    if address in _NAT64:
        yield "a NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _without_scope(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return ipaddress.IPv6Address(int(address))
    return address
