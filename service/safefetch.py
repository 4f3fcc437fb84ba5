"""Fetch a user-supplied image URL without letting it reach inside our network (SSRF).

http/https only; every hop's host is resolved and each address must be public (not private,
loopback, link-local, multicast, reserved or unspecified); the connection goes to the address
that was checked (no second DNS answer can swap it); redirects are followed by hand, each
checked the same way; size and the whole fetch's time are capped.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import anyio
import anyio.to_thread
import httpx

MAX_REDIRECTS = 5


class UnsafeUrl(Exception):
    """The URL is malformed, not http(s), points inside the network, or could not be fetched."""


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: the IPv4 address is the last 32 bits
#: IPv6 ranges refused whatever they carry: the local-use NAT64 prefix (RFC 8215; it embeds IPv4
#: elsewhere and translates into the operator's own network) and the deprecated site-local range
LOCAL_IPV6 = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("fec0::/10"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and may route to: mapped, 6to4, Teredo, NAT64."""
    found = [ip.ipv4_mapped] if ip.ipv4_mapped else []
    found += [ip.sixtofour] if ip.sixtofour else []
    found += list(ip.teredo) if ip.teredo else []
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def check_address(address: str) -> None:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in network for network in LOCAL_IPV6):
        raise UnsafeUrl(f"refusing to fetch from {ip}: a local-use address")
    carried = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else []
    for candidate in carried or [ip]:  # a tunnel or translation address is judged by where it leads
        if (not candidate.is_global or candidate.is_multicast or candidate.is_reserved or candidate.is_unspecified
                or candidate.is_loopback or candidate.is_link_local or candidate.is_private):  # fmt: skip
            shown = f"{ip} (carrying {candidate})" if carried else ip
            raise UnsafeUrl(f"refusing to fetch from {shown}: not a public address")


def resolve(host: str, port: int, allow: set[str]) -> str:
    """One checked address for ``host`` (all of its addresses must be public)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None
    addresses = [info[4][0] for info in infos]
    if f"{host}:{port}" not in allow:
        for address in addresses:
            check_address(address)
    return addresses[0]


def _target(url: str, allow: set[str]) -> tuple[str, str, int]:
    """(host, checked address, port) of a URL, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(f"malformed URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("only http and https URLs with a host are accepted")
    if parts.username or parts.password:
        raise UnsafeUrl("URLs with credentials are not accepted")
    return parts.hostname, resolve(parts.hostname, port, set(allow)), port


def check_url(url: str, allow: set[str] = frozenset()) -> None:
    """The checks that need no download: form, scheme, and the first hop's addresses."""
    _target(url, allow)


def fetch(url: str, max_bytes: int, timeout: float, allow: set[str] = frozenset()) -> tuple[bytes, str]:
    """(body, final URL) of a GET, or UnsafeUrl. ``timeout`` bounds the whole fetch (every hop, every
    byte): a host that trickles a byte at a time is cut off at the deadline, not per read."""
    return anyio.run(_fetch, url, max_bytes, timeout, set(allow))


async def _fetch(url: str, max_bytes: int, timeout: float, allow: set[str]) -> tuple[bytes, str]:
    try:
        with anyio.fail_after(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                host, address, port = await anyio.to_thread.run_sync(_target, url, allow, abandon_on_cancel=True)  # DNS, off the loop
                status, body, location = await _get(url, host, address, max_bytes)
                if status in (301, 302, 303, 307, 308):
                    url = urljoin(url, location)
                    continue
                if status != 200:
                    raise UnsafeUrl(f"the image URL answered HTTP {status}")
                return body, url
    except TimeoutError:
        raise UnsafeUrl(f"fetching the image URL took longer than {timeout:g} s") from None
    raise UnsafeUrl("too many redirects")


async def _get(url: str, host: str, address: str, max_bytes: int) -> tuple[int, bytes, str]:
    """GET through a transport pinned to the checked address; TLS still verifies ``host``."""
    pinned = _PinnedTransport(httpx.AsyncHTTPTransport(retries=0), host, address)
    try:
        async with httpx.AsyncClient(transport=pinned, timeout=None, follow_redirects=False) as client:
            async with client.stream("GET", url, headers={"Accept": "image/*"}) as response:
                if response.is_redirect:
                    return response.status_code, b"", response.headers.get("location", "")
                declared = int(response.headers.get("content-length") or 0)
                if declared > max_bytes:
                    raise UnsafeUrl(f"the image is {declared:,} bytes, over the limit of {max_bytes:,}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise UnsafeUrl(f"the image is over the limit of {max_bytes:,} bytes")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks), ""
    except httpx.HTTPError as exc:
        raise UnsafeUrl(f"could not fetch the image URL ({type(exc).__name__})") from None


class _PinnedTransport(httpx.AsyncBaseTransport):
    """Send to a fixed IP while keeping the URL's host for the Host header and TLS (SNI + certificate)."""

    def __init__(self, inner: httpx.AsyncHTTPTransport, host: str, address: str) -> None:
        self.inner, self.host, self.address = inner, host, address

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.host:
            raise UnsafeUrl("unexpected host change")
        ip = f"[{self.address}]" if ":" in self.address else self.address
        request.url = request.url.copy_with(host=ip)
        request.extensions = {**request.extensions, "sni_hostname": self.host}
        request.headers["Host"] = self.host if request.url.port in (None, 80, 443) else f"{self.host}:{request.url.port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
