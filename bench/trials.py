"""One table for every backend calibration a bench prints (bench/upscale.py, bench/restorers.py)."""

from __future__ import annotations


def print_trials(choice, flops: float, bar: float = 50.0) -> None:  # noqa: ANN001  (ops.runtime.backends.selection.BackendChoice)
    """Each candidate with its time, GFLOP/s, speed-up and PSNR against plain fp32 PyTorch, then
    the one chosen by default and with the int8 speed mode, and why from the CPU flags."""
    from ops.runtime.backends.base import BACKENDS
    from ops.runtime.backends.verdicts import cpu_flags

    reference = next(t.seconds for t in choice.trials if t.backend == "torch-fp32")
    print(f"{'backend':<16} {'seconds':>8} {'GFLOP/s':>8} {'vs fp32':>8} {'PSNR dB':>8}  verdict")
    for trial in choice.trials:
        if trial.seconds is None:
            print(f"{trial.backend:<16} {'':>8} {'':>8} {'':>8} {'':>8}  {trial.verdict}")
            continue
        quality = f"{trial.quality:8.1f}" if trial.quality is not None else f"{'ref':>8}"
        print(f"{trial.backend:<16} {trial.seconds:8.3f} {flops / trial.seconds / 1e9:8.1f} {reference / trial.seconds:7.2f}x {quality}  {trial.verdict}")
    default = min((t for t in choice.trials if t.verdict in ("reference", "passed") and not BACKENDS[t.backend].opt_in), key=lambda t: t.seconds)
    print(f"chosen by default: {default.backend} ({reference / default.seconds:.2f}x plain fp32 PyTorch, the fastest at >= {bar:g} dB); "
          f"with the int8 speed mode: {choice.backend} ({choice.speedup:.2f}x, bar 38 dB)")  # fmt: skip
    flags = cpu_flags()
    print("why: " + ("AMX present: bf16 and int8 run on AMX tiles" if "amx" in flags else
                     "no AMX here: bf16 runs on AVX512-BF16 dot products" if "avx512_bf16" in flags else
                     "no AMX, no AVX512-BF16: bf16 is emulated, fp32 kernels are the fast path"))  # fmt: skip
