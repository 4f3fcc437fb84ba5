"""Faithful image I/O: decode by content, keep what users care about, encode with intent."""

from .picture import OutputFormat, Picture
from .reader import decode, probe, read_bytes, read_image, upright_size
from .writer import Encoded, encode, format_from_name, natural_format

__all__ = ["Encoded", "OutputFormat", "Picture", "decode", "encode", "format_from_name", "natural_format", "probe", "read_bytes", "read_image", "upright_size"]
