"""Image Enhancement Studio: the web app (also a Hugging Face Space).

``python app.py`` serves the Gradio UI and its API on 127.0.0.1:7860 (0.0.0.0 on a Space).
"""

from __future__ import annotations

import os

from webui.app import build


def main() -> None:
    on_space = bool(os.environ.get("SPACE_ID"))
    host = os.environ.get("STUDIO_HOST", "0.0.0.0" if on_space else "127.0.0.1")
    port = int(os.environ.get("STUDIO_PORT", os.environ.get("GRADIO_SERVER_PORT", "7860")))
    demo = build()
    demo.queue(max_size=64)
    demo.launch(server_name=host, server_port=port, max_file_size="64mb", show_error=True)


if __name__ == "__main__":
    main()
