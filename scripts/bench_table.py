"""Builds BENCHMARKS.md's summary table from the output of one `./bench.sh`
run (one text file per bench in the folder given): each figure beside its
peer measured in the same run, and the goal it is held to. A figure whose
bench did not run, or did not print it, shows as `not run`.

    bench_table.py FOLDER                    prints the table
    bench_table.py FOLDER --write FILE       also puts it into FILE, between
                                             its `bench.sh` markers
"""

import datetime
import re
import sys
from pathlib import Path

START, END = "<!-- bench.sh: start -->", "<!-- bench.sh: end -->"

NOT_RUN = "not run"


def read(folder, name):
    path = folder / f"{name}.txt"
    return path.read_text(errors="replace") if path.exists() else ""


def find(text, pattern, group=1):
    m = re.search(pattern, text, re.MULTILINE)
    return m.group(group) if m else None


def num(value):
    return float(value.replace(",", "")) if value is not None else None


def fmt(value, unit="", digits=0):
    if value is None:
        return NOT_RUN
    return f"{value:,.{digits}f}{unit}"


def verdict(value, goal_met):
    if value is None:
        return ""
    return " (met)" if goal_met(value) else " (not met)"


def rules_rows(text):
    """Medians of `RUNS` processes, from the rules bench's own table."""
    def row(sector, engine):
        m = re.search(
            rf"^\| {sector} \| {re.escape(engine)} \| ([\d.]+) / ([\d.]+) \| [\d.]+ / [\d.]+ \| (\d+) / \d+ \| (\d+) / \d+ \|",
            text,
            re.MULTILINE,
        )
        return tuple(float(g) for g in m.groups()) if m else None

    rows = []
    for sector in ("legal", "health"):
        ours, cedar = row(sector, "custodia, indexed"), row(sector, "cedar-policy, indexed")
        rhai = row(sector, "custodia, indexed, Rhai's interpreter only")
        p50 = ours[0] if ours else None
        ratio = ours[0] / cedar[0] if ours and cedar else None
        goal = ""
        if sector == "legal":
            goal = (
                "at most 8 µs" + verdict(p50, lambda v: v <= 8)
                + ", at most 0.5x Cedar" + verdict(ratio, lambda v: v <= 0.5)
            )
        rows.append((
            f"decision, {sector} sector, p50 (median of 5 processes)",
            f"{fmt(p50, ' µs', 2)}" + (f" ({ratio:.2f}x Cedar)" if ratio else ""),
            f"cedar-policy, indexed: {fmt(cedar[0] if cedar else None, ' µs', 2)}; "
            f"the same rules in Rhai's interpreter only: {fmt(rhai[0] if rhai else None, ' µs', 2)}",
            goal,
        ))
        rows.append((
            f"decisions/s, {sector} sector, 1 / 2 threads",
            f"{fmt(ours[2] if ours else None)} / {fmt(ours[3] if ours else None)}",
            f"cedar-policy: {fmt(cedar[2] if cedar else None)} / {fmt(cedar[3] if cedar else None)}; "
            f"Rhai's interpreter only: {fmt(rhai[2] if rhai else None)} / {fmt(rhai[3] if rhai else None)}",
            "125,000/s per core" + verdict(ours[2] if ours else None, lambda v: v >= 125_000) if sector == "legal" else "",
        ))
    cal = find(text, r"^\| calibration \| .*? \| ([\d.]+) / ")
    rows.append((
        "calibration: Cedar's upstream `is_authorized` bench, p50",
        fmt(num(cal), " µs", 2), "", "",
    ))
    return rows


def plugin_rows(text):
    def added(label):
        return num(find(text, rf"^{re.escape(label)}\s+p50 .*? added at p50\s+([\d.]+) µs"))

    rhai = added("check in Rhai")
    rows = []
    for label in ("check as a plugin", "provider as a plugin"):
        value = added(label)
        rows.append((
            f"WebAssembly plugin, {label.replace(' as a plugin', '')}: added per call, p50",
            fmt(value, " µs", 2),
            f"the same check as a Rhai rule (lowered): {fmt(rhai, ' µs', 2)}",
            "under 10 µs" + verdict(value, lambda v: v < 10),
        ))
    return rows


