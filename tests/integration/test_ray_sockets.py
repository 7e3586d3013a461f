"""The Ray executor's own Ray instance listens on loopback only: Ray has no authentication to speak of,
so a GCS, raylet or worker port on a network interface lets anyone who reaches it run code here."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from pathlib import Path

import pytest

from oiradar.backtest.sweep import SweepSpec, run_sweep
from tests.unit.backtest.series import random_inputs

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed"),
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc"),
]


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _tree(root: int) -> dict[int, str]:
    """``{pid: name}`` of ``root`` and every process below it."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = _parent(int(d.name))
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
    found, todo = {root}, [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in found]
        found.update(kids)
        todo.extend(kids)
    names = {}
    for pid in found:
        try:
            names[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
    return names


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} print the address as 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_addr)
    return ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))


def _listening() -> dict[str, str]:
    """``{inode: "address:port"}`` of every listening TCP socket of this network namespace."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A":  # TCP_LISTEN
                host, port = cols[1].split(":")
                out[cols[9]] = f"{_address(host)}:{int(port, 16)}"
    return out


def _is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.rsplit(":", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _ray_listeners() -> list[tuple[str, str]]:
    """``(process name, address:port)`` of the sockets this process and its children listen on."""
    listening = _listening()
    return [(name, listening[i]) for pid, name in _tree(os.getpid()).items()
            for i in _socket_inodes(pid) if i in listening]  # fmt: skip


def test_ray_sweep_listens_on_loopback_only():
    import ray

    assert not ray.is_initialized()
    x = random_inputs(7, 300)
    spec = SweepSpec(params={"take_profit_r": [0.0, 1.0, 2.0], "time_stop": [5, 10]}, folds=2)
    try:
        r = run_sweep(x, spec, executor="ray", workers=2)
        seen = _ray_listeners()  # Ray stays up after the sweep, workers included
    finally:
        ray.shutdown()
    names = {name for name, _ in seen}
    assert {"gcs_server", "raylet"} <= names, seen  # the check saw Ray's own servers
    exposed = [(name, addr) for name, addr in seen if not _is_loopback(addr)]
    assert not exposed, f"Ray listens beyond loopback: {exposed}"
    assert r.table.equals(run_sweep(x, spec, executor="threads").table)
