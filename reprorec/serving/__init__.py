"""CPU-GPU hybrid serving of large ID embedding tables (MF-LET, TransRA).

The large ID tables live in host memory (fp32 or row-wise INT8/INT4), the dense part of the
model on the accelerator. A model opts in by subclassing `HybridModel` (tables + `dense_forward`);
`bundle` writes one version-consistent unit, `server.HybridServer` runs the lookup -> copy ->
dense path (staging through pre-allocated, pinned-on-CUDA buffers, under an explicit device memory
budget) with the lookup of batch k+1 overlapping the dense compute of batch k; `remote` serves the
lookups from a separate process over loopback, standing for external CPU hosts.
"""
from .bundle import BundleVersionError, export_bundle, load_bundle, load_bundle_tables
from .interface import HybridModel
from .quantize import dequantize_rows, quantize_rows
from .remote import RemoteLookupError, RemoteTables
from .server import HybridServer, MemoryBudgetError, fits_on_device
from .staging import LayoutError, StagingBuffer
from .tables import CPUTable

__all__ = ["BundleVersionError", "CPUTable", "HybridModel", "HybridServer", "LayoutError", "MemoryBudgetError",
           "RemoteLookupError", "RemoteTables", "StagingBuffer", "dequantize_rows", "export_bundle",
           "fits_on_device", "load_bundle", "load_bundle_tables", "quantize_rows"]
