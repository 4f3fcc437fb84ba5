"""Ways to run one network on the CPU, and the choice between them made by measurement.

``base``: what a backend is and the registry; ``torch_cpu`` and ``openvino_cpu``: the backends;
``selection``: times every backend on a photo tile, keeps those true to fp32, picks the fastest;
``onnx_sessions``: the same choice for rembg's ONNX segmenters (onnxruntime or OpenVINO);
``verdicts``: the verdicts kept per machine and weights. Nothing is imported here, so ONNX-only
work (remove-background) never loads torch.
"""
