"""The network manager owns every loaded network: a budget of one keeps one, whatever the kind."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ops import chain
from ops.engines.point_mask import point_to_mask
from ops.imageio import Picture
from ops.masks import to_data_url
from ops.runtime.manager import NETWORKS, NetworkManager
from tests.conftest import EXAMPLES, SetHost


def test_a_budget_of_one_keeps_one_network_across_every_kind(set_host: SetHost) -> None:
    set_host(max_loaded_networks=1)
    NETWORKS.unload()
    picture = Picture(np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB"))[:64, :96].copy())
    mask = np.zeros((64, 96), bool)
    mask[20:40, 30:60] = True
    runs = [
        [{"type": "enhance", "params": {"scale": 2}}],
        [{"type": "remove-background", "params": {}}],
        [{"type": "remove-text", "params": {}}],
        [{"type": "remove-object", "params": {"mask_data_url": to_data_url(mask)}}],
    ]
    seen = []
    for steps in runs:
        chain.run(picture, chain.plan(steps))
        assert len(NETWORKS.loaded()) <= 1, NETWORKS.loaded()
        seen += NETWORKS.loaded()
    point_to_mask(Picture(np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB")).copy()), 256, 300)
    assert len(NETWORKS.loaded()) <= 1
    seen += NETWORKS.loaded()
    assert {"spandrel:realesrgan-x4plus-ncnn", "rembg:u2netp", "onnx:ppocr-v4-det"} <= set(seen)
    NETWORKS.unload()


def test_a_byte_budget_unloads_the_least_recently_used(set_host: SetHost) -> None:
    set_host(max_network_bytes=3 << 20)
    manager = NetworkManager()
    sizes = {"a": 1 << 20, "b": 1 << 20, "c": 2 << 20}
    for key in ("a", "b"):
        manager.get(key, lambda key=key: key, lambda _n, key=key: sizes[key])
    manager.get("a", lambda: "never loaded twice")  # a is now the most recently used
    manager.get("c", lambda: "c", lambda _n: sizes["c"])
    assert manager.loaded() == ["a", "c"] and manager.total_bytes() == 3 << 20


def test_a_network_loads_once_under_concurrent_requests() -> None:
    from concurrent.futures import ThreadPoolExecutor

    manager, calls = NetworkManager(), []

    def load() -> object:
        calls.append(1)
        import time

        time.sleep(0.2)
        return object()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: manager.get("slow", load, lambda _n: 1), range(8)))
    assert len(calls) == 1 and all(r is results[0] for r in results)


def test_onnx_only_work_does_not_import_torch() -> None:
    """The manager's budget must not pull in torch (150 MB) for a rembg or ONNX network."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys, numpy as np\n"
        "from ops import chain\nfrom ops.imageio import Picture\n"
        "chain.run(Picture(np.zeros((64, 64, 3), np.uint8)), chain.plan([{'type': 'remove-background', 'engine': 'u2netp'}]))\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("False")