def audit_rows(text):
    rows = []
    for backend, name in (("Sqlite", "SQLite"), ("Postgres", "PostgreSQL")):
        group = num(find(text, rf"^{backend}\s+group commit,\s+256 callers, durable ack:\s+(\d+)/s"))
        naive = num(find(text, rf"^{backend}\s+naive, one transaction per event\s+:\s+(\d+)/s"))

        def ceiling(shape):
            return num(find(text, rf"^{backend}\s+ceiling, one INSERT … SELECT, {re.escape(shape)}\s*:\s+(\d+)/s"))

        def per_commit(batch):
            return num(find(text, rf"^{backend}\s+ceiling, one INSERT … SELECT per commit of\s+{batch} rows, today's row\s*:\s+(\d+)/s"))

        today = ceiling("today's row and indexes")
        narrow = ceiling("32-byte binary hashes, today's indexes")
        key_only = ceiling("today's row, primary key only")
        group_4096 = num(find(text, rf"^{backend}\s+group commit,\s+4096 callers, durable ack:\s+(\d+)/s"))
        signed = num(find(text, rf"^{backend}\s+group commit,\s+4096 callers, signed and witnessed checkpoints:\s+(\d+)/s"))
        rows.append((
            f"audit events/s, {name}, 256 / 4,096 callers, durable; 4,096 with a checkpoint signed and witnessed every 10,000 events",
            f"{fmt(group, '/s')} / {fmt(group_4096, '/s')}; {fmt(signed, '/s')}",
            f"naive writer, one commit per event: {fmt(naive, '/s')}; "
            f"the database's own rate (`INSERT … SELECT`, no client) in commits of 256 / 4,096 rows: "
            f"{fmt(per_commit(256), '/s')} / {fmt(per_commit(4096), '/s')}, in one commit: {fmt(today, '/s')}",
            # Met only if every measure is: the signed and witnessed run is
            # how the server runs.
            "100,000/s" + verdict(
                None if None in (group, group_4096, signed) else min(group, group_4096, signed),
                lambda v: v >= 100_000,
            ),
        ))
        rows.append((
            f"audit table's ceiling, {name}: 32-byte binary hashes / primary key only",
            f"{fmt(narrow, '/s')} / {fmt(key_only, '/s')}",
            f"today's row: {fmt(today, '/s')}", "",
        ))
    for backend, name in (("SQLite", "SQLite"), ("Postgres", "PostgreSQL")):
        verify = num(find(text, rf"^{backend}\s+audit verify of (\d+) events\s+:\s+([\d.]+) s", 2))
        rows.append((
            f"`audit verify` of 1,000,000 events on {name} (chain, signatures, Merkle roots)",
            fmt(verify, " s", 2), "",
            "under 2 s" + verdict(verify, lambda v: v < 2),
        ))
        walked = find(text, rf"^{backend}\s+everyday check of (\d+) events since")
        everyday = num(find(text, rf"^{backend}\s+everyday check of \d+ events since .*?: median ([\d.]+) ms"))
        rows.append((
            f"everyday check on {name} (the dashboard): events since the newest witnessed checkpoint",
            fmt(everyday, " ms", 1), f"{fmt(num(walked))} events walked of 1,000,000", "",
        ))
    build = find(text, r"inclusion proof over \d+ events: build ([\d.]+) ms, check ([\d.]+) ms")
    check = find(text, r"inclusion proof over \d+ events: build ([\d.]+) ms, check ([\d.]+) ms", 2)
    rows.append((
        "inclusion proof over 1,000,000 events: build / check",
        f"{fmt(num(build), ' ms', 1)} / {fmt(num(check), ' ms', 3)}", "", "",
    ))
    breach = find(text, r"breach scope, .*?: median ([\d.]+) ms")
    rows.append((
        "breach scoping over the largest log",
        fmt(num(breach), " ms", 1), "",
        "under 1 s" + verdict(num(breach), lambda v: v < 1000),
    ))
    runs = r"events and their lookup runs, first / last whole step of the chain: ([\d.]+) / ([\d.]+) ms"
    rows.append((
        "65,536 events generated in SQLite and their lookup entries brought up: at the start / at the end of the largest log",
        f"{fmt(num(find(text, runs)), ' ms', 1)} / {fmt(num(find(text, runs, 2)), ' ms', 1)}", "", "",
    ))
    return rows


