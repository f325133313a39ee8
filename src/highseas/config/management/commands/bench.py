from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from highseas.bench import BenchError
from highseas.bench import assign as assign_bench
from highseas.bench import http as http_bench
from highseas.bench import imports as import_bench
from highseas.bench import insights as insights_bench
from highseas.bench import pages as pages_bench
from highseas.bench import rescore as rescore_bench
from highseas.bench import smart as smart_bench
from highseas.bench import sweep as sweep_bench
from highseas.bench.claim import ClaimBenchOptions, run
from highseas.bench.dedup import DEDUP_BENCHMARKS, DedupBenchOptions, run_from_command

PATHS = ("service", "raw_conditional_update", "raw_update_and_ledger")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Measure a path against its raw-SQL baseline in the same run (SPEC §12): one JSON line "
        "per figure on stdout, a summary on stderr. Runs only on an empty or bench database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "benchmark",
            choices=[
                "claim",
                *DEDUP_BENCHMARKS,
                "assign",
                "sweep",
                "import",
                "smart",
                "pages",
                "http",
                "insights",
                "rescore",
            ],
        )
        defaults = ClaimBenchOptions()
        parser.add_argument("--customers", type=positive, default=defaults.customers)
        parser.add_argument(
            "--claims", type=positive, default=defaults.claims, help="claims per measured path"
        )
        parser.add_argument("--reps", type=positive, default=defaults.reps)
        rescore_defaults = rescore_bench.RescoreBenchOptions()
        parser.add_argument(
            "--changes",
            type=positive,
            default=rescore_defaults.changes,
            help="rescore: level changes at least (customers of the demo in the database)",
        )
        parser.add_argument(
            "--sample",
            type=positive,
            default=rescore_defaults.sample,
            help="rescore: changes applied one by one for the per-change figure",
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument(
            "--requests",
            type=positive,
            default=pages_bench.PagesBenchOptions().requests,
            help="pages: timed requests per page",
        )
        parser.add_argument(
            "--only",
            default="",
            help="pages: time only the pages whose path contains one of these (comma-separated)",
        )
        parser.add_argument(
            "--profile",
            type=int,
            default=0,
            metavar="N",
            help="after measuring, profile N more service claims (queries and cProfile); "
            "insights: one more load of each page under cProfile",
        )
        parser.add_argument(
            "--force", action="store_true", help="run even though the database holds real data"
        )
        parser.add_argument(
            "--queries",
            type=positive,
            default=DedupBenchOptions().queries,
            help="dedup / search: checks or searches measured",
        )
        assign_defaults = assign_bench.AssignBenchOptions()
        parser.add_argument(
            "--backlog",
            type=positive,
            default=assign_defaults.backlog,
            help="assign: pooled customers the rules route",
        )
        parser.add_argument("--rules", type=positive, default=assign_defaults.rules)
        parser.add_argument(
            "--deals",
            type=positive,
            default=smart_bench.SmartBenchOptions().deals,
            help="smart: historical deals the model is trained on",
        )
        parser.add_argument(
            "--service-sample",
            type=positive,
            default=assign_defaults.service_sample,
            help="assign: customers routed through the per-customer ownership service",
        )
        parser.add_argument(
            "--claims-per-second",
            type=float,
            default=0.0,
            help="assign: also run while reps claim at this rate, paced and not; import: "
            "reps claim at this rate while the second file is applied at once (0: no)",
        )
        parser.add_argument(
            "--due-percent",
            type=float,
            default=sweep_bench.SweepBenchOptions().due_percent,
            help="sweep: percentage of the owned customers due for recycling",
        )

        parser.add_argument(
            "--import-rows",
            type=positive,
            default=import_bench.ImportBenchOptions().rows,
            help="import: rows in the generated file",
        )

        http_defaults = http_bench.HttpBenchOptions()
        parser.add_argument(
            "--clients", type=positive, default=http_defaults.clients, help="http: clients"
        )
        parser.add_argument(
            "--contention",
            type=positive,
            default=http_defaults.contention,
            help="http: clients offered each customer at once",
        )
        parser.add_argument(
            "--production",
            action="store_true",
            help="http: the scale-out server (PostgreSQL, --workers processes, a worker beside)",
        )
        parser.add_argument(
            "--workers", type=positive, default=http_defaults.workers, help="http: web processes"
        )
        parser.add_argument("--threads", type=positive, default=None, help="http: per process")
        parser.add_argument(
            "--due",
            type=int,
            default=http_defaults.due,
            help="http: owned customers due for recycling while the clients claim",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=http_defaults.interval,
            help="http: seconds between the scheduler's runs",
        )
        parser.add_argument(
            "--rate",
            type=float,
            nargs="+",
            default=None,
            help="http: open loops after the closed one, each offering this many customers a "
            "second (each to --contention clients), timed from each request's planned start",
        )

    def handle(self, *args: Any, benchmark: str, **options: Any) -> None:
        if benchmark == "rescore":  # the scheduled value re-evaluation: bench/rescore.py
            rescore_bench.run_from_command(self, options)
            return
        if benchmark == "insights":  # the dashboard and insight endpoints: bench/insights.py
            insights_bench.run_from_command(self, options)
            return
        if benchmark == "pages":  # every page and list over HTTP: bench/pages.py
            pages_bench.run_from_command(self, options)
            return
        if benchmark == "smart":  # the win model and the solver: bench/smart.py
            smart_bench.run_from_command(self, options)
            return
        if benchmark == "http":  # claims over HTTP from concurrent clients: bench/http.py
            http_bench.run_from_command(self, options)
            return
        if benchmark == "import":  # a generated file through the import: bench/imports.py
            import_bench.run_from_command(self, options)
            return
        if benchmark in DEDUP_BENCHMARKS:  # duplicate check and public search: bench/dedup.py
            run_from_command(self, benchmark, options)
            return
        if benchmark == "assign":  # rule assignment over a backlog: bench/assign.py
            assign_bench.run_from_command(self, options)
            return
        if benchmark == "sweep":  # the recycle sweep over owned customers: bench/sweep.py
            sweep_bench.run_from_command(self, options)
            return
        bench_options = ClaimBenchOptions(
            customers=options["customers"],
            claims=options["claims"],
            reps=options["reps"],
            seed=options["seed"],
            force=options["force"],
            profile=max(options["profile"], 0),
        )
        try:
            lines = run(bench_options)
        except BenchError as error:
            raise CommandError(str(error)) from error
        for line in lines:
            self.stdout.write(json.dumps(line, ensure_ascii=False))
        self.stderr.write(summary(lines))


def _path_line(line: dict[str, Any]) -> str:
    return (
        f"  {line['path']:<24} {line['per_second']:>10,.0f} claims/s   "
        f"p50 {line['p50_ms']:.3f} ms   p99 {line['p99_ms']:.3f} ms"
    )


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"profile of {profile['claims']} more service claims: "
        f"{profile['queries_per_claim']} queries per claim"
    ]
    lines += [f"  {n:>5} × {kind}" for kind, n in profile["statements_per_claim"].items()]
    lines.append(
        f"  self time per claim by layer ({profile['profiled_ms_per_claim']} ms profiled):"
    )
    lines += [
        f"  {ms:>8.3f} ms  {layer}" for layer, ms in profile["self_ms_per_claim_by_layer"].items()
    ]
    lines.append("  service steps, cumulative per claim:")
    lines += [
        f"  {ms:>8.3f} ms  {step}"
        for step, ms in profile["service_steps_cumulative_ms_per_claim"].items()
    ]
    return lines


