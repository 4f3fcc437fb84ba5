"""Field types that several operations share, so a range or enum is written once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Quality = Annotated[int, Field(ge=1, le=100, description="Encoder quality, 1 (smallest) to 100 (best).")]
Level = Annotated[float, Field(ge=0.0, le=1.0)]
ImageFormat = Literal["png", "jpg"]
HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="Colour as #RRGGBB.")]
#: a mask over the input (the UI paints it); the schema kind "mask" says so to every reader
MaskDataUrl = Annotated[
    str,
    Field(
        pattern=r"^data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+$",
        description="A base64 data URL of a PNG mask; white marks the region to fill.",
        json_schema_extra={"kind": "mask"},
    ),
]
#: a second image: a storage key of the caller's uploads in the API, a file in the CLI and the UI
ImageKey = Annotated[str, Field(min_length=1, json_schema_extra={"kind": "image"})]