def mail_rows(text):
    rows = []
    plan = find(text, r"^plan: .*?median (\d+) ms")
    rss = find(text, r"^plan: .*?peak RSS (\d+) MiB")
    rows.append((
        "mail plan, 1M recipients vs 1M opt-outs + 1M Robinson: time / peak RSS",
        f"{fmt(num(plan), ' ms')} / {fmt(num(rss), ' MiB')}", "",
        "under 1 s and 300 MiB" + verdict(num(plan), lambda v: v < 1000 and (num(rss) or 0) < 300),
    ))
    lettre = num(find(text, r"^peer, lettre's pooled transport alone .*?= (\d+) messages/s"))
    for label, goal in (
        ("no DKIM", lambda v: v >= 1000),
        ("DKIM Ed25519", lambda v: v >= 2000),
        ("DKIM RSA-2048", None),
    ):
        rate = num(find(text, rf"^send \({re.escape(label)}\): .*?= (\d+) messages/s"))
        conc = find(text, rf"^send \({re.escape(label)}\): .*?\(concurrency (\d+)")
        goal_text = {
            "no DKIM": "1,000/s on at most 8 connections",
            "DKIM Ed25519": "2,000/s",
            "DKIM RSA-2048": "see the signing row",
        }[label]
        rows.append((
            f"SMTP send, {label}, {conc or '?'} connections (durable outbox + audit)",
            fmt(rate, " msg/s"),
            f"lettre's pool alone: {fmt(lettre, ' msg/s')}; listmonk's default rate: 10 msg/s",
            goal_text + (verdict(rate, goal) if goal else ""),
        ))
    ours = num(find(text, r"^dkim sign \(RSA-2048, 2 threads\): (\d+) messages/s"))
    openssl = num(find(text, r"^openssl speed -seconds 3 -multi 2 rsa2048: .*?rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)"))
    share = ours / openssl if ours and openssl else None
    rows.append((
        "DKIM RSA-2048 signing, 2 threads",
        fmt(ours, "/s") + (f" ({share:.0%} of openssl)" if share else ""),
        f"`openssl speed -multi 2 rsa2048`: {fmt(openssl, ' sign/s')}",
        "90% of openssl" + verdict(share, lambda v: v >= 0.9),
    ))
    return rows


def dossier_rows(text):
    gather = num(find(text, r"^gather \(.*?\): ([\d.]+) s"))
    return [(
        "dossier input, 100,000 customers and 1,000,000 events",
        fmt(gather, " s", 2), "",
        "under 3 s" + verdict(gather, lambda v: v < 3),
    )]


