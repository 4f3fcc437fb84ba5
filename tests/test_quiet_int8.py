"""int8 quantisation (NNCF) keeps stdout clean: ``python -m ops ... --json --speed int8`` prints JSON
there and nothing else. NNCF's progress bars and its log go to stderr instead."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch
from spandrel.architectures.Compact.__arch.SRVGG import SRVGGNetCompact

from ops.runtime.backends import openvino_cpu
from ops.runtime.backends.base import IMAGE


def test_quantising_to_int8_writes_nothing_to_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import nncf

    # nncf logs through a handler holding sys.stdout as it was at nncf's import: the terminal under
    # the command line; here the stdout this test captures
    handler = next(h for h in logging.getLogger("nncf").handlers if type(h) is logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", sys.stdout)
    quantize = nncf.quantize

    def quantize_and_log(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        logging.getLogger("nncf").warning("a message from nncf while it quantises")
        return quantize(*args, **kwargs)

    monkeypatch.setattr(nncf, "quantize", quantize_and_log)
    torch.manual_seed(0)
    tiny = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2).eval()
    capfd.readouterr()

    compiled = openvino_cpu.OPENVINO_INT8.build(tiny, IMAGE, tmp_path, "tiny")

    out, err = capfd.readouterr()
    assert (tmp_path / "tiny-int8.xml").exists(), "quantised"
    assert out == "", f"stdout is for results only, got {out!r}"
    assert "Statistics collection" in err, "the progress is still shown, on stderr"
    assert "a message from nncf while it quantises" in err, "and nncf's log"
    assert handler.stream is sys.stdout, "nncf's handler is left as it was"
    assert compiled(torch.rand(1, 3, 32, 32)).shape == (1, 3, 64, 64)
    assert capfd.readouterr().out == ""
