"""What a route is handed by FastAPI: the :class:`~service.studio.Studio` its application holds."""

from __future__ import annotations

from fastapi import Request

from service.studio import Studio


def studio(request: Request) -> Studio:
    return request.app.state.studio
