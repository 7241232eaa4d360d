"""Fetching http(s) URLs: the SSRF guard, DNS pinning, size, time and redirect caps, file names.

Everything runs against real sockets on 127.0.0.1: a threaded HTTP server (and a TLS one with a
certificate made by ``openssl`` for ``files.test``) whose routes serve files, redirects, slow and
lying bodies. Host names go through :class:`FakeDNS`; nothing ever leaves the machine.
"""

from __future__ import annotations

import ipaddress
import pickle
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from omnidex.errors import (
    InvalidSpecError,
    LimitExceededError,
    SourceError,
    SourceNotFoundError,
    UnsafeUrlError,
)
from omnidex.sources.addresses import blocked_reason, normalize_host
from omnidex.sources.http import FetchPolicy, fetch_url

LOCAL = ("127.0.0.1",)
HELLO = b"hello world\n"


# --- fake DNS and test servers -----------------------------------------------------------------


class FakeDNS:
    """A resolver from a table: ``host -> [answer, answer…]``; call n gets answer n (the last one
    repeats), an unknown host fails as real DNS does. ``calls`` records the hosts asked for."""

    def __init__(self, table: Mapping[str, Sequence[Sequence[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        answers = self.table.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        index = min(self.calls.count(host), len(answers) - 1)
        self.calls.append(host)
        return list(answers[index])


class LocalServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stop = threading.Event()
        self.cert: Path | None = None  # the TLS server's certificate
        self.sni: list[str | None] = []  # the names TLS clients asked for
        self.dripped: dict[str, int] = {}  # bytes each drip route has sent so far

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hang up: these tests' client does so on purpose."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_port}"

    scheme = "http"


class Handler(BaseHTTPRequestHandler):
    """Routes by the path's name: ``/hello`` calls ``route_hello(query)``; others fall back."""

    protocol_version = "HTTP/1.1"
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        name = parts.path.strip("/")
        route = getattr(self, f"route_{name}", None) if re.fullmatch(r"[a-z]+", name) else None
        try:
            (route or self.route_fallback)(dict(parse_qsl(parts.query)))
        except OSError:  # the client went away: a refused or cut download
            self.close_connection = True

    def reply(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def drip(self, data: bytes) -> None:
        """``data`` one byte every 20 ms until the test server stops or the client leaves."""
        for byte in data:
            if self.server.stop.wait(0.02):
                return
            self.wfile.write(bytes([byte]))
            self.server.dripped[self.path] = self.server.dripped.get(self.path, 0) + 1
        self.close_connection = True

    def route_hello(self, query: dict[str, str]) -> None:
        self.reply(HELLO, headers={"Content-Type": "text/plain; charset=utf-8"})

    def route_named(self, query: dict[str, str]) -> None:
        self.reply(b"named", headers={"Content-Disposition": query["cd"]})

    def route_host(self, query: dict[str, str]) -> None:
        self.reply(self.headers["Host"].encode())

    def route_redirect(self, query: dict[str, str]) -> None:
        self.reply(b"", int(query.get("status", "302")), {"Location": query["to"]})

    def route_nolocation(self, query: dict[str, str]) -> None:
        self.reply(b"", 302)

    def route_loop(self, query: dict[str, str]) -> None:
        self.reply(b"", 302, {"Location": "/loop"})

    def route_chain(self, query: dict[str, str]) -> None:
        left = int(query["n"])
        self.reply(b"", 302, {"Location": f"/chain?n={left - 1}" if left else "/hello"})

    def route_status(self, query: dict[str, str]) -> None:
        self.send_error(int(query["code"]))

    def route_sized(self, query: dict[str, str]) -> None:
        self.reply(b"x" * int(query["n"]))

    def route_huge(self, query: dict[str, str]) -> None:
        """Announces a terabyte."""
        self.send_response(200)
        self.send_header("Content-Length", str(10**12))
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.close_connection = True

    def route_lying(self, query: dict[str, str]) -> None:
        """Announces ``says`` bytes, sends ``sends``, then hangs up."""
        self.send_response(200)
        self.send_header("Content-Length", query["says"])
        self.end_headers()
        self.wfile.write(b"y" * int(query["sends"]))
        self.close_connection = True

    def route_endless(self, query: dict[str, str]) -> None:
        """No length, ended by closing: 2 MiB unless the client hangs up first."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(32):
            self.wfile.write(b"z" * 65536)
        self.close_connection = True

    def route_chunked(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = int(query["n"])
        while left:
            size = min(left, 32768)
            self.wfile.write(b"%x\r\n%s\r\n" % (size, b"c" * size))
            left -= size
        self.wfile.write(b"0\r\n\r\n")

    def route_dripbody(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "500")
        self.end_headers()
        self.drip(b"d" * 500)

    def route_dripclose(self, query: dict[str, str]) -> None:
        """No length, ended by closing: ``http.client`` hands the socket to the response."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.drip(b"d" * 500)

    def route_dripold(self, query: dict[str, str]) -> None:
        """An HTTP/1.0 answer without a length, ended by closing."""
        self.wfile.write(b"HTTP/1.0 200 OK\r\n\r\n")
        self.drip(b"d" * 500)

    def route_dripchunked(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(500):
            if self.server.stop.wait(0.02):
                return
            self.wfile.write(b"1\r\nd\r\n")
            self.server.dripped[self.path] = self.server.dripped.get(self.path, 0) + 1
        self.wfile.write(b"0\r\n\r\n")

    def route_dripheaders(self, query: dict[str, str]) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        self.drip(b"s" * 500)

    def route_stall(self, query: dict[str, str]) -> None:
        self.server.stop.wait(10)
        self.close_connection = True

    def route_garbage(self, query: dict[str, str]) -> None:
        self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        self.close_connection = True

    def route_fallback(self, query: dict[str, str]) -> None:
        self.reply(b"fallback " + self.path.encode())


def serve(server: LocalServer) -> Iterator[LocalServer]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def http_server() -> Iterator[LocalServer]:
    yield from serve(LocalServer())


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """An https server whose certificate (in ``server.cert``) is for ``files.test``; the SNI
    names clients sent are in ``server.sni``."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    names = "-subj /CN=files.test -addext subjectAltName=DNS:files.test"
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run([*command.split(), *names.split(), *files], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = LocalServer()
    context.sni_callback = lambda _sock, name, _context: server.sni.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.scheme = "https"
    server.cert = cert
    yield from serve(server)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def local(**overrides: Any) -> FetchPolicy:
    """A policy that may reach the test server on 127.0.0.1."""
    return FetchPolicy(**{"allow_hosts": LOCAL, **overrides})


def port_of(server: LocalServer) -> int:
    return server.server_port


# --- fetching ----------------------------------------------------------------------------------


def test_a_file_downloads_under_a_generated_name(http_server: LocalServer, dest: Path) -> None:
    fetched = fetch_url(f"{http_server.url}/hello", dest, local())
    assert fetched.path.parent == dest
    assert re.fullmatch(r"fetched-[0-9a-f]{32}", fetched.path.name)
    assert fetched.path.read_bytes() == HELLO
    assert fetched.size == len(HELLO)
    assert fetched.url == f"{http_server.url}/hello"
    assert fetched.content_type == "text/plain"
    assert fetched.filename_hint == "hello"


def test_loopback_is_refused_by_default(http_server: LocalServer, dest: Path) -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url(f"{http_server.url}/hello", dest, FetchPolicy())
    assert caught.value.context["reason"] == "loopback address"
    assert caught.value.context["address"] == "127.0.0.1"
    assert caught.value.to_dict()["code"] == "unsafe_url"
    assert caught.value.http_status == 422
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8", "127.1"])
def test_allow_hosts_lets_an_address_or_network_through(
    http_server: LocalServer, dest: Path, allowed: str
) -> None:
    fetched = fetch_url(f"{http_server.url}/hello", dest, FetchPolicy(allow_hosts=(allowed,)))
    assert fetched.path.read_bytes() == HELLO


def test_an_entry_with_a_port_allows_that_port_alone(http_server: LocalServer, dest: Path) -> None:
    port = port_of(http_server)
    policy = local(allow_hosts=(f"127.0.0.1:{port}", f"[::1]:{port}"))
    assert fetch_url(f"{http_server.url}/hello", dest, policy).path.read_bytes() == HELLO
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        elsewhere = f"http://127.0.0.1:{other.getsockname()[1]}/hello"
        with pytest.raises(UnsafeUrlError) as caught:
            fetch_url(elsewhere, dest, policy)
    assert "loopback" in caught.value.context["reason"]


def test_an_allowed_name_is_reached_at_its_pinned_address_with_its_host_header(
    http_server: LocalServer, dest: Path
) -> None:
    dns = FakeDNS({"files.test": [["127.0.0.1"]]})
    policy = FetchPolicy(allow_hosts=("FILES.test",), resolve=dns)
    fetched = fetch_url(f"http://files.test:{port_of(http_server)}/host", dest, policy)
    assert fetched.path.read_bytes() == f"files.test:{port_of(http_server)}".encode()
    assert dns.calls == ["files.test"]


def test_a_public_host_is_dialed_at_the_address_it_resolved_to(
    dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialed: list[tuple[str, int]] = []

    def refuse(address: tuple[str, int], timeout: float) -> socket.socket:
        dialed.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    dns = FakeDNS({"public.test": [["93.184.216.34", "2606:2800:220:1::1"]]})
    with pytest.raises(SourceError) as caught:
        fetch_url("http://public.test/x", dest, FetchPolicy(resolve=dns))
    assert caught.value.context["reason"] == "connect"
    assert "Connection refused" in caught.value.message
    assert dialed == [("93.184.216.34", 80), ("2606:2800:220:1::1", 80)]


def test_the_socket_peer_must_be_the_checked_address(
    http_server: LocalServer, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A network path that lands elsewhere than the address checked (here: a dialer that always
    reaches 127.0.0.1) is caught by the peer check."""
    real = socket.create_connection
    monkeypatch.setattr(
        socket,
        "create_connection",
        lambda address, timeout: real(("127.0.0.1", address[1]), timeout=timeout),
    )
    policy = FetchPolicy(allow_hosts=("127.0.0.0/8",))
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url(f"http://127.0.0.3:{port_of(http_server)}/hello", dest, policy)
    assert "instead of the checked address" in caught.value.message
    assert caught.value.context["address"] == "127.0.0.1"


# --- DNS rebinding and redirects ---------------------------------------------------------------


def test_dns_rebinding_cannot_swap_the_address_after_the_check(
    http_server: LocalServer, dest: Path
) -> None:
    """The resolver says 127.0.0.1 (allowed) first and 10.0.0.1 (private) after: the fetch asks
    once and connects to the first answer."""
    dns = FakeDNS({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    fetched = fetch_url(f"http://rebind.test:{port_of(http_server)}/host", dest, local(resolve=dns))
    assert fetched.path.read_bytes() == f"rebind.test:{port_of(http_server)}".encode()
    assert dns.calls == ["rebind.test"]


def test_each_redirect_hop_is_resolved_and_checked_again(
    http_server: LocalServer, dest: Path
) -> None:
    dns = FakeDNS({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    url = f"http://rebind.test:{port_of(http_server)}/redirect?to=/hello"
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url(url, dest, local(resolve=dns))
    assert dns.calls == ["rebind.test", "rebind.test"]
    assert caught.value.context["address"] == "10.0.0.1"
    assert caught.value.context["url"] == f"http://rebind.test:{port_of(http_server)}/hello"
    assert caught.value.context["source"] == url


def test_redirects_are_followed_to_the_final_url(http_server: LocalServer, dest: Path) -> None:
    fetched = fetch_url(f"{http_server.url}/chain?n=3", dest, local(max_redirects=4))
    assert fetched.path.read_bytes() == HELLO
    assert fetched.url == f"{http_server.url}/hello"


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.2:{port}/hello",
        "http://[::1]:{port}/hello",
        "http://localhost:{port}/hello",
        "http://internal.test/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://example.com/file",
        "http://user:secret@127.0.0.1:{port}/hello",
    ],
)
def test_a_redirect_to_a_forbidden_place_is_refused(
    http_server: LocalServer, dest: Path, location: str
) -> None:
    target = location.format(port=port_of(http_server))
    url = f"{http_server.url}/redirect?to={quote(target, safe='')}"
    dns = FakeDNS({"internal.test": [["192.168.0.10"]]})
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url(url, dest, local(resolve=dns))
    assert caught.value.context["url"] == target
    assert caught.value.context["source"] == url
    assert list(dest.iterdir()) == []


def test_a_redirect_loop_stops_at_max_redirects(http_server: LocalServer, dest: Path) -> None:
    with pytest.raises(LimitExceededError) as caught:
        fetch_url(f"{http_server.url}/loop", dest, local(max_redirects=3))
    assert caught.value.context["limit"] == "max_redirects"


@pytest.mark.parametrize(("hops", "allowed"), [(3, 2), (1, 0)])
def test_redirects_beyond_the_limit_are_refused(
    http_server: LocalServer, dest: Path, hops: int, allowed: int
) -> None:
    with pytest.raises(LimitExceededError) as caught:
        fetch_url(f"{http_server.url}/chain?n={hops - 1}", dest, local(max_redirects=allowed))
    assert caught.value.context["limit"] == "max_redirects"
    assert caught.value.http_status == 413


def test_a_redirect_without_location_is_a_source_error(
    http_server: LocalServer, dest: Path
) -> None:
    with pytest.raises(SourceError, match="without a Location"):
        fetch_url(f"{http_server.url}/nolocation", dest, local())


# --- hostile URLs ------------------------------------------------------------------------------

HOSTILE_DNS = {
    "internal.test": [["10.1.2.3"]],
    "metadata.test": [["169.254.169.254"]],
    "mixed.test": [["93.184.216.34", "10.0.0.5"]],
    "mixed6.test": [["2606:2800:220:1::1", "fd00::5"]],
    "mapped.test": [["::ffff:127.0.0.1"]],
    "public.test": [["93.184.216.34"]],
}

HOSTILE_URLS = [
    # schemes other than http(s), and no scheme at all
    "file:///etc/passwd",
    "FILE://localhost/etc/passwd",
    "ftp://public.test/file",
    "gopher://127.0.0.1:6379/_INFO",
    "data:text/plain,hello",
    "javascript:alert(1)",
    "jar:http://public.test/a.jar!/",
    "dict://127.0.0.1:11211/stat",
    "ldap://public.test/",
    "//public.test/x",
    # credentials and parser confusion
    "http://user:pass@public.test/",
    "http://public.test@127.0.0.1/",
    "http://127.0.0.1\\@public.test/",
    "http://public.test /",
    "http:///nohost",
    "http://public.test:0/",
    "http://[::1/",
    # IPv4 literals
    "http://127.0.0.1/",
    "http://127.0.0.2:8080/",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://198.18.0.1/",
    "http://192.0.2.1/",
    "http://203.0.113.7/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    # numeric spellings of 127.0.0.1 and 0.0.0.0
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://127.1/",
    "http://0x7f.1/",
    "http://0/",
    "http://127.0.0.1./",
    "http://127。0。0。1/",
    "http://１２７.０.０.１/",
    "http://1.2.3.4.5/",
    "http://%31%32%37.0.0.1/",
    # IPv6 literals, and IPv4 inside IPv6
    "http://[::]/",
    "http://[::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::1]/",
    "http://[2002:a00:1::]/",
    "http://[2001:0:808:808::80ff:fffe]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    # names
    "http://localhost/",
    "http://LOCALHOST:8000/",
    "http://api.localhost/",
    "http://internal.test/",
    "http://metadata.test/computeMetadata/v1/",
    "http://mixed.test/",
    "http://mixed6.test/",
    "http://mapped.test/",
    "https://internal.test/",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_are_refused_before_any_connection(
    url: str, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: Any, **kwargs: Any) -> socket.socket:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url(url, dest, FetchPolicy(resolve=FakeDNS(HOSTILE_DNS)))
    assert caught.value.context["url"] == url
    assert caught.value.context["reason"]
    assert list(dest.iterdir()) == []


def test_the_corpus_is_large() -> None:
    assert len(HOSTILE_URLS) >= 30


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://2130706433/", "loopback address"),
        ("http://0x7f.0.0.1/", "loopback address"),
        ("http://0/", "unspecified address"),
        ("http://169.254.169.254/", "link-local address (cloud metadata lives here)"),
        (
            "http://[::ffff:7f00:1]/",
            "loopback address 127.0.0.1 embedded in an IPv4-mapped address",
        ),
        ("http://[64:ff9b::a00:1]/", "private address 10.0.0.1 embedded in a NAT64 address"),
        ("http://mixed.test/", "private address"),
        ("ftp://public.test/file", "scheme 'ftp' is not http or https"),
    ],
)
def test_refusals_say_why(url: str, reason: str, dest: Path) -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url(url, dest, FetchPolicy(resolve=FakeDNS(HOSTILE_DNS)))
    assert caught.value.context["reason"] == reason


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("127。0。0。1", "127.0.0.1"),
        ("0:0:0:0:0:ffff:7f00:0001", "::ffff:7f00:1"),
        ("Files.Example.", "files.example"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_hosts_are_normalized(host: str, expected: str) -> None:
    assert str(normalize_host(host)) == expected


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


# --- size --------------------------------------------------------------------------------------


def test_a_body_of_exactly_max_bytes_is_accepted(http_server: LocalServer, dest: Path) -> None:
    fetched = fetch_url(f"{http_server.url}/sized?n=1000", dest, local(max_bytes=1000))
    assert fetched.size == 1000


@pytest.mark.parametrize(
    "path", ["/sized?n=1001", "/huge", "/endless", "/chunked?n=300000", "/chunked?n=1001"]
)
def test_a_body_over_max_bytes_is_refused_and_removed(
    http_server: LocalServer, dest: Path, path: str
) -> None:
    with pytest.raises(LimitExceededError) as caught:
        fetch_url(f"{http_server.url}{path}", dest, local(max_bytes=1000))
    assert caught.value.context["limit"] == "max_bytes"
    assert list(dest.iterdir()) == []


def test_a_chunked_body_under_the_limit_downloads(http_server: LocalServer, dest: Path) -> None:
    fetched = fetch_url(f"{http_server.url}/chunked?n=70000", dest, local())
    assert fetched.size == 70000


def test_a_body_longer_than_announced_is_cut_at_the_announced_length(
    http_server: LocalServer, dest: Path
) -> None:
    fetched = fetch_url(f"{http_server.url}/lying?says=5&sends=100", dest, local(max_bytes=50))
    assert fetched.path.read_bytes() == b"yyyyy"


def test_a_body_shorter_than_announced_is_an_error(http_server: LocalServer, dest: Path) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_url(f"{http_server.url}/lying?says=1000&sends=10", dest, local())
    assert caught.value.context["reason"] == "truncated"
    assert list(dest.iterdir()) == []


# --- time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/dripbody", "/dripclose", "/dripold", "/dripchunked", "/dripheaders", "/stall"]
)
def test_the_deadline_covers_slow_servers(http_server: LocalServer, dest: Path, path: str) -> None:
    """Whatever the answer's shape, the fetch is cut off at its deadline, long before the
    server has dripped its 500 bytes (one every 20 ms: 10 s)."""
    with pytest.raises(LimitExceededError) as caught:
        fetch_url(f"{http_server.url}{path}", dest, local(timeout_s=0.3))
    assert caught.value.context["limit"] == "timeout_s"
    assert http_server.dripped.get(path, 0) < 250
    assert list(dest.iterdir()) == []


# --- remote errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (404, SourceNotFoundError),
        (410, SourceNotFoundError),
        (403, SourceError),
        (500, SourceError),
    ],
)
def test_http_errors_are_typed_with_the_status(
    http_server: LocalServer, dest: Path, code: int, kind: type[SourceError]
) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_url(f"{http_server.url}/status?code={code}", dest, local())
    assert type(caught.value) is kind
    assert caught.value.context["status"] == code
    assert list(dest.iterdir()) == []


def test_a_closed_port_is_a_source_error(dest: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError) as caught:
        fetch_url(f"http://127.0.0.1:{port}/", dest, local())
    assert caught.value.context["reason"] == "connect"


def test_a_server_that_does_not_speak_http_is_a_source_error(
    http_server: LocalServer, dest: Path
) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_url(f"{http_server.url}/garbage", dest, local())
    assert caught.value.context["reason"] == "protocol"


def test_an_unknown_host_is_a_source_error(dest: Path) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_url("http://nowhere.test/", dest, FetchPolicy(resolve=FakeDNS({})))
    assert caught.value.context["reason"] == "dns"
    assert type(caught.value) is SourceError


def test_errors_pickle_with_their_context(dest: Path) -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        fetch_url("http://[::1]/", dest, FetchPolicy())
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.context == caught.value.context
    assert copy.context == {
        "url": "http://[::1]/",
        "reason": "loopback address",
        "address": "::1",
        "source": "http://[::1]/",
    }


# --- file names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "hint"),
    [
        ('attachment; filename="../../x"', "x"),
        ('attachment; filename="..\\..\\boot.ini"', "boot.ini"),
        ("attachment; filename*=UTF-8''%2e%2e%2f%2e%2e%2fevil%20f%C3%BCr.txt", "evil für.txt"),
        ('attachment; filename=".."', None),
        ('inline; filename="a\x07b.pdf"', "ab.pdf"),
    ],
)
def test_content_disposition_names_are_only_a_sanitized_hint(
    http_server: LocalServer, dest: Path, disposition: str, hint: str | None
) -> None:
    fetched = fetch_url(f"{http_server.url}/named?cd={quote(disposition)}", dest, local())
    assert fetched.filename_hint == hint
    assert fetched.path.parent == dest
    assert fetched.path.name.startswith("fetched-")


def test_a_traversing_url_path_never_names_the_file(http_server: LocalServer, dest: Path) -> None:
    fetched = fetch_url(f"{http_server.url}/../../etc/passwd", dest, local())
    assert fetched.path.parent == dest
    assert fetched.path.name.startswith("fetched-")
    assert fetched.filename_hint == "passwd"
    assert [p.name for p in dest.parent.rglob("passwd")] == []


# --- https -------------------------------------------------------------------------------------


def test_https_verifies_the_host_name_over_the_pinned_address(
    tls_server: LocalServer, dest: Path
) -> None:
    dns = FakeDNS({"files.test": [["127.0.0.1"]]})
    policy = local(resolve=dns, ca_file=tls_server.cert)
    fetched = fetch_url(f"https://files.test:{port_of(tls_server)}/host", dest, policy)
    assert fetched.path.read_bytes() == f"files.test:{port_of(tls_server)}".encode()
    assert tls_server.sni[-1] == "files.test"


def test_the_deadline_covers_a_stalled_tls_server(tls_server: LocalServer, dest: Path) -> None:
    dns = FakeDNS({"files.test": [["127.0.0.1"]]})
    policy = local(resolve=dns, ca_file=tls_server.cert, timeout_s=0.3)
    with pytest.raises(LimitExceededError) as caught:
        fetch_url(f"https://files.test:{port_of(tls_server)}/stall", dest, policy)
    assert caught.value.context["limit"] == "timeout_s"


@pytest.mark.parametrize("name", ["other.test", "files.test"])
def test_https_refuses_a_certificate_it_cannot_verify(
    tls_server: LocalServer, dest: Path, name: str
) -> None:
    """``other.test`` is not the certificate's name; without ``ca_file`` nothing trusts it."""
    dns = FakeDNS({name: [["127.0.0.1"]]})
    ca_file = tls_server.cert if name == "other.test" else None
    with pytest.raises(SourceError) as caught:
        fetch_url(
            f"https://{name}:{port_of(tls_server)}/host", dest, local(resolve=dns, ca_file=ca_file)
        )
    assert caught.value.context["reason"] == "tls"
    assert list(dest.iterdir()) == []


# --- policy ------------------------------------------------------------------------------------


def test_an_unreadable_ca_file_is_an_invalid_spec(tmp_path: Path, dest: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    dns = FakeDNS({"files.test": [["127.0.0.1"]]})
    for ca_file in [tmp_path / "missing.pem", tmp_path / "junk.pem"]:
        with pytest.raises(InvalidSpecError) as caught:
            fetch_url("https://files.test/", dest, local(resolve=dns, ca_file=ca_file))
        assert caught.value.context["field"] == "ca_file"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"allow_hosts": ("not a host!",)}, "allow_hosts"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"max_redirects": -1}, "max_redirects"),
    ],
)
def test_a_bad_policy_is_an_invalid_spec(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        FetchPolicy(**settings)
    assert caught.value.context["field"] == field