def vault_rows(text):
    def line(label):
        m = re.search(rf"^{re.escape(label)}\s+p50\s+([\d.]+) µs\s+p99\s+([\d.]+) µs", text, re.MULTILINE)
        return (float(m.group(1)), float(m.group(2))) if m else (None, None)

    rows = []
    for label in ("area read to its audit enqueue", "area read, one at a time (durable audit)"):
        p50, p99 = line(label)
        rows.append((
            f"vault: {label}, p50 / p99",
            f"{fmt(p50, ' µs', 1)} / {fmt(p99, ' µs', 1)}",
            "",
            "under 200 µs p50" + verdict(p50, lambda v: v < 200) if "enqueue" in label else "",
        ))
    m = re.search(r"^seal a 16 MiB document \(one core\)\s+(\d+) MiB/s\s+raw cipher\s+(\d+) MiB/s", text, re.MULTILINE)
    rows.append((
        "vault: seal a 16 MiB document, one core",
        fmt(num(m.group(1)) if m else None, " MiB/s"),
        f"raw XChaCha20-Poly1305: {fmt(num(m.group(2)) if m else None, ' MiB/s')}",
        "",
    ))
    backup = num(find(text, r"^backup\s+([\d.]+) s"))
    check = num(find(text, r"^backup check \(.*?\)\s+([\d.]+) s"))
    rows.append(("vault: backup / backup check of the synthetic store", f"{fmt(backup, ' s', 1)} / {fmt(check, ' s', 1)}", "", ""))
    return rows


def page_rows(text):
    rows = []
    for m in re.finditer(r"^(/\S+(?: \(.*?\))?)\s+p50\s+([\d.]+) ms\s+p95\s+([\d.]+) ms", text, re.MULTILINE):
        p95 = float(m.group(3))
        rows.append((f"web page {m.group(1)}, p95", fmt(p95, " ms", 2), "", "within 20 ms" + verdict(p95, lambda v: v <= 20)))
    return rows or [("web pages", NOT_RUN, "", "")]


def rights_rows(text):
    m = re.search(r"^(access package \(.*?\))\s+p50\s+([\d.]+) ms", text, re.MULTILINE)
    return [(m.group(1) if m else "access package", fmt(num(m.group(2)) if m else None, " ms", 1), "", "")]


def table(folder):
    sections = [
        ("rules", rules_rows), ("plugins", plugin_rows), ("audit", audit_rows),
        ("mail", mail_rows), ("dossier", dossier_rows), ("vault", vault_rows),
        ("pages", page_rows), ("rights", rights_rows),
    ]
    lines = ["| measure | Custodia | peer, same run | goal |", "|---|---|---|---|"]
    for name, rows in sections:
        for measure, ours, peer, goal in rows(read(folder, name)):
            lines.append(f"| {measure} | {ours} | {peer} | {goal} |")
    return "\n".join(lines) + "\n"


def runs(folder):
    """When each bench's output was written (UTC): one span when they all
    come from `bench.sh`'s last run, each bench's own time when that run
    reran only some of them (it lists them in `last-run.list`)."""
    stamps = {
        f.stem: datetime.datetime.fromtimestamp(f.stat().st_mtime, datetime.timezone.utc)
        for f in sorted(folder.glob("*.txt"))
    }
    if not stamps:
        return "no run"
    listed = folder / "last-run.list"
    last_run = set(listed.read_text().split()) if listed.exists() else set(stamps)
    first, last = min(stamps.values()), max(stamps.values())
    if set(stamps) <= last_run:
        return f"its run of {first:%Y-%m-%d %H:%M}-{last:%H:%M} UTC"
    names = sorted(stamps, key=stamps.get)
    each = ", ".join(f"{name} {stamps[name]:%Y-%m-%d %H:%M}" for name in names)
    return f"the outputs of several runs (UTC): {each}"


def write(path, text, folder):
    doc = Path(path)
    old = doc.read_text()
    if START not in old or END not in old:
        raise SystemExit(f"{path} has no bench.sh markers")
    block = f"{START}\nRegenerated by `./bench.sh --write` from {runs(folder)}.\n\n{text}{END}"
    doc.write_text(old[: old.index(START)] + block + old[old.index(END) + len(END):])


def main():
    folder = Path(sys.argv[1])
    text = table(folder)
    print(text, end="")
    if sys.argv[2:3] == ["--write"]:
        write(sys.argv[3], text, folder)


if __name__ == "__main__":
    main()
