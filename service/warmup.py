"""One-time costs paid at start-up, off the request path (the embedded server and every model worker)."""

from __future__ import annotations

import logging

from ops.run_config import RunConfig
from ops.settings import Settings


def warm_up(settings: Settings) -> None:
    """Pay one-time costs off the request path: rembg's first import compiles pymatting with
    numba (about a minute the first time on a machine, cached after); the default networks are
    loaded, their CPU backend chosen (measured once per machine, then read from the cache) and
    their usual shapes compiled."""
    try:
        import rembg  # noqa: F401
    except Exception:  # an import problem shows when a background job runs, with its own message
        pass
    import ops.engines  # noqa: F401  (registers the engines)
    from ops.engines.base import ENGINES

    for name in filter(None, (n.strip() for n in settings.warm_networks.split(","))):
        try:
            if name in ENGINES:
                ENGINES[name].warm(RunConfig.of(settings))
        except Exception:  # the job that needs it reports the problem with its own message
            logging.getLogger(__name__).exception("warming %s failed", name)
