"""``python -m benchmarks.web_claims``: claims clicked in the web UI, in a real browser, while the
embedded server's scheduler sweeps (issue "Rush hour": no claim in the web UI waits over 200 ms).

1. The claim bench's dataset (``bench.dataset.prepare``: ``--customers`` pooled customers, the
   bench reps in the bench pool).
2. The server, started by the bench: the embedded one (``highseas serve``, its scheduler every
   ``--interval`` seconds), or with ``--production`` the scale-out one beside a ``highseas
   worker`` (on PostgreSQL). Once every rep is signed in, ``--due`` owned customers are
   claimed through the service as if 15 days ago less ``DUE_AFTER`` seconds
   (``bench.http.make_due``), so that they fall due just after the reps start clicking and
   the scheduler's next sweep recycles them meanwhile.
3. Headless Chromium (the system's, as in the browser tests: ``HIGHSEAS_CHROMIUM`` or
   ``chromium`` on the path), a browser context per rep, each signed in through the login page
   (the first ``--reps`` bench reps get a password for the run). Each rep opens the pool page and
   clicks the claim button of the first row it has not tried yet, waits for the answer's
   notice, and goes on, ``--clicks`` times; it reloads the page when every row on it was tried.
   All reps start at once, so they race for the same rows at the top of the list, as a floor
   does at 9:00. A click's time is taken inside the page: from the click to the notice that
   answers it (``performance.now()``; the browser's own work is included, Playwright's round
   trips are not), and its request from sending to the answer's first byte (the browser's
   Resource Timing: the server's work and the network, without the browser's).
4. Printed: clicks, claims won and refused, p50/p95/p99/max and clicks over 200 ms; each won
   customer owned by the rep told so, with one ``claimed`` ledger row (``double_claims``); the
   due customers the scheduler recycled while the reps clicked. Then, with the server
   stopped, the raw baseline of the same run: as many claims as were won, as raw
   compare-and-set UPDATE + ledger INSERT transactions on as many threads
   (``bench.http.RawPerThread``), undone afterwards.

Needs the test extras (Playwright) and Chromium; runs only on an empty or bench database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import django

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--lang=zh-CN"]
PASSWORD = "bench-web-claims"
DUE_AFTER = 3  # seconds after the due customers are claimed that they fall due
# Records each notice as it appears, with its time and kind, so that a click is timed in-page.
WATCH_NOTICES = """
() => {
  window.__notices = [];
  performance.setResourceTimingBufferSize(100000);
  const box = document.getElementById("toasts");
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.classList && node.classList.contains("toast")) {
          window.__notices.push({at: performance.now(), ok: node.classList.contains("success")});
        }
      }
    }
  }).observe(box, {childList: true});
}
"""
# The claim's request as the browser timed it: from sending it to the answer's first byte (the
# server's work and the network), and to its last.
CLAIM_TIMING = """
(id) => {
  const path = "/customers/" + id + "/claim/";
  const entry = performance.getEntriesByType("resource").filter((e) => e.name.endsWith(path)).pop();
  return entry ? {wait: entry.responseStart - entry.requestStart, done: entry.responseEnd} : null;
}
"""
# Clicks the first claim button not tried yet; its id and the click's time, or null.
CLICK_NEXT = """
(tried) => {
  const seen = new Set(tried);
  for (const button of document.querySelectorAll("tr:not(.leaving) [data-claim]")) {
    const id = Number(button.dataset.claim);
    if (!seen.has(id) && !button.disabled) {
      const at = performance.now();
      button.click();
      return {id: id, at: at};
    }
  }
  return null;
}
"""


@dataclass
class Clicks:
    latencies: list[float] = field(default_factory=list)  # seconds
    waits: list[float] = field(default_factory=list)  # the request's send to its first byte
    won: dict[int, list[int]] = field(default_factory=dict)  # customer → reps told "claimed"
    refused: int = 0
    reloads: int = 0


def chromium_path() -> str:
    path = os.environ.get("HIGHSEAS_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    return path


@dataclass
class Start:
    """Every rep signed in and on the pool page (``ready``), then the go (``go``)."""

    ready: asyncio.Barrier
    go: asyncio.Event = field(default_factory=asyncio.Event)


async def rep_clicks(
    browser: Any, base: str, rep: Any, clicks: int, start: Start, found: Clicks
) -> None:
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
    page = await context.new_page()
    await page.goto(f"{base}/login/")
    await page.fill("#id_username", rep.username)
    await page.fill("#id_password", PASSWORD)
    await page.click("button.primary")
    await page.wait_for_selector(".welcome h1")
    await _open_pool(page, base)
    await start.ready.wait()
    await start.go.wait()
    tried: list[int] = []
    done = 0
    while done < clicks:
        seen = await page.evaluate("window.__notices.length")
        clicked = await page.evaluate(CLICK_NEXT, tried)
        if clicked is None:  # every row here was tried: the list again, as a rep would
            found.reloads += 1
            await _open_pool(page, base)
            continue
        tried.append(clicked["id"])
        await page.wait_for_function(f"window.__notices.length > {seen}", timeout=60_000)
        notice = await page.evaluate(f"window.__notices[{seen}]")
        found.latencies.append((notice["at"] - clicked["at"]) / 1000)
        timing = await page.evaluate(CLAIM_TIMING, clicked["id"])
        if timing is not None:
            found.waits.append(timing["wait"] / 1000)
        if notice["ok"]:
            found.won.setdefault(clicked["id"], []).append(rep.pk)
        else:
            found.refused += 1
        done += 1
    await context.close()


async def _open_pool(page: Any, base: str) -> None:
    await page.goto(f"{base}/pool/")
    await page.wait_for_selector("[data-table=pool]")
    await page.evaluate(WATCH_NOTICES)


async def click_claims(
    base: str, reps: list[Any], clicks: int, before_go: Callable[[], Any]
) -> tuple[Clicks, Any, datetime, datetime]:
    """The reps' clicks, once ``before_go`` (run on a thread of its own) has returned: what they
    found, what ``before_go`` returned, and when the clicks began and ended."""
    from playwright.async_api import async_playwright

    found = Clicks()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        start = Start(asyncio.Barrier(len(reps) + 1))
        tasks = [
            asyncio.create_task(rep_clicks(browser, base, rep, clicks, start, found))
            for rep in reps
        ]
        await start.ready.wait()
        prepared = await asyncio.to_thread(before_go)
        began = datetime.now(UTC)
        start.go.set()
        await asyncio.gather(*tasks)
        ended = datetime.now(UTC)
        await browser.close()
    return found, prepared, began, ended


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from highseas.accounts.models import User
    from highseas.bench.claim import pooled_sample
    from highseas.bench.dataset import RECYCLE_POLICY, prepare
    from highseas.bench.http import (
        STALL_MS,
        Answers,
        HttpBenchOptions,
        RawPerThread,
        Server,
        free_port,
        make_due,
        run_clients,
        server_commands,
        verify,
    )
    from highseas.customers.models import Customer
    from highseas.engine.ownership import EventKind
    from highseas.pools.models import OwnershipEvent

    rng = random.Random(args.seed)
    dataset = prepare(customers=args.customers, reps=max(args.reps, 2), force=args.force)
    reps = dataset.reps[: args.reps]
    User.objects.filter(pk__in=[r.pk for r in reps]).update(password=make_password(PASSWORD))
    options = HttpBenchOptions(
        customers=args.customers,
        production=args.production,
        workers=args.workers,
        interval=args.interval,
    )
    port = free_port()
    server = Server(
        server_commands(options, port), port, workers=args.workers if args.production else 0
    )
    connection.close()

    def fall_due() -> list[int]:
        # claimed 15 days (the bench pool's idle limit) less DUE_AFTER seconds ago: due just
        # after the clicks begin, not while they are claimed (a sweep then took them early)
        idle = RECYCLE_POLICY["idle_days"]  # ``make_due`` claims 30 days before its ``now``
        later = timezone.now() + timedelta(days=30 - idle, seconds=DUE_AFTER)
        try:
            return make_due(dataset, args.due, rng, later)
        finally:
            connection.close()  # this thread's

    try:
        server.wait_ready()
        found, due, began, ended = asyncio.run(
            click_claims(f"http://127.0.0.1:{port}", reps, args.clicks, fall_due)
        )
    finally:
        server.stop()
    clicked = Answers("web", latencies=found.latencies, won=found.won, refused=found.refused)
    figure = clicked.figure()  # the clicks' percentiles, as ``bench http`` takes them
    waited = Answers("web_request_wait", latencies=found.waits)
    checked = verify(clicked, list(found.won), began)
    recycled = OwnershipEvent.objects.filter(
        customer_id__in=due, kind=EventKind.RECYCLED.value, at__range=(began, ended)
    ).count()
    db = connection.vendor
    server_kind = "production" if args.production else "embedded"
    web = {
        "bench": "web_claims",
        "db": db,
        "server": server_kind,
        "customers": Customer.objects.count(),
        "reps": len(reps),
        "path": "browser_click_to_notice",
        "clicks": len(found.latencies),
        "claims": len(found.won),
        "refused": found.refused,
        "reloads": found.reloads,
        "seconds": round((ended - began).total_seconds(), 2),
        **{name: figure[name] for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
        # the same clicks' requests, from sending to the answer's first byte (Resource Timing)
        **{f"request_wait_p{p}_ms": round(waited.percentile_ms(p), 2) for p in (50, 99)},
        "request_wait_max_ms": round(waited.percentile_ms(100), 2),
        "request_waits_timed": len(found.waits),
        f"over_{STALL_MS}ms": figure[f"over_{STALL_MS}ms"],
        "due": len(due),
        "recycled_meanwhile": recycled,
        **checked,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    raw = RawPerThread(dataset.pool.pk)
    baseline = Answers("raw_update_and_ledger")
    targets = pooled_sample(dataset.pool.pk, max(1, len(found.won)), rng)
    try:
        run_clients(baseline, len(reps), reps, targets, raw.claim, on_exit=raw.finish_thread)
    finally:
        raw.restore_all()
    raw_figure = baseline.figure()
    raw_line = {
        "bench": "web_claims",
        "db": db,
        "path": "raw_update_and_ledger",
        "claims": raw_figure["claims"],
        "threads": len(reps),
        "p50_ms": raw_figure["p50_ms"],
        "p99_ms": raw_figure["p99_ms"],
        "max_ms": raw_figure["max_ms"],
        "claims_per_second": raw_figure["claims_per_second"],
    }
    return [web, raw_line]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web_claims", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--clicks", type=int, default=100, help="claim clicks per rep")
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--production", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "highseas.config.settings")
    django.setup()
    lines = measure(args)
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    web, raw = lines
    print(
        f"web claims, {web['server']} server on {web['db']}, {web['reps']} reps in Chromium: "
        f"{web['clicks']} clicks ({web['claims']} won, {web['refused']} refused) in "
        f"{web['seconds']} s; click to notice p50 {web['p50_ms']} ms, p99 {web['p99_ms']} ms, "
        f"max {web['max_ms']} ms, {web[f'over_{200}ms']} over 200 ms (target: none); "
        f"of which the request to its answer's first byte p50 {web['request_wait_p50_ms']} ms, "
        f"p99 {web['request_wait_p99_ms']} ms, max {web['request_wait_max_ms']} ms; "
        f"double claims {web['double_claims']}; recycled meanwhile {web['recycled_meanwhile']} "
        f"of {web['due']} due, while they clicked. Raw UPDATE + ledger, {raw['threads']} threads: "
        f"p50 {raw['p50_ms']} ms, p99 {raw['p99_ms']} ms, max {raw['max_ms']} ms",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
