"""The web UI: Gradio tabs generated from the operation registry."""
