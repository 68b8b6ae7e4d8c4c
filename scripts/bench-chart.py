"""Draws durable command throughput against concurrency, one line per
store (gridloop on sled, gridloop on NATS, the cqrs-es peer on PostgreSQL),
as a self-contained SVG on stdout.

    python3 scripts/bench-chart.py SLED.json NATS.json PEER.jsonl > chart.svg
"""

import json
import math
import sys


def gridloop_points(path):
    report = json.load(open(path))
    points = []
    for row in report["rows"]:
        if row["scenario"] == "commands":
            clients = int(row["setting"].split()[0])
            points.append((clients, row["figures"]["events_per_s"]))
    return sorted(points)


def peer_points(path):
    points = []
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        value = json.loads(line)
        if "race" in value or "clients" not in value:
            continue
        points.append((int(value["clients"]), float(value["events_per_s"])))
    return sorted(points)


def main():
    sled, nats, peer = sys.argv[1:4]
    series = [
        ("gridloop · sled", "#1b6ac9", gridloop_points(sled)),
        ("gridloop · NATS", "#d9822b", gridloop_points(nats)),
        ("cqrs-es · PostgreSQL", "#7a7a7a", peer_points(peer)),
    ]
    width, height, left, right, top, bottom = 640, 360, 70, 180, 30, 50
    xs = [1, 8, 64]
    top_value = max(v for _, _, pts in series for _, v in pts) * 1.1
    step = 10 ** math.floor(math.log10(top_value / 5))
    tick = next(m * step for m in (1, 2, 5, 10) if top_value / (m * step) <= 6)

    def x(clients):
        return left + (math.log(clients) / math.log(64)) * (width - left - right)

    def y(value):
        return top + (1 - value / top_value) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">']
    out.append(f'<rect width="{width}" height="{height}" fill="white"/>')
    out.append(f'<text x="{left}" y="18" font-size="14">Durable commands: events/s against concurrent clients (log scale)</text>')
    value = 0.0
    while value <= top_value:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,.0f}</text>')
        value += tick
    for clients in xs:
        out.append(f'<text x="{x(clients):.1f}" y="{height - bottom + 18}" text-anchor="middle">{clients}</text>')
    out.append(f'<text x="{(left + width - right) / 2:.1f}" y="{height - 12}" text-anchor="middle">clients</text>')
    for n, (name, colour, points) in enumerate(series):
        if not points:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(c):.1f},{y(v):.1f}" for i, (c, v) in enumerate(points))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for c, v in points:
            out.append(f'<circle cx="{x(c):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"/>')
        ly = top + 20 + n * 22
        out.append(f'<line x1="{width - right + 15}" x2="{width - right + 40}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<text x="{width - right + 46}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    print("\n".join(out))


main()
