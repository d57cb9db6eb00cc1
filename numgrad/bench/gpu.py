"""``numgrad bench --device cuda``: the GPU's peak rates, throughput of a row, host enqueue time.

A GPU row is read three ways: its time against torch's; how much of the GPU it used (GB/s
against the memory bandwidth for elementwise and softmax rows, TFLOP/s against the arithmetic
peak for matmul and training steps); and what the Python side costs per step (the time to
*enqueue* the work, measured without waiting for the GPU): at small sizes that, not the GPU,
bounds both libraries.
"""

from __future__ import annotations

import time

# Peak rates per GPU model, from NVIDIA's datasheets (H200: "NVIDIA H200 Tensor Core GPU"
# datasheet, SXM and NVL columns; H100: "NVIDIA H100 Tensor Core GPU" datasheet).  Dense
# rates (no sparsity).  fp32 is the CUDA-core rate, which torch's default math mode uses for
# float32 matmul (TF32 is off); fp64_tensor is the FP64 tensor-core rate that cuBLAS DGEMM
# reaches on Hopper.  Order matters: the first name contained in the device's name wins.
PEAKS = (
    # match,      name,        HBM GB/s, FP32 TFLOP/s, FP64 TFLOP/s, FP64 tensor TFLOP/s
    ("H200 NVL", "H200 NVL", 4800, 60, 30, 60),
    ("H200", "H200 SXM", 4800, 67, 34, 67),
    ("H100 NVL", "H100 NVL", 3900, 60, 30, 60),
    ("H100 PCIe", "H100 PCIe", 2000, 51, 26, 51),
    ("H100", "H100 SXM", 3350, 67, 34, 67),
)


def peak_for(gpu_name):
    """The peak rates of the GPU called ``gpu_name`` (nvidia-smi's name), or None if unknown."""
    if not gpu_name:
        return None
    for match, name, bw, fp32, fp64, fp64_tc in PEAKS:
        if match in gpu_name:
            return {
                "name": name,
                "bandwidth_GBps": bw,
                "fp32_TFLOPs": fp32,
                "fp64_TFLOPs": fp64,
                "fp64_tensor_TFLOPs": fp64_tc,
            }
    return None


def peak_value(peak, unit, dtype):
    """The peak in ``unit`` ("GB/s" or "TFLOP/s") for ``dtype``, or None."""
    if peak is None:
        return None
    if unit == "GB/s":
        return peak["bandwidth_GBps"]
    return peak["fp32_TFLOPs"] if dtype == "float32" else peak["fp64_tensor_TFLOPs"]


def throughput(nbytes, flops, seconds):
    """``(unit, value)`` of a step that moves ``nbytes`` or does ``flops`` in ``seconds``:
    TFLOP/s when it has a flop count (matmul-bound), else GB/s; None without either."""
    if not seconds or seconds <= 0:
        return None
    if flops:
        return "TFLOP/s", flops / seconds / 1e12
    if nbytes:
        return "GB/s", nbytes / seconds / 1e9
    return None


# launches queued per host measurement: well under the driver's queue depth (about a thousand
# launches; a full queue blocks the host and would time the GPU instead)
ENQUEUE_STEPS = 20


def enqueue_time(step, sync, steps=ENQUEUE_STEPS):
    """Seconds of host time per ``step()`` with the GPU idle at the start and never waited for
    inside the timed span (the work is queued; ``sync`` afterwards, untimed).  Equal to the
    step's full time when the step synchronises (a host read) or the queue fills."""
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    t = time.perf_counter() - t0
    sync()
    return t / steps
