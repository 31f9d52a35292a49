"""The driver at scale, simulated: many trivial trials, many at a time, on a local Ray that
declares more CPUs than the machine has (the trials sleep, so the cores are not the limit).

    python benchmarks/driver_scale.py                      # 2,000 trials, 32 at a time, SQLite then PostgreSQL
    python benchmarks/driver_scale.py --sampler tpe        # the same with another sampler
    python benchmarks/driver_scale.py --profile prof.out   # and a cProfile of the driver (one storage)
    python benchmarks/driver_scale.py --quick              # 12 trials, 2 at a time, SQLite (smoke run)
    python benchmarks/driver_scale.py --proposals 100,500  # the samplers alone: a proposal's time in a plain Optuna loop

Every trial runs through the real loop (Optuna's ask and tell on the storage, Ray Tune's
dispatch to reused workers, MLflow's runs in the folder's SQLite store), as in
``search_overhead.py``; only the training is replaced by a wait. The cluster could finish
``concurrency / wait`` trials a second; what the study sustains below that is the driver's
limit. Prints, per window of trials as the study grows: trials/s, the median time of an
ask and of a tell, MLflow's time per trial (its child run's creation and closing), and the
driver's resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search_overhead import finish_times, rss_mb, study, study_inputs, time_asks, time_calls

# the repository's root, for tests.support: the servers and stand-in trials the tests use too
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)


@contextlib.contextmanager
def storage_url(kind: str, folder: Path) -> Iterator[str | None]:
    """None for the study folder's SQLite; for ``postgres``, a server started for the run."""
    if kind == "sqlite":
        yield None
        return
    from tests.support.services import postgres_server

    with postgres_server(folder) as url:
        yield url


def _cpu_between(samples: list[tuple[int, float, float]], lo: int, hi: int) -> float:
    """The driver's CPU seconds while trials ``lo`` to ``hi`` were told (from its samples)."""
    start = next((cpu for c, _, cpu in samples if c >= lo), samples[-1][2])
    end = next((cpu for c, _, cpu in samples if c >= hi), samples[-1][2])
    return end - start


def proposal_costs(sizes: list[int], running: int) -> list[tuple[str, str, str]]:
    """GP's and TPE's proposal time (median of 3) in a plain in-memory Optuna study holding
    ``n`` finished trials (2 log-ratio coordinates: 3 domains), with none and with ``running``
    trials still running."""
    import numpy as np
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from mixopt.search.proposals.samplers import make_sampler

    space = {f"z_{i}": FloatDistribution(-6, 6) for i in range(2)}
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for live in (0, running):
            took = {}
            for name in ("gp", "tpe"):
                study = optuna.create_study(direction="maximize", sampler=make_sampler(name, 0, 8))
                study.add_trials(
                    [
                        create_trial(
                            params={k: float(rng.uniform(-6, 6)) for k in space},
                            distributions=space,
                            value=-float(np.sum(rng.uniform(-6, 6, 2) ** 2)),
                        )
                        for _ in range(n)
                    ]
                )
                for _ in range(live):
                    study.ask(space)
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    trial = study.ask(space)  # a fixed space: the samplers' model runs inside ask
                    times.append(time.perf_counter() - start)
                    study.tell(trial, -1.0)
                took[name] = statistics.median(times)
            rows.append(
                (
                    f"proposal, {n} trials, {live} running: GP / TPE",
                    f"{took['gp']:.2f} s",
                    f"TPE {took['tpe'] * 1000:.0f} ms = {took['tpe'] / took['gp']:.3f} x GP's",
                )
            )
    return rows