def _verdict(service: dict[str, Any]) -> str:
    targets = [f"≤ {service['target_ratio']}× the raw UPDATE + ledger INSERT"]
    if service["target_per_second"]:
        targets.insert(0, f"≥ {service['target_per_second']:,} claims/s")
    verdict = "met" if service["meets_target"] else "missed"
    return (
        f"service is {service['ratio']:.1f}× slower than the raw conditional UPDATE and "
        f"{service['ratio_to_update_and_ledger']:.1f}× slower than raw UPDATE + ledger INSERT; "
        f"target {' and '.join(targets)}: {verdict}"
    )


def summary(lines: list[dict[str, Any]]) -> str:
    by_path = {line["path"]: line for line in lines}
    dataset, service = by_path["dataset"], by_path["service"]
    built = (
        f"built {dataset['inserted']:,} customers in {dataset['build_seconds']:.1f} s"
        if dataset["inserted"]
        else "reused the dataset"
    )
    text = [
        f"claim bench on {service['db']}: {service['customers']:,} customers ({built}), "
        f"{service['claims']:,} claims per path, {service['reps']} reps",
        *(_path_line(by_path[path]) for path in PATHS),
        _verdict(service),
        *(  # the other rush paths, each with its raw baseline's ratio
            f"{_path_line(line)}   ({line['ratio']}× slower than {line['baseline']})"
            if "ratio" in line
            else _path_line(line)
            for line in lines
            if line["path"] not in (*PATHS, "dataset", "service_profile")
        ),
    ]
    if "service_profile" in by_path:
        text += _profile_lines(by_path["service_profile"])
    return "\n".join(text)
