"""What every door shares, with no HTTP and no Gradio: accounts, limits, jobs, storage and the service layer.

``server`` (the REST doors) and ``webui`` (the Gradio app) both depend on this package and never
on each other; ``app.py`` puts them together. Nothing is imported here, so importing one module
(say ``service.diskfull``) costs only what that module needs.
"""
