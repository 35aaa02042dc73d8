"""One versioned serving bundle: ID tables + dense part + a version id, deployed as a unit.

Layout of a bundle directory::

    manifest.json        {"version", "label", "precision", "dense": {...}, "tables": {name: {...}}}
    dense.pt             {"version", "builder", "kwargs", "table_keys", "state"}
    tables/<name>.pt     {"version", "precision", "dim", "rows", "codes", "scale", "offset"}

The version id is a hash of the content of every part, and every part carries it. A server
that picks up tables from one export and a dense model from another (the failure the paper's
"version-consistent" deployment prevents) is refused at load time with a message naming the
parts. The sha256 of each file is also checked, so a truncated copy is refused too.
"""
from __future__ import annotations

import hashlib
import importlib
import io
import json
from pathlib import Path

import torch

from .interface import HybridModel
from .tables import CPUTable


class BundleVersionError(RuntimeError):
    """The parts of a bundle do not belong to the same export (or not to the expected one)."""


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def export_bundle(model: HybridModel, path: str | Path, precision: str = "fp32", label: str = "") -> str:
    """Write ``model`` as a bundle under ``path`` with tables at ``precision``; returns the version id."""
    path = Path(path)
    (path / "tables").mkdir(parents=True, exist_ok=True)
    builder, kwargs = model.builder()
    tables = {name: CPUTable.from_weight(emb.weight, precision).state() for name, emb in model.tables.items()}
    dense = {"builder": builder, "kwargs": kwargs, "table_keys": dict(model.table_keys),
             "state": {k: v.detach().cpu() for k, v in model.dense_state_dict().items()}}
    parts = {"dense": dense, **{f"tables/{n}": t for n, t in tables.items()}}
    content = hashlib.sha256()
    for name in sorted(parts):
        content.update(name.encode() + _sha(_bytes(parts[name])).encode())
    version = (label + "-" if label else "") + content.hexdigest()[:16]
    manifest = {"version": version, "label": label, "precision": precision, "dense": {}, "tables": {}}
    for name, part in parts.items():
        blob = _bytes({"version": version, **part})
        (path / f"{name}.pt").write_bytes(blob)
        entry = {"file": f"{name}.pt", "sha256": _sha(blob)}
        if name == "dense":
            manifest["dense"] = entry
        else:
            t = tables[name.split("/", 1)[1]]
            manifest["tables"][name.split("/", 1)[1]] = {**entry, "rows": t["rows"], "dim": t["dim"]}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return version


def _read(path: Path, entry: dict, version: str, what: str) -> dict:
    blob = (path / entry["file"]).read_bytes()
    if _sha(blob) != entry["sha256"]:
        raise BundleVersionError(f"{what} ({path / entry['file']}) does not match the sha256 in the manifest: "
                                 "the file was changed or truncated after export")
    obj = torch.load(io.BytesIO(blob), weights_only=True)
    if obj.get("version") != version:
        raise BundleVersionError(
            f"version mismatch in bundle {path}: {what} was exported as version {obj.get('version')!r} but the "
            f"manifest is version {version!r}. Tables and dense model must come from the same export; refusing to "
            "serve a mixed bundle (re-export the model, or copy the whole bundle directory).")
    return obj


def load_bundle(path: str | Path, expected_version: str | None = None, device: str | torch.device = "cpu"):
    """-> (dense model on ``device`` without its tables, {name: CPUTable}, table_keys, version).

    Raises `BundleVersionError` when any part disagrees with the manifest, or the manifest with
    ``expected_version``.
    """
    path = Path(path)
    tables, version = load_bundle_tables(path, expected_version)
    manifest = json.loads((path / "manifest.json").read_text())
    dense = _read(path, manifest["dense"], version, "the dense model")
    module, cls = dense["builder"].split(":")
    factory = getattr(importlib.import_module(module), cls)
    with torch.device("meta"):  # build the architecture without allocating the (large) tables
        model = factory(**dense["kwargs"])
    model.tables = torch.nn.ModuleDict()
    missing, unexpected = model.load_state_dict(dense["state"], strict=False, assign=True)
    if unexpected or missing:
        raise BundleVersionError(f"bundle {path}: dense state does not fit {dense['builder']} "
                                 f"(missing {missing}, unexpected {unexpected})")
    return model.to(device).eval(), tables, dense["table_keys"], version


def load_bundle_tables(path: str | Path, expected_version: str | None = None) -> tuple[dict[str, CPUTable], str]:
    """Only the ID tables of a bundle (what a lookup host loads) -> ({name: CPUTable}, version)."""
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text())
    version = manifest["version"]
    if expected_version is not None and version != expected_version:
        raise BundleVersionError(f"bundle {path} is version {version!r}, but version {expected_version!r} was "
                                 "requested; refusing to load a different model version")
    return {name: CPUTable.from_state(_read(path, entry, version, f"table {name!r}"))
            for name, entry in sorted(manifest["tables"].items())}, version
