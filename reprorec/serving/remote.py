"""A lookup service in a separate process over loopback, standing for the external CPU hosts.

The paper keeps the ID tables on CPU hosts apart from the GPU hosts: a request's rows cross a network
before they reach the device. `RemoteTables` starts ``python -m reprorec.serving.remote`` as a child
process that loads the tables (from a bundle, or SYNTHETIC tables from a spec) and answers lookups
over TCP on 127.0.0.1 only; the client writes each answer straight into the server's staging views.

The service is bounded so that it never outlives its use: it binds 127.0.0.1 (no other address is
accepted), serves exactly one client connection, and exits after ``max_requests`` requests, after
``idle_timeout`` seconds without one, when the client closes the connection, or on a 'stop' message.

Wire format, each message = 4-byte big-endian header length + JSON header + raw payload:
  request   {"op": "lookup", "version": v, "tables": [[name, n], ...]}  + int64 ids of each table in order
  response  {"ok": true}  + for each table in order, its parts (`CPUTable.parts` order) as raw bytes
            {"ok": false, "error": "..."}  (e.g. a version mismatch: tables and dense part from different exports)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import socket
import struct
import subprocess
import sys
import time

import torch

from .tables import CPUTable, parts_of

HOST = "127.0.0.1"


class RemoteLookupError(RuntimeError):
    pass


def _send(sock: socket.socket, header: dict, payload=()) -> None:
    h = json.dumps(header).encode()
    sock.sendall(struct.pack(">I", len(h)) + h)
    for buf in payload:
        sock.sendall(buf)


def _recv_into(sock: socket.socket, view: memoryview) -> None:
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ConnectionError("peer closed the connection")
        got += n


def _recv_header(sock: socket.socket) -> dict:
    size = bytearray(4)
    _recv_into(sock, memoryview(size))
    body = bytearray(struct.unpack(">I", bytes(size))[0])
    _recv_into(sock, memoryview(body))
    return json.loads(body)


def _bytes_of(t: torch.Tensor) -> memoryview:
    """A writable/readable byte view of a contiguous CPU tensor (shares its memory)."""
    return memoryview(t.contiguous().view(-1).view(torch.uint8).numpy())


def synthetic_tables(spec: dict) -> tuple[dict[str, CPUTable], str]:
    """spec {"rows": {name: rows}, "dim", "precision", "seed"} -> SYNTHETIC tables and a version id of the spec."""
    tables = {name: CPUTable.random(int(rows), int(spec["dim"]), spec["precision"], int(spec["seed"]) + j)
              for j, (name, rows) in enumerate(sorted(spec["rows"].items()))}
    version = "synthetic-" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return tables, version


def serve(tables: dict[str, CPUTable], version: str, port: int = 0, max_requests: int = 100_000,
          idle_timeout: float = 60.0, announce=print) -> int:
    """Answer lookups on 127.0.0.1:``port`` for one client; returns the number of requests served."""
    srv = socket.create_server((HOST, port))
    srv.settimeout(idle_timeout)
    specs = {n: {"precision": t.precision, "dim": t.dim, "rows": t.rows} for n, t in tables.items()}
    announce(json.dumps({"port": srv.getsockname()[1], "version": version, "tables": specs}))
    served = 0
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        srv.close()
        return served
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.settimeout(idle_timeout)
    with conn, srv:
        while served < max_requests:
            try:
                req = _recv_header(conn)
            except (ConnectionError, socket.timeout, OSError):
                break
            if req.get("op") == "stop":
                break
            ids = {}
            for name, n in req["tables"]:
                ids[name] = torch.empty(int(n), dtype=torch.int64)
                _recv_into(conn, _bytes_of(ids[name]))
            served += 1
            if req.get("version") != version:
                _send(conn, {"ok": False, "error": f"lookup service holds version {version!r}, request asked for "
                                                   f"{req.get('version')!r}: refusing to mix exports"})
                continue
            unknown = [n for n in ids if n not in tables]
            if unknown:
                _send(conn, {"ok": False, "error": f"unknown tables {unknown}"})
                continue
            out = []
            for name, i in ids.items():
                t = tables[name]
                parts = {p: torch.empty((len(i), *shape), dtype=dt) for p, (shape, dt) in t.parts().items()}
                t.gather_into(i, parts)
                out += [_bytes_of(v) for v in parts.values()]
            _send(conn, {"ok": True}, out)
    return served


class RemoteTables:
    """Client of a lookup service child process; ``source`` = {"bundle": path} or {"synthetic": spec}."""

    def __init__(self, source: dict, max_requests: int = 100_000, idle_timeout: float = 60.0):
        cmd = [sys.executable, "-m", "reprorec.serving.remote", "--source", json.dumps(source),
               "--max-requests", str(max_requests), "--idle-timeout", str(idle_timeout)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        line = self.proc.stdout.readline()  # the child prints one line once its tables are loaded
        if not line:
            self.proc.wait(timeout=10)
            raise RemoteLookupError(f"lookup service exited (code {self.proc.returncode}) before announcing its port")
        info = json.loads(line)
        self.start_s = time.monotonic() - t0
        self.port, self.version, self.specs = info["port"], info["version"], info["tables"]
        self.sock = socket.create_connection((HOST, self.port), timeout=idle_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parts(self, name: str) -> dict[str, tuple[tuple, torch.dtype]]:
        return parts_of(self.specs[name]["precision"], self.specs[name]["dim"])

    def gather_into(self, ids: dict[str, torch.Tensor], out: dict[str, dict[str, torch.Tensor]],
                    version: str | None = None) -> None:
        """One round trip for all tables; the answer lands directly in ``out`` (host staging views)."""
        names = list(ids)
        _send(self.sock, {"op": "lookup", "version": version or self.version,
                          "tables": [[n, int(ids[n].numel())] for n in names]},
              [_bytes_of(ids[n].to(torch.int64)) for n in names])
        head = _recv_header(self.sock)
        if not head.get("ok"):
            raise RemoteLookupError(head.get("error", "lookup failed"))
        for n in names:
            for part in self.parts(n):
                _recv_into(self.sock, _bytes_of(out[n][part]))

    def close(self) -> None:
        try:
            if getattr(self, "sock", None) is not None:
                _send(self.sock, {"op": "stop"})
                self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _load(source: dict) -> tuple[dict[str, CPUTable], str]:
    if "bundle" in source:
        from .bundle import load_bundle_tables

        return load_bundle_tables(source["bundle"], source.get("version"))
    if "synthetic" in source:
        return synthetic_tables(source["synthetic"])
    raise ValueError(f"source must name a 'bundle' or a 'synthetic' spec, got {sorted(source)}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="ID-table lookup service on 127.0.0.1 (one client, bounded)")
    ap.add_argument("--source", required=True, help='JSON: {"bundle": path} or {"synthetic": spec}')
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--idle-timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    tables, version = _load(json.loads(args.source))
    serve(tables, version, args.port, args.max_requests, args.idle_timeout,
          announce=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
