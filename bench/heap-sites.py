#!/usr/bin/env python3
"""Per-call-site bytes of one idle connection, from heaptrack's peak consumers.

Reads `heaptrack_print --print-peaks` output (bench/idle-heap.sh writes it) and prints, per
allocation backtrace, the bytes held at the peak divided by the number of connections, the
allocations per connection, the allocating site (innermost frame outside the standard library,
bytes, hashbrown and smallvec) and the first frame of the crate that asked for it (outside tokio
and futures, so a task cell or channel block is charged to whoever spawned or created it).

    python3 bench/heap-sites.py PEAKS.txt CONNECTIONS
"""

import re
import sys

PLUMBING = ("/rustc/", "/bytes-", "/hashbrown-", "/smallvec-", "/slab-")
RUNTIME = PLUMBING + ("/tokio-1", "/futures-", "/tokio-util-")
SIZE = re.compile(r"^([0-9.]+)([KMG]?)B? consumed over (\d+) calls from:")
SCALE = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3}


def short(location: str) -> str:
    location = re.sub(r"^/root/\.cargo/registry/src/[^/]+/", "", location)
    return re.sub(r"^.*/crates/", "crates/", location)


def parse(path: str):
    blocks, current = [], None
    function = None
    for line in open(path, encoding="utf-8", errors="replace"):
        if "peak memory consumed over" in line:
            current = None
            continue
        match = SIZE.match(line.strip())
        if match:
            value, unit, calls = match.groups()
            current = {"bytes": float(value) * SCALE[unit], "calls": int(calls), "frames": []}
            blocks.append(current)
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("at "):
            current["frames"].append((function, stripped[3:]))
        elif stripped and not stripped.startswith("in "):
            function = stripped
    return blocks


def main() -> None:
    blocks = parse(sys.argv[1])
    connections = int(sys.argv[2])
    print(f"{'B/conn':>7} {'allocs/conn':>11}  site  <=  asked for by")
    total = 0.0
    for block in sorted(blocks, key=lambda b: -b["bytes"]):
        per_conn = block["bytes"] / connections
        if per_conn < 40:
            continue
        total += per_conn
        frames = block["frames"]
        site = next((f for f in frames if not f[1].startswith(PLUMBING) and
                     not any(p in f[1] for p in PLUMBING)), frames[0] if frames else ("?", "?"))
        owner = next((f for f in frames if not any(p in f[1] for p in RUNTIME)), site)
        print(f"{per_conn:7,.0f} {block['calls'] / connections:11.2f}  "
              f"{short(site[1])} {site[0]}  <=  {short(owner[1])} {owner[0]}")
    print(f"{total:7,.0f}  listed (sites of at least 40 B per connection)")


if __name__ == "__main__":
    main()
