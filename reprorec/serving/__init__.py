"""CPU-GPU hybrid serving of large ID embedding tables (MF-LET, TransRA).

The large ID tables live in host memory (fp32 or row-wise INT8/INT4), the dense part of the
model on the accelerator. A model opts in by subclassing `HybridModel` (tables + `dense_forward`);
`bundle` writes one version-consistent unit, `server.HybridServer` runs the lookup -> copy ->
dense path with the lookup of batch k+1 overlapping the dense compute of batch k.
"""
from .bundle import BundleVersionError, export_bundle, load_bundle
from .interface import HybridModel
from .quantize import dequantize_rows, quantize_rows
from .server import HybridServer
from .tables import CPUTable

__all__ = ["BundleVersionError", "CPUTable", "HybridModel", "HybridServer", "dequantize_rows", "export_bundle",
           "load_bundle", "quantize_rows"]
