"""A random-weight ONNX file written by hand (the ``onnx`` package is not a dependency): one 3x3
convolution from three channels to ``outputs`` and a sigmoid, any height and width, the shape of a
segmenter's or a text detector's output map. Enough protobuf for onnxruntime to read it."""

from __future__ import annotations

import numpy as np

FLOAT = 1  # TensorProto.FLOAT
INTS = 7  # AttributeProto.INTS


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    """One protobuf field: an integer as a varint, bytes and strings length-delimited."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _tensor(name: str, array: np.ndarray) -> bytes:
    return b"".join(_field(1, d) for d in array.shape) + _field(2, FLOAT) + _field(8, name) + _field(9, array.astype("<f4").tobytes())


def _value(name: str, channels: int) -> bytes:
    dims = [_field(1, _field(1, 1)), _field(1, _field(1, channels)), _field(1, _field(2, "height")), _field(1, _field(2, "width"))]
    tensor_type = _field(1, FLOAT) + _field(2, b"".join(dims))
    return _field(1, name) + _field(2, _field(1, tensor_type))


def _ints(name: str, values: list[int]) -> bytes:
    return _field(1, name) + b"".join(_field(8, v) for v in values) + _field(20, INTS)


def conv_sigmoid(outputs: int = 1, seed: int = 0) -> bytes:
    """The model's bytes: input ``x`` (1x3xHxW float), output ``y`` (1 x outputs x H x W, in (0, 1))."""
    rng = np.random.default_rng(seed)
    weight, bias = rng.normal(0, 0.3, (outputs, 3, 3, 3)), np.zeros(outputs)
    conv = _field(1, "x") + _field(1, "w") + _field(1, "b") + _field(2, "c") + _field(4, "Conv")
    conv += _field(5, _ints("kernel_shape", [3, 3])) + _field(5, _ints("pads", [1, 1, 1, 1]))
    sigmoid = _field(1, "c") + _field(2, "y") + _field(4, "Sigmoid")
    graph = _field(1, conv) + _field(1, sigmoid) + _field(2, "random") + _field(5, _tensor("w", weight)) + _field(5, _tensor("b", bias))
    graph += _field(11, _value("x", 3)) + _field(12, _value("y", outputs))
    return _field(1, 7) + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))
