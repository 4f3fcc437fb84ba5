"""Fetch a user-supplied image URL without letting it reach inside our network (SSRF).

http/https only; every hop's host is resolved and each address must be public (not private,
loopback, link-local, multicast, reserved or unspecified); the connection goes to the address
that was checked (no second DNS answer can swap it); redirects are followed by hand, each
checked the same way; size and time are capped.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5


class UnsafeUrl(Exception):
    """The URL is malformed, not http(s), points inside the network, or could not be fetched."""


def check_address(address: str) -> None:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_private:
        raise UnsafeUrl(f"refusing to fetch from {ip}: not a public address")


def resolve(host: str, port: int, allow: set[str]) -> str:
    """One checked address for ``host`` (all of its addresses must be public)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrl(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [info[4][0] for info in infos]
    if f"{host}:{port}" not in allow:
        for address in addresses:
            check_address(address)
    return addresses[0]


def fetch(url: str, max_bytes: int, timeout: float, allow: set[str] = frozenset()) -> tuple[bytes, str]:
    """(body, final URL) of a GET, or UnsafeUrl."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsafeUrl("only http and https URLs with a host are accepted")
        if parts.username or parts.password:
            raise UnsafeUrl("URLs with credentials are not accepted")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(parts.hostname, port, set(allow))
        response = _get(url, parts.hostname, address, port, max_bytes, max(0.1, deadline - time.monotonic()))
        if response[0] in (301, 302, 303, 307, 308):
            url = urljoin(url, response[2])
            continue
        status, body, _ = response
        if status != 200:
            raise UnsafeUrl(f"the image URL answered HTTP {status}")
        return body, url
    raise UnsafeUrl("too many redirects")


def _get(url: str, host: str, address: str, port: int, max_bytes: int, timeout: float) -> tuple[int, bytes, str]:
    """GET through a transport pinned to the checked address; TLS still verifies ``host``."""
    transport = httpx.HTTPTransport(retries=0)
    pinned = _PinnedTransport(transport, host, address)
    try:
        with httpx.Client(transport=pinned, timeout=timeout, follow_redirects=False) as client:
            with client.stream("GET", url, headers={"Accept": "image/*"}) as response:
                if response.is_redirect:
                    return response.status_code, b"", response.headers.get("location", "")
                declared = int(response.headers.get("content-length") or 0)
                if declared > max_bytes:
                    raise UnsafeUrl(f"the image is {declared:,} bytes, over the limit of {max_bytes:,}")
                chunks, size = [], 0
                for chunk in response.iter_bytes(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise UnsafeUrl(f"the image is over the limit of {max_bytes:,} bytes")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks), ""
    except httpx.TimeoutException:
        raise UnsafeUrl("fetching the image URL timed out") from None
    except httpx.HTTPError as exc:
        raise UnsafeUrl(f"could not fetch the image URL ({type(exc).__name__})") from None


class _PinnedTransport(httpx.BaseTransport):
    """Send to a fixed IP while keeping the URL's host for the Host header and TLS (SNI + certificate)."""

    def __init__(self, inner: httpx.HTTPTransport, host: str, address: str) -> None:
        self.inner, self.host, self.address = inner, host, address

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.host:
            raise UnsafeUrl("unexpected host change")
        ip = f"[{self.address}]" if ":" in self.address else self.address
        request.url = request.url.copy_with(host=ip)
        request.extensions = {**request.extensions, "sni_hostname": self.host}
        request.headers["Host"] = self.host if request.url.port in (None, 80, 443) else f"{self.host}:{request.url.port}"
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
