"""Throughput and latency of `movierec serve` (EASE), on ml-100k and on the competition preset.

For each data set: a run folder with EASE (l2 fixed at 300) is made with `movierec
run`, the service is started on loopback in its own process, and `wrk` (Debian's
package `wrk`; a C load generator, so the client is not what is measured) sends
single-user GETs for random known users, then POSTs of random 20-item histories, for
`--seconds` each from `--connections` connections on 1 thread. Writes
benchmarks/results/bench_serve.json and prints a table.

Usage::

    MOVIEREC_DATA_DIR=../shared/data python benchmarks/bench_serve.py [--datasets ml100k,competition]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from movierec.atomic import atomic_write_bytes

WRK_SCRIPT = """
local paths = {%s}
local bodies = {%s}
local mode = "%s"
local n = 0
request = function()
  n = n + 1
  if mode == "get" then
    return wrk.format("GET", paths[(n %% #paths) + 1])
  end
  return wrk.format("POST", "/recommendations", {["Content-Type"] = "application/json"}, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%f %%f %%f %%f\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000))
end
"""


def make_run(name: str, work: Path, data_dir: Path) -> Path:
    """A run folder with EASE for data set `name` (ml100k: the fixed mixed split)."""
    out = work / f"run-{name}"
    config = work / "ease.toml"
    config.write_text('[run]\nmodels = ["ease"]\n\n[models.ease]\nl2 = 300.0\nrecency_decay = 1.0\n')
    if name == "ml100k":
        source = ["--split-dir", str(data_dir.parent / "splits" / "ml100k-mixed-s0"), "--data", "ml-100k"]
    else:
        synth = work / "synth-competition"
        if not synth.exists():
            subprocess.run([sys.executable, "-m", "movierec.cli", "data", "synth", "--preset", "competition",
                            "--out", str(synth)], check=True)
        source = ["--data", str(synth)]
    subprocess.run([sys.executable, "-m", "movierec.cli", "run", *source, "--config", str(config), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def serve(run: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "movierec.cli", "serve", "--run", str(run), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not start")


def load(base: str, mode: str, paths: list[str], bodies: list[str], *, seconds: int, connections: int,
         work: Path) -> dict:
    script = work / f"{mode}.lua"
    script.write_text(WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths),
                                    ", ".join(json.dumps(b) for b in bodies), mode))
    output = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
                            capture_output=True, text=True, check=True).stdout
    fields = re.search(r"RESULT (.*)", output).group(1).split()
    requests, status_errors, socket_errors = (int(v) for v in fields[:3])
    duration_s = int(fields[3]) / 1e6
    p50, p99, mean, worst = (float(v) for v in fields[4:])
    return {"mode": mode, "requests": requests, "non_2xx": status_errors, "socket_errors": socket_errors,
            "requests_per_s": round(requests / duration_s, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
            "mean_ms": round(mean, 2), "max_ms": round(worst, 2), "connections": connections, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml100k,competition")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/bench_serve.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (Debian: apt-get install wrk)")
    data_dir = Path(os.environ.get("MOVIEREC_DATA_DIR", "../shared/data")).resolve()
    rows = []
    with tempfile.TemporaryDirectory(prefix="movierec-serve-") as folder:
        work = Path(folder)
        for name in args.datasets.split(","):
            run = make_run(name, work, data_dir)
            rng = np.random.default_rng(0)
            users = pd.read_csv(run / "catalogue" / "users.csv")["user"].to_numpy()
            items = pd.read_csv(run / "catalogue" / "items.csv")["item"].to_numpy()
            paths = [f"/recommendations/{user}?k=10" for user in rng.choice(users, 2000)]
            bodies = [json.dumps({"history": rng.choice(items, 20, replace=False).tolist(), "k": 10})
                      for _ in range(500)]
            process, base = serve(run)
            try:
                load(base, "get", paths, bodies, seconds=2, connections=args.connections, work=work)  # warm up
                for mode in ("get", "post"):
                    row = {"dataset": name, "users": len(users), "items": len(items)} | load(
                        base, mode, paths, bodies, seconds=args.seconds, connections=args.connections, work=work)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                process.terminate()
                process.wait(timeout=10)
    payload = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                           "load_average": list(os.getloadavg())}, "rows": rows}
    atomic_write_bytes(Path(args.out), (json.dumps(payload, indent=1) + "\n").encode())
    print("| data set | request | requests/s | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['dataset']} ({row['items']:,} items) | {row['mode'].upper()} | {row['requests_per_s']:,.0f} | "
              f"{row['p50_ms']} | {row['p99_ms']} | {row['non_2xx'] + row['socket_errors']} |")


if __name__ == "__main__":
    main()
