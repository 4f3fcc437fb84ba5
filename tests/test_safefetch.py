"""The img_url guard, called directly (second audit, findings 6 and 7): a total deadline for the
whole fetch, and the IPv6 forms that lead inside a network refused."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from service.safefetch import UnsafeUrl, check_address, fetch


@pytest.mark.parametrize("address", ["64:ff9b:1::a00:1", "64:ff9b:1:808:8:800::", "64:ff9b:1::808:808", "fec0::1", "fec0:1::7f00:1",
                                     "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "::ffff:192.168.1.1", "2002:c0a8:101::1", "fe80::1"])  # fmt: skip
def test_addresses_leading_inside_a_network_are_refused(address: str) -> None:
    with pytest.raises(UnsafeUrl, match="refusing to fetch"):
        check_address(address)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2606:4700:4700::1111", "8.8.8.8", "2002:808:808::1"])
def test_public_addresses_pass(address: str) -> None:
    check_address(address)


class Trickle(str):
    """host:port; ``sent``: bytes sent before the client hung up, once ``gone`` is set."""

    sent: list[int]
    gone: threading.Event


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    """A host that answers with a byte every 0.2 s, the status line and headers included."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    sent, gone = [0], threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
                    if stop.is_set():
                        break
                    try:
                        connection.sendall(bytes([byte]))
                    except OSError:
                        gone.set()
                        break
                    sent[0] += 1
                    time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host = Trickle(f"127.0.0.1:{listener.getsockname()[1]}")
    host.sent, host.gone = sent, gone
    yield host
    stop.set()
    thread.join()
    listener.close()


def test_a_trickling_host_is_cut_off_at_the_total_deadline(trickle: Trickle) -> None:
    with pytest.raises(UnsafeUrl, match="longer than 1.5 s"):
        fetch(f"http://{trickle}/photo.jpg", 1 << 20, 1.5, {trickle})
    assert trickle.gone.wait(60), "the connection was closed"
    assert trickle.sent[0] < 1000  # of the 100 kB it would trickle: cut off early (no per-read timeout keeps it alive)
