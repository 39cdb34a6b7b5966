"""Ours against bare: the table of figures with their targets, and the plot."""
from __future__ import annotations

from pathlib import Path

# Ours against bare (ratios) and absolute limits (issue 6).
TARGETS = {"turn_p95": ("ratio", "<=", 1.3), "throughput": ("ratio", ">=", 0.8), "errors": ("abs", "<=", 0),
           "replica_speedup": ("abs", ">=", 1.7), "peak_rss": ("ratio", "<=", 1.1),
           "ready_s": ("abs", "<=", 30.0), "training_s": ("abs", "<=", 300.0)}


def verdict(kind: str, op: str, limit: float, value: float | None) -> str:
    if value is None:
        return "n/a"
    return "ok" if (value <= limit if op == "<=" else value >= limit) else "MISSED"


def compare(bare: dict, ours: dict, training: dict | None) -> list[dict]:
    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    speedup = lambda r: ratio(r["pg_two_replicas"]["throughput_tps"], r["pg_one_replica"]["throughput_tps"])  # noqa: E731
    rows = []
    for label, key in (("turn p50 (ms)", "p50_ms"), ("turn p95 (ms)", "p95_ms"), ("turn p99 (ms)", "p99_ms")):
        b, o = bare["sequential"][key], ours["sequential"][key]
        rows.append({"metric": label, "bare": b, "ours": o, "ratio": ratio(o, b),
                     "target": "<= 1.3x" if key == "p95_ms" else "", "id": "turn_p95" if key == "p95_ms" else None})
    bc, oc = bare["concurrent"], ours["concurrent"]
    rows += [
        {"metric": "throughput @50 (turns/s)", "bare": bc["throughput_tps"], "ours": oc["throughput_tps"],
         "ratio": ratio(oc["throughput_tps"], bc["throughput_tps"]), "target": ">= 0.8x", "id": "throughput"},
        {"metric": "errors @50", "bare": bc["errors"], "ours": oc["errors"], "ratio": None, "target": "0",
         "id": "errors"},
        {"metric": "turn p95 @50 (ms)", "bare": bc["p95_ms"], "ours": oc["p95_ms"], "ratio": ratio(oc["p95_ms"], bc["p95_ms"]),
         "target": "", "id": None},
        {"metric": "2 replicas / 1 (throughput)", "bare": speedup(bare), "ours": speedup(ours), "ratio": None,
         "target": ">= 1.7", "id": "replica_speedup"},
        {"metric": "peak RSS, Rasa (MB)", "bare": bare["peak_rss_mb"], "ours": ours["peak_rss_mb"],
         "ratio": ratio(ours["peak_rss_mb"], bare["peak_rss_mb"]), "target": "<= 1.1x", "id": "peak_rss"},
        {"metric": "start to first answer (s)", "bare": bare["ready_s"], "ours": ours["ready_s"],
         "ratio": ratio(ours["ready_s"], bare["ready_s"]), "target": "<= 30 s", "id": "ready_s"},
    ]
    if training:
        rows.append({"metric": "full training (s)", "bare": training["bare_s"], "ours": training["ours_s"],
                     "ratio": ratio(training["ours_s"], training["bare_s"]), "target": "<= 300 s", "id": "training_s"})
    for row in rows:
        if row["id"]:
            kind, op, limit = TARGETS[row["id"]]
            value = row["ratio"] if kind == "ratio" else row["ours"]
            row["verdict"] = verdict(kind, op, limit, value)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{'metric':<30}{'bare':>10}{'ours':>10}{'ours/bare':>11}  {'target':<9}{'':>7}")
    for row in rows:
        cells = ["" if row[k] is None else row[k] for k in ("bare", "ours", "ratio")]
        print(f"{row['metric']:<30}{cells[0]!s:>10}{cells[1]!s:>10}{cells[2]!s:>11}  {row['target']:<9}"
              f"{row.get('verdict', ''):>7}")


def plot(bare: dict, ours: dict, clients: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, data in (("bare (in-memory)", bare["sequential"]), ("bare (PostgreSQL+Redis)", bare["pg_sequential"]),
                        ("ours (PostgreSQL+Redis)", ours["sequential"])):
        values = sorted(data["latencies_ms"])
        left.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    left.set_xscale("log")
    left.set_xlabel("turn latency (ms, log)")
    left.set_ylabel("fraction of turns")
    left.set_title("Sequential turns (CDF)")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    series = [("bare", bare["concurrent"]), ("bare PG\n1 replica", bare["pg_one_replica"]),
              ("bare PG\n2 replicas", bare["pg_two_replicas"]), ("ours\n1 replica", ours["concurrent"]),
              ("ours\n2 replicas", ours["pg_two_replicas"])]
    right.boxplot([s["latencies_ms"] or [0] for _, s in series], labels=[name for name, _ in series],
                  showfliers=False, whis=(5, 95))
    right.set_yscale("log")
    right.set_ylabel("turn latency (ms, log; whiskers p5-p95)")
    right.set_title(f"{clients} concurrent conversations")
    right.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
