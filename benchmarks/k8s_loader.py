"""Benchmark: the Kubernetes loader on a 10,000-pod cluster through the local API stand-in.

Each case runs in a fresh subprocess so its peak RSS is its own. Prints a table and one JSON
line (``{"benchmark": "k8s_loader", ...}``). Target: 10,000 pods x 2 containers in < 5 s and
< 500 MB peak.

    .venv/bin/python benchmarks/k8s_loader.py [--pods 10000] [--containers 2] [--page-size 500]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_S, TARGET_MB = 5.0, 500.0


def run_case(kubeconfig: str, call: str, page_size: int, raw_models: bool) -> dict:
    """Load once in this process; report seconds, rows and peak RSS (MB)."""
    from dwcp_diag.config import KubernetesSettings
    from dwcp_diag.sources.kubernetes import KubernetesLoader

    settings = KubernetesSettings(kubeconfig=kubeconfig, page_size=page_size)
    loader = KubernetesLoader(settings)
    started = time.perf_counter()
    rows = _with_client_models(loader, page_size) if raw_models else len(getattr(loader, call)())
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 3), "rows": rows, "peak_rss_mb": round(peak_mb, 1)}


def _with_client_models(loader, page_size: int) -> int:
    """For comparison: the same pod pages deserialized into the client's V1Pod models."""
    from kubernetes import client

    api = client.CoreV1Api(loader._api_client())
    count, token = 0, None
    while True:
        page = api.list_pod_for_all_namespaces(limit=page_size, _continue=token)
        count += sum(len(p.spec.containers) for p in page.items)
        token = page.metadata._continue
        if not token:
            return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--containers", type=int, default=2)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--skip-models", action="store_true", help="skip the V1Pod comparison")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: one case, in a subprocess
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        call, _, mode = args.case.partition(":")
        result = run_case(args.kubeconfig, call, args.page_size, mode == "models")
        print(json.dumps(result))
        return 0

    from dwcp_diag.sandbox.kubeapi import KubeApiStandIn
    from dwcp_diag.sandbox.kubeapi_objects import scaled_objects

    cases = ["containers", "pods"] + ([] if args.skip_models else ["containers:models"])
    results = {}
    with KubeApiStandIn(scaled_objects(args.pods, args.containers)) as server:
        for case in cases:
            command = [
                sys.executable,
                __file__,
                f"--case={case}",
                f"--kubeconfig={server.kubeconfig_path}",
                f"--page-size={args.page_size}",
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            results[case] = json.loads(output.stdout.strip().splitlines()[-1])
            results[case]["requests"] = len(server.requests)
            server.requests.clear()
    print(f"{args.pods} pods x {args.containers} containers, page size {args.page_size}")
    print(f"{'case':<22}{'seconds':>9}{'rows':>9}{'peak MB':>10}{'requests':>10}")
    for case, r in results.items():
        label = "V1Pod models (client)" if case.endswith(":models") else f"loader.{case}()"
        print(
            f"{label:<22}{r['seconds']:>9.2f}{r['rows']:>9}{r['peak_rss_mb']:>10.0f}"
            f"{r['requests']:>10}"
        )
    main_case = results["containers"]
    ok = main_case["seconds"] < TARGET_S and main_case["peak_rss_mb"] < TARGET_MB
    summary = {
        "benchmark": "k8s_loader",
        "pods": args.pods,
        "containers": args.containers,
        "page_size": args.page_size,
        "cases": results,
        "target": {"seconds": TARGET_S, "peak_rss_mb": TARGET_MB},
        "ok": ok,
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
