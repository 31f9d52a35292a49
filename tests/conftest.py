from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

# library caches (datasets' parsed files, lm-eval's) go to a throwaway folder, not ~/.cache;
# set before anything imports datasets, which reads them once
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="mixopt-tests-hf-"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


T = TypeVar("T")

# The longest tests (measured with --durations, slowest first) lead. pytest-xdist's worksteal
# hands each worker one contiguous slice of the order, then idle workers take queued tests
# from the end of the busiest one's slice; so the ranked tests are dealt round-robin, one
# slice a worker, and every slice starts with its share of the long tests and ends with
# short ones to hand over (ranked in one block, they all queued on the first worker).
SLOWEST_FIRST = (
    "tests/test_benchmarks.py::test_benchmark_quick_smoke[search_overhead.py]",
    "tests/test_demo.py::",
    "tests/search/test_resume.py::test_sigkill_mid_study",
    "tests/search/test_faults.py::test_each_fault",
    "tests/search/test_resume.py::test_sigkill_at_chosen_points_then_resume_loses_nothing[0-ray]",
    "tests/test_benchmarks.py::test_benchmark_quick_smoke[data_hyperparameters.py]",
    "tests/test_benchmarks.py::test_benchmark_quick_smoke[demo_problem.py]",
    "tests/test_benchmarks.py::test_benchmark_quick_smoke[driver_scale.py]",
    "tests/test_benchmarks.py::test_benchmark_quick_smoke[transfer.py]",
    "tests/test_wheel.py::",
    "tests/search/test_dashboard.py::",  # the first to ask for the shared three-domain study
    "tests/search/test_filters.py::test_a_study_searches_filters",
    "tests/search/test_study.py::test_cli_study",
    "tests/search/test_study.py::test_api_study_end_to_end",
    "tests/report/test_page.py::",  # its four-domain study
    "tests/search/test_surrogate.py::",  # its shared study
    "tests/search/test_concurrency.py::",
    "tests/search/test_leave_one_out.py::",
    "tests/search/test_study.py::",
    "tests/search/test_resume.py::",
    "tests/search/test_tracking_server.py::",
    "tests/search/test_security.py::",  # a study with a local Ray of its own, PostgreSQL, MLflow
    "tests/test_benchmarks.py::",
    "tests/search/test_multinode.py::",
    "tests/search/test_postgres.py::",
    "tests/search/test_multi_objective.py::",  # its shared study: 5 trials and 3 confirmation runs
    "tests/search/test_in_domain.py::",  # its shared study: 3 trials
    "tests/test_trial.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(SLOWEST_FIRST) if item.nodeid.startswith(prefix)),
            len(SLOWEST_FIRST),
        )

    items.sort(key=rank)  # stable: each group, and the rest, keep their order
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # every worker orders alike
    if workers > 1:
        cut = sum(1 for item in items if rank(item) < len(SLOWEST_FIRST))
        ranked, rest = items[:cut], items[cut:]
        # the rest in contiguous parts: a module's own fixtures are then made by one worker
        parts = [
            rest[k * len(rest) // workers : (k + 1) * len(rest) // workers] for k in range(workers)
        ]
        items[:] = [item for k in range(workers) for item in (*ranked[k::workers], *parts[k])]


def once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> T:
    """``make(folder)`` once per test run: the suite runs in two pytest-xdist workers
    (pyproject's addopts), and whichever asks first makes it while the other waits, then
    reads the same value (pickled). The folder is read-only afterwards: copy it to change it."""
    from filelock import FileLock

    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' temp folders share this parent
    folder, value = root / name, root / f"{name}.pickle"
    with FileLock(str(root / f"{name}.lock")):
        if not value.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            value.write_bytes(pickle.dumps(make(folder)))
        loaded: T = pickle.loads(value.read_bytes())
    return loaded


@pytest.fixture(scope="session")
def shared_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Ray cluster per test process (a head node on 127.0.0.1 declaring one CPU), in
    ``RAY_ADDRESS``: every Ray study a test runs, in this process or in a subprocess, joins it
    as a study joins the cluster of `ray job submit`, as a Ray job of its own (its workers, its
    PYTHONPATH) that ends when its driver leaves. A local Ray's start costs some 12 s of CPU;
    here it is paid once per test process, not once per study. Tests of a local Ray's own
    start (tests/search/test_execution.py) start one regardless.

    One CPU: a study takes its default concurrency from the cluster's CPUs, so it runs its
    trials one at a time in one reused worker, and one that asks for more queues them. Each
    worker process pays some 9 s of CPU importing torch, transformers and peft, and the two
    test processes already fill the machine's two cores. The test of trials side by side
    (tests/search/test_concurrency.py) starts a cluster of two CPUs of its own."""
    from tests.support.services import ray_cluster

    # what its workers inherit: a cache of their own, never the user's ~/.cache/mixopt
    env = {"MIXOPT_CACHE_DIR": str(tmp_path_factory.mktemp("ray-cluster-cache"))}
    before = os.environ.get("RAY_ADDRESS")
    with ray_cluster(cpus=1, env=env) as address:
        os.environ["RAY_ADDRESS"] = address
        try:
            yield address
        finally:
            if before is None:
                os.environ.pop("RAY_ADDRESS", None)
            else:
                os.environ["RAY_ADDRESS"] = before


@pytest.fixture(autouse=True)
def _slow_tests_share_one_ray(request: pytest.FixtureRequest) -> None:
    """The slow tests (whole studies, on Ray) join :func:`shared_ray`, started by the first of
    them: a run of fast tests starts no Ray at all."""
    if request.node.get_closest_marker("slow") is not None:
        request.getfixturevalue("shared_ray")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's ~/.cache/mixopt."""
    monkeypatch.setenv("MIXOPT_CACHE_DIR", str(tmp_path_factory.mktemp("mixopt-cache")))


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small byte-level BPE tokenizer (with a chat template) trained on the synthetic kinds."""
    from mixopt.testing import DOMAIN_KINDS, build_tokenizer, make_records

    texts = []
    for kind in DOMAIN_KINDS:
        for r in make_records(kind, 200, seed=99):
            texts.append(r.get("text") or r.get("prompt", "") + r.get("completion", "") or str(r))

    def make(out: Path) -> Path:
        build_tokenizer(texts, out, vocab_size=512)
        return out

    return once(tmp_path_factory, "tokenizer", make)


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path):  # type: ignore[no-untyped-def]
    from mixopt.models import load_tokenizer

    return load_tokenizer(str(tokenizer_dir))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pre-trained Llama (about 10 s to build): the real model every training test uses."""
    from mixopt.testing.tiny_model import TinyModelConfig, build_tiny_model

    return once(
        tmp_path_factory,
        "tiny-model",
        lambda out: build_tiny_model(out, TinyModelConfig(pretrain_tokens=150_000)),
    )


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    """(model, tokenizer), loaded once; tests must not train it (copy it first)."""
    from mixopt.models import load_model, load_tokenizer

    return load_model(str(tiny_model_dir)), load_tokenizer(str(tiny_model_dir))


# A study's inputs and one real finished study, shared by the search, report, progress,
# MLflow UI, dashboard and wheel tests (session fixtures: each is built once per run).

TASKS = """
tasks:
  - name: finance_loss
    kind: loss
    data: finance.jsonl
intermediate: finance_loss
"""

# small and quick: 64-token sequences, batches of 8 (a 4k budget is 8 steps), 3 checkpoints
FAST_TRAIN = {"seq_len": 64, "batch_size": 8, "learning_rate": 3e-3, "checkpoints": 3}


@pytest.fixture(scope="session")
def study_inputs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:
    """Three domains and an 'out-of-domain' task that finance data helps (its held-out loss)."""
    from mixopt.testing import make_heldout, make_records, write_domains

    def make(root: Path) -> dict[str, Any]:
        domains = write_domains(
            root / "data",
            {"finance": "jsonl", "cooking": "jsonl", "sports": "jsonl"},
            n=600,
            seed=1,
        )
        training = make_records("finance", 600, seed=1)  # what write_domains wrote for finance
        (root / "finance.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in make_heldout("finance", 40, 555, training))
        )
        (root / "tasks.yaml").write_text(TASKS)
        return {
            "model": str(tiny_model_dir),
            "domains": str(domains),
            "evaluator": str(root / "tasks.yaml"),
            "root": root,
        }

    return once(tmp_path_factory, "study-inputs", make)


@pytest.fixture(scope="session")
def three_domain_run(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A finished study that the report, progress, MLflow UI and dashboard tests read (copy it
    before changing anything): 2 baselines and 3 searched trials, all completed (enough for
    importances), the best and each baseline re-run on 2 fresh seeds. With what it told as it
    ran: ``result`` (what optimize_mixture returned), ``events`` (the log it was asked to
    write), ``stdout`` and ``stderr``."""
    from mixopt import optimize_mixture

    def make(root: Path) -> dict[str, Any]:
        out, events = root / "study", root / "events.jsonl"
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            result = optimize_mixture(
                study_inputs["model"],
                study_inputs["domains"],
                study_inputs["evaluator"],
                budget="4k",
                train=FAST_TRAIN,
                trials=3,
                concurrency=2,
                sampler="random",
                confirm=2,
                seed=5,
                early_stop="off",
                out=str(out),
                events=str(events),
            )
        return {
            "out": out,
            "result": result,
            "events": events,
            "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue(),
        }

    return once(tmp_path_factory, "three-domain-study", make)


@pytest.fixture(scope="session")
def three_domain_study(three_domain_run: dict[str, Any]) -> Path:
    """The shared study's folder."""
    return Path(three_domain_run["out"])


TWO_OBJECTIVES = """
tasks:
  - name: finance_loss
    kind: loss
    data: finance.jsonl
  - name: cooking_loss
    kind: loss
    data: cooking.jsonl
intermediate: finance_loss
objectives: [finance_loss, cooking_loss]
"""


@pytest.fixture(scope="session")
def two_objective_run(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A finished study with two objectives (finance's and cooking's held-out losses, which
    pull the mixture apart), shared by the multi-objective tests (copy it before changing
    anything): 2 baselines and 3 searched trials in process, early stopping on, the picked
    mixture and each baseline re-run on 1 fresh seed. ``result``: what optimize_mixture returned."""
    from mixopt import optimize_mixture
    from mixopt.testing import make_heldout, make_records

    def make(root: Path) -> dict[str, Any]:
        training = make_records("cooking", 600, seed=1)  # what write_domains wrote for cooking
        (root / "cooking.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in make_heldout("cooking", 40, 555, training))
        )
        shutil.copy(Path(study_inputs["root"]) / "finance.jsonl", root / "finance.jsonl")
        (root / "tasks.yaml").write_text(TWO_OBJECTIVES)
        out = root / "study"
        result = optimize_mixture(
            study_inputs["model"],
            study_inputs["domains"],
            str(root / "tasks.yaml"),
            budget="4k",
            train=FAST_TRAIN,
            trials=3,
            sampler="random",
            confirm=1,
            seed=5,
            early_stop="on",
            executor="inprocess",
            out=str(out),
            quiet=True,
        )
        return {"out": out, "result": result, "evaluator": str(root / "tasks.yaml")}

    return once(tmp_path_factory, "two-objective-study", make)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Any:
    """A fresh PostgreSQL server for this test (stopped after); skipped, with the reason, where
    PostgreSQL is not installed (failed where $MIXOPT_REQUIRE_SERVICES is set, as in CI)."""
    from tests.support.services import ServiceUnavailable, postgres_server, unavailable

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server(tmp_path / "postgres"))
        except ServiceUnavailable as exc:
            unavailable(str(exc))
        yield url
