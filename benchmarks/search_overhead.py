"""What the search machinery (Ray Tune + Optuna + MLflow) costs around the trials.

    python benchmarks/search_overhead.py           # 30 s trials; a 300-trial GP study; 1 vs 2 concurrent
    python benchmarks/search_overhead.py --quick   # a 20-trial study of 0.25 s trials, one real study of the baselines (smoke run)

``--quick`` starts one Ray for all of its studies, so its start-up row leaves out Ray's own
start (every full-run study starts its own Ray, as a user's study does); ``--model DIR``
uses a model already built instead of pre-training a tiny one.

Prints:
- per-trial overhead: each trial's time in the study, from Optuna's ask to the end of its
  MLflow logging (the sampler's proposal, dispatch on Ray, the result's way back, Optuna's
  tell, MLflow) beyond the time the trial itself took, as a ratio to that time (target:
  under 5% at 30-second trials); trials wait instead of training, and the default sampler
  (GP) fits its model from the third trial on;
- study start-up: from the call to the first trial starting (validation, Ray, Tune);
- driver memory over a long study of trivial trials with the default sampler: resident size
  after 10% and after all of the trials, as a ratio (flat is 1.0), and the sampler's time
  per proposal as the study grows;
- trial throughput with 1 real trial at a time on both cores against 2 at a time on one core
  each (LoRA on a tiny model), from the first trial's start to the last one's end, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the repository's root, for tests.support: the servers and stand-in trials the tests use too
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def study_inputs(
    root: Path, quick: bool, model: Path | None = None, records: int = 500
) -> dict[str, Any]:
    """A study's model (``model``, or a tiny one built here), 3 domains of ``records`` records
    each, and a held-out loss task."""
    from mixopt.testing import make_heldout, make_records, write_domains
    from mixopt.testing.tiny_model import TinyModelConfig, build_tiny_model

    if model is None:
        model = build_tiny_model(
            root / "model", TinyModelConfig(pretrain_tokens=20_000 if quick else 100_000)
        )
    domains = write_domains(
        root / "data", {"finance": "jsonl", "cooking": "jsonl", "sports": "jsonl"}, n=records
    )
    (root / "heldout.jsonl").write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in make_heldout("finance", 40, 9, make_records("finance", records, seed=0))
        )
    )
    (root / "tasks.yaml").write_text(
        "tasks:\n  - {name: loss, kind: loss, data: heldout.jsonl}\nintermediate: loss\n"
    )
    return {"model": str(model), "data": str(domains), "evaluator": str(root / "tasks.yaml")}


def study(
    inputs: dict[str, Any], out: Path, train: dict[str, Any] | None = None, **options: Any
) -> tuple[Any, float]:
    """Run a study (no confirmation runs) in ``out``; return its result and when it started."""
    from mixopt import optimize_mixture

    start = time.time()
    result = optimize_mixture(
        inputs["model"],
        inputs["data"],
        inputs["evaluator"],
        quiet=True,
        confirm=0,
        out=str(out),
        train=train or {"seq_len": 64, "batch_size": 8},
        **options,
    )
    return result, start


def optuna_trials(out: Path) -> list[Any]:
    import optuna

    return optuna.load_study(
        study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}"
    ).get_trials(deepcopy=False)


def finish_times(out: Path) -> dict[int, float]:
    """Trial number -> when the study finished with it (its ``trial_finished`` event, written
    after Optuna's tell and the MLflow logging)."""
    ends = {}
    for line in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "trial_finished":
            ends[int(event["number"])] = float(event["time"])
    return ends


def time_calls(
    owner: Any, name: str, key: Callable[[Any], int] | None = None
) -> list[tuple[int, float]]:
    """Time every call of ``owner.name`` in this process: (``key`` of what it returned, or
    the call's index; seconds)."""
    calls: list[tuple[int, float]] = []
    real = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = real(*args, **kwargs)
        calls.append((key(out) if key else len(calls), time.perf_counter() - start))
        return out

    setattr(owner, name, timed)
    return calls


def time_asks() -> list[tuple[int, float]]:
    """Time every proposal in this process: Optuna's ask, then the sampler's model, which
    Optuna runs at the trial's first suggest (timing ``ask`` alone misses it): (the trial's
    number, seconds)."""
    from mixopt.search.orchestration.loop import StudyLoop

    return time_calls(StudyLoop, "_ask", lambda job: job.number)


def sample_rss(
    asks: list[tuple[int, float]], samples: list[tuple[int, float]], done: threading.Event
) -> None:
    while not done.is_set():
        samples.append((len(asks), rss_mb()))
        time.sleep(0.5)


def ask_windows(n: int) -> list[tuple[int, int]]:
    """Trial-number windows in which the proposal time is reported (16, 64, 256... trials in)."""
    edges = [e for e in (16, 64, 256) if e < n]
    return [(e, min(n, e + max(4, e // 8))) for e in edges]


Row = tuple[str, str, str]


def overhead_rows(out: Path, started: float, wait: float, quick: bool) -> list[Row]:
    """Part 1, from a study of trials that wait ``wait`` s: the time around each trial (warm
    workers, GP fitted), a worker's first trial (its start and imports), the study's start-up."""
    trials = sorted(optuna_trials(out), key=lambda t: t.datetime_start)
    ended = finish_times(out)  # after MLflow logged the trial: the end of its time in the study
    spans = [ended[t.number] - t.datetime_start.timestamp() for t in trials]
    work = [t.user_attrs["result"]["timings"]["total_s"] for t in trials]
    extra = [s - w for s, w in zip(spans, work, strict=True)]
    warm = extra[2:]
    first = trials[0].datetime_start.timestamp() - started
    what = (
        "study start-up (call to first trial, Ray started before)"
        if quick
        else "study start-up (call to first trial)"
    )
    return [
        (
            f"per-trial overhead at {wait:g} s trials (warm, GP fitted)",
            f"{statistics.median(warm):.2f} s",
            f"{statistics.median(warm) / wait:.3f} x the trial's own time (target < 0.05)",
        ),
        (
            "first trial of a worker: extra time",
            f"{statistics.median(extra[:2]):.2f} s",
            f"{statistics.median(extra[:2]) / wait:.2f} x one trial (worker start, imports)",
        ),
        (what, f"{first:.1f} s", f"{first / wait:.2f} x one trial"),
    ]


def watched_study(inputs: dict[str, Any], out: Path, **options: Any) -> dict[str, Any]:
    """A study, 2 trials at a time, with its proposals timed and the driver's memory sampled:
    when it started, its seconds, the proposal times (:func:`time_asks`) and the samples
    (proposals made so far, MB)."""
    asks = time_asks()
    samples: list[tuple[int, float]] = []
    done = threading.Event()
    watcher = threading.Thread(target=sample_rss, args=(asks, samples, done), daemon=True)
    watcher.start()
    t0 = time.time()
    _, started = study(inputs, out, budget="2k", concurrency=2, early_stop="off", **options)
    wall = time.time() - t0
    done.set()
    watcher.join()
    return {"started": started, "wall": wall, "asks": asks, "samples": samples}


def memory_rows(watched: dict[str, Any], n: int, wait: float, unit: float) -> list[Row]:
    """Part 2, from a :func:`watched_study` of ``n`` trials that each wait ``wait`` s: the
    driver's memory as the study grows, the machinery's time per trial, and the GP's
    proposal time as a share of a ``unit``-second trial (part 1's)."""
    asks, samples = watched["asks"], watched["samples"]
    early = next((mb for c, mb in samples if c >= n // 10), samples[0][1])
    late = max(mb for _, mb in samples)
    machinery = (watched["wall"] - n * wait / 2) / n  # less the waiting, 2 trials at a time
    rows = [
        (
            f"driver RSS after {n // 10} / {n} trials",
            f"{early:.0f} / {late:.0f} MB",
            f"{late / early:.2f} x (flat is 1.0)",
        ),
        (
            f"{n} {'trivial' if wait == 0 else f'{wait:g} s'} trials, 2 at a time (GP)",
            f"{watched['wall']:.0f} s",
            f"{machinery:.2f} s of machinery per trial",
        ),
    ]
    for lo, hi in ask_windows(n):
        took = [t for k, t in asks if lo <= k < hi]
        if took:
            rows.append(
                (
                    f"GP proposal (ask) at trials {lo}-{hi}",
                    f"{statistics.median(took) * 1000:.0f} ms",
                    f"{statistics.median(took) / unit:.4f} x a {unit:g} s trial",
                )
            )
    return rows


def real_rows(
    inputs: dict[str, Any], root: Path, n_real: int, budget: str, quick: bool
) -> list[Row]:
    """Part 3: ``n_real`` real trials and the baselines, 1 at a time with both cores, then 2
    at a time with one core each, from the first trial's start to the last one's end (quick:
    2 at a time only, the same call with other settings)."""
    spans = {}
    for conc in (2,) if quick else (1, 2):
        study(
            inputs,
            root / f"real{conc}",
            budget=budget,
            trials=n_real,
            concurrency=conc,
            cpus_per_trial=2 // conc,
            early_stop="off",
        )
        ts = optuna_trials(root / f"real{conc}")
        spans[conc] = (
            max(t.datetime_complete for t in ts).timestamp()
            - min(t.datetime_start for t in ts).timestamp()
        )
    one = f"{spans[1]:.1f} s" if 1 in spans else "- (--quick)"
    ratio = f"{spans[1] / spans[2]:.2f} x" if 1 in spans else "-"
    return [
        (f"{n_real + 2} real trials, 1 at a time x 2 threads", one, ""),
        (
            f"{n_real + 2} real trials, 2 at a time x 1 thread",
            f"{spans[2]:.1f} s",
            f"{ratio} the throughput of 1 at a time",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a 20-trial study of 0.25 s trials, one real study of the baselines (smoke run)",
    )
    parser.add_argument(
        "--model", help="a local model to fine-tune (default: a tiny one pre-trained here)"
    )
    args = parser.parse_args(argv)
    # 300 trials for the long study: the GP's proposals cost more as trials add up (about
    # 0.6 s each at 256 trials here), so 1,000 would take an hour of proposals alone.
    # quick is CI's smoke: every part runs once, at the smallest size that still reports: one
    # study of 20 trials (the first window of proposal times) serves parts 1 and 2, its
    # trials waiting 0.25 s (2.5 s in all, 2 at a time), and one real study (2 at a time)
    # trains only the baselines, on 1k tokens each (2 steps of 8 x 64 tokens)
    wait, n_wait, n_long, n_real = (0.25, 20, 20, 0) if args.quick else (30.0, 8, 300, 4)

    import warnings

    warnings.filterwarnings("ignore")
    from tests.support.runners import WaitingTrial

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = study_inputs(root, args.quick, Path(args.model) if args.model else None)
        if args.quick:  # the smoke: one Ray for every study (the start-up row without Ray's start)
            from mixopt.search.executors.ray_tune import start_ray

            start_ray(None, num_cpus=2)

        # 1. overhead around trials of a known length (warm workers: the first trial of each
        #    worker also pays the worker's start and imports, counted as start-up), and start-up;
        #    2 random start-up trials, so the GP proposes (and fits) every trial after the baselines
        # 2. driver memory and the sampler's cost over a long study of trivial trials
        if args.quick:  # one study for both: the smoke checks that each part runs, not its size
            watched = watched_study(
                inputs,
                root / "wait",
                trials=n_wait - 2,
                startup_trials=2,
                runner=WaitingTrial(wait),
            )
            rows += overhead_rows(root / "wait", watched["started"], wait, args.quick)
            rows += memory_rows(watched, n_long, wait, wait)
        else:
            _, started = study(
                inputs,
                root / "wait",
                budget="2k",
                trials=n_wait - 2,
                concurrency=2,
                startup_trials=2,
                runner=WaitingTrial(wait),
                early_stop="off",
            )
            rows += overhead_rows(root / "wait", started, wait, args.quick)
            watched = watched_study(
                inputs, root / "long", trials=n_long - 2, runner=WaitingTrial(0.0)
            )
            rows += memory_rows(watched, n_long, 0.0, wait)

        # 3. real trials, 1 at a time with both cores against 2 at a time with one each
        rows += real_rows(inputs, root, n_real, "1k" if args.quick else "24k", args.quick)

    if args.quick:
        from mixopt.search.executors.ray_tune import stop_ray

        stop_ray()
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure'.ljust(width)}  {'value':>14}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>14}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