def windows(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def run(
    inputs: dict[str, Any], out: Path, args: argparse.Namespace, storage: str | None
) -> list[tuple[str, str, str]]:
    import optuna

    from mixopt.search.orchestration.loop import StudyLoop
    from mixopt.search.tracking.tracker import MlflowTracker
    from tests.support.runners import WaitingTrial

    timed = [
        (StudyLoop, "_ask"),
        (optuna.Study, "tell"),
        (MlflowTracker, "start_trial"),
        (MlflowTracker, "finish_trial"),
    ]
    originals = [(owner, name, vars(owner)[name]) for owner, name in timed]
    asks = time_asks()
    tells = time_calls(optuna.Study, "tell")
    logged = {name: time_calls(MlflowTracker, name) for name in ("start_trial", "finish_trial")}
    samples: list[tuple[int, float, float]] = []  # (trials told, RSS MB, the driver's CPU seconds)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            samples.append((len(tells), rss_mb(), time.process_time()))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    profile = cProfile.Profile() if args.profile else None
    options = dict(
        budget="2k",
        trials=args.trials - 2,
        concurrency=args.concurrency,
        runner=WaitingTrial(args.wait),
        early_stop="off",
        storage=storage,
        **({"sampler": args.sampler} if args.sampler else {}),
    )
    try:
        if profile:
            profile.enable()
        _, started = study(inputs, out, **options)
    finally:
        if profile:
            profile.disable()
        done.set()
        watcher.join()
        for owner, name, real in originals:  # the next storage's run times its own calls
            setattr(owner, name, real)
    if profile:
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    ends = sorted(finish_times(out).values())
    label = "SQLite" if storage is None else "PostgreSQL"
    capacity = args.concurrency / max(args.wait, 1e-9)
    rows = []
    for lo, hi in windows(len(ends), args.window):
        span = ends[hi - 1] - ends[lo - 1] if lo else ends[hi - 1] - ends[0]
        count = hi - lo if lo else hi - lo - 1
        ask = statistics.median(s for _, s in asks[lo:hi])
        tell = statistics.median(s for _, s in tells[lo:hi])
        mlflow = sum(s for calls in logged.values() for _, s in calls[lo:hi]) / (hi - lo)
        rss = max((mb for c, mb, _ in samples if c <= hi), default=float("nan"))
        cpu = _cpu_between(samples, lo, hi) / (hi - lo)
        rows.append(
            (
                f"{label}, trials {lo + 1}-{hi}",
                f"{count / max(span, 1e-9):.2f}/s",
                f"proposal {ask * 1000:.0f} ms, tell {tell * 1000:.0f} ms, MLflow {mlflow * 1000:.0f} ms/trial, "
                f"RSS {rss:.0f} MB; driver CPU {cpu * 1000:.0f} ms/trial = a ceiling of {1 / max(cpu, 1e-9):.1f}/s "
                f"= {1 / max(cpu, 1e-9) / capacity:.2f} x the cluster's {capacity:.0f}/s",
            )
        )
    whole = (len(ends) - 1) / max(ends[-1] - ends[0], 1e-9)
    busy = (
        sum(s for _, s in asks)
        + sum(s for _, s in tells)
        + sum(s for c in logged.values() for _, s in c)
    ) / len(ends)
    rows.append(
        (
            f"{label}, sustained over {len(ends)} trials",
            f"{whole:.2f}/s",
            f"{whole / capacity:.2f} x the cluster's {capacity:.0f}/s; start-up {ends[0] - started:.0f} s",
        )
    )
    cpu = _cpu_between(samples, 1, len(ends)) / (len(ends) - 1)
    rows.append(
        (
            f"{label}, driver time in proposal + tell + MLflow",
            f"{busy * 1000:.0f} ms/trial",
            f"{busy * whole:.2f} x the driver's time (the rest: Tune, Ray, events)",
        )
    )
    rows.append(
        (
            f"{label}, driver CPU over the study",
            f"{cpu * 1000:.0f} ms/trial",
            f"a ceiling of {1 / max(cpu, 1e-9):.1f}/s on a core of its own = {1 / max(cpu, 1e-9) / capacity:.2f} x the cluster's",
        )
    )
    return rows


def print_rows(rows: list[tuple[str, str, str]], title: str) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}")
    print(f"{'figure'.ljust(width)}  {'value':>9}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>9}  {ratio}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="12 trials, 2 at a time, SQLite only (smoke run)"
    )
    parser.add_argument(
        "--trials", type=int, default=2000, help="trials in all, the 2 baselines included"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--wait", type=float, default=1.0, help="seconds each trial sleeps")
    parser.add_argument("--window", type=int, default=250, help="trials per reported window")
    parser.add_argument("--storage", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--sampler", default=None, help="default: the study's default sampler")
    parser.add_argument(
        "--profile", default=None, metavar="FILE", help="cProfile the driver (first storage only)"
    )
    parser.add_argument(
        "--proposals", default=None, metavar="N,N", help="time the samplers alone at these sizes"
    )
    parser.add_argument(
        "--model", help="a local model to tokenize with (default: a tiny one pre-trained here)"
    )
    args = parser.parse_args(argv)
    if args.proposals:
        print_rows(
            proposal_costs([int(n) for n in args.proposals.split(",")], args.concurrency - 1), ""
        )
        return 0
    if args.quick:
        args.trials, args.concurrency, args.wait, args.window, args.storage = (
            12,
            2,
            0.1,
            5,
            "sqlite",
        )
    kinds = ("sqlite", "postgres") if args.storage == "both" else (args.storage,)

    import warnings

    warnings.filterwarnings("ignore")
    from mixopt.search.executors.ray_tune import start_ray, stop_ray

    start_ray(None, num_cpus=args.concurrency)  # the study joins this Ray: one CPU per trial
    rows: list[tuple[str, str, str]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            # the model only tokenizes here: the smallest will do, or one already built
            inputs = study_inputs(root, quick=True, model=Path(args.model) if args.model else None)
            for kind in kinds:
                with storage_url(kind, root / f"{kind}-server") as url:
                    rows += run(inputs, root / kind, args, url)
                args.profile = None
    finally:
        stop_ray()

    print_rows(
        rows,
        f"{args.trials} trials, {args.concurrency} at a time, {args.wait:g} s each, sampler {args.sampler or 'default'}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
