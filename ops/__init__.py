"""AI image-enhancement studio: operations, engines, image I/O and jobs.

Layout: ``operations/`` declares the 15 operations of spec 000 (typed parameters, costs,
engines); ``presets`` the spec-002 model names; ``engines/`` implements engines by name;
``imageio/`` decodes and encodes faithfully; ``chain``/``pipeline`` run jobs; ``cli`` is the
command line. The app, REST API and docs are all generated from ``registry``.
"""

import sys

if sys.version_info < (3, 11):  # fail at once, in words, rather than deep inside a dependency
    raise SystemExit(f"Image Enhancement Studio needs Python 3.11 or newer; this is {sys.version.split()[0]}. See README, Quick start.")
