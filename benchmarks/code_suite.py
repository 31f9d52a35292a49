"""A real benchmark suite from text no one here wrote: source code by programming language,
taken from Debian packages, and a tabular benchmark of real LoRA trials on it.

    python benchmarks/code_suite.py build OUT      # download the packages, cut records, pre-train
    python benchmarks/code_suite.py grid OUT       # the grid of real trials -> data/code_suite_grid.csv
    python benchmarks/code_suite.py show OUT       # where each target's optimum lies
    python benchmarks/code_suite.py check OUT --mixtures mixes.json --seeds 11,12,13
    python benchmarks/code_suite.py --quick        # all of it, tiny, from installed packages (< 2 min)

Training domains are five languages (python, c, go, perl, shell); the targets are languages
that no training domain is, and that the base model never saw: ruby and rust, and three more
candidates (javascript, tcl, lua) evaluated on every trial too (64 held-out records each),
because where a target's optimum lies (a corner of the simplex or inside it) is only known
from the grid.

`build` runs `apt-get download` for each package it names (into OUT/debs, skipped when the
.deb is there) and `dpkg-deb -x` into OUT/src/PKG (nothing is installed), records each
package's Debian version in OUT/manifest.json, cuts every source file into records (runs of
consecutive lines up to 900 characters; shorter than 200 dropped; deduplicated by hash;
shuffled with a seed), and splits them per training language into a pre-training slice and
a disjoint domain pool, and per target into held-out records (one `kind: loss` task each).
The base model is a tiny Llama pre-trained on the five training languages' slices only.

`grid` scores every mixture with shares in multiples of 1/4 (70 points), the uniform and
natural mixtures and 30 seeded Dirichlet points at seed 0, and some of them again at seeds 1
and 2 (seed noise: the vertices, uniform, natural, each target's five best, four random ones;
27 points in the committed table). Each (mixture, seed) is one real trial (`mixopt.trial.run_trial`),
two at a time on one thread each, cached as a JSON line in OUT (a killed run resumes).
`check` trains given mixtures on given seeds the same way (and from the same cache).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _trials import STATE, append_row, read_rows, simplex_grid, worker_init  # noqa: E402

CSV_PATH = HERE / "data" / "code_suite_grid.csv"


@dataclass(frozen=True)
class Lang:
    """Where a language's source files come from: Debian packages and file-name endings."""

    packages: tuple[str, ...]
    endings: tuple[str, ...]
    dirs: tuple[str, ...] = ()
    """Folders whose every file is of the language (e.g. bash completions have no ending)."""


LANGS: dict[str, Lang] = {
    "python": Lang(("libpython3.11-stdlib",), (".py",)),
    "c": Lang(("libc6-dev", "libglib2.0-dev"), (".c", ".h")),
    "go": Lang(
        (
            "golang-golang-x-text-dev",
            "golang-github-spf13-cobra-dev",
            "golang-github-stretchr-testify-dev",
        ),
        (".go",),
    ),
    "perl": Lang(("perl-modules-5.36",), (".pm", ".pl")),
    "shell": Lang(("bash-completion",), (".sh",), ("usr/share/bash-completion/completions",)),
    "ruby": Lang(("libruby3.1",), (".rb",)),
    "rust": Lang(
        ("librust-regex-dev", "librust-regex-syntax-dev", "librust-syn-dev", "librust-serde-dev"),
        (".rs",),
    ),
    "javascript": Lang(("libjs-underscore", "libjs-d3", "node-lodash"), (".js",)),
    "tcl": Lang(("libtcl8.6",), (".tcl",)),
    "lua": Lang(("lua-penlight", "lua-ldoc"), (".lua",)),
}
TRAIN = ("python", "c", "go", "perl", "shell")
TARGETS = ("ruby", "rust", "javascript", "tcl", "lua")
# --quick: installed packages only (no download), three training languages and one target
QUICK_LANGS: dict[str, Lang] = {
    "python": Lang(("libpython3.11-stdlib",), (".py",)),
    "c": Lang(("libc6-dev",), (".h",)),
    "perl": Lang(("perl-modules-5.36",), (".pm",)),
    "tcl": Lang(("libtcl8.6",), (".tcl",)),
}
QUICK_TRAIN, QUICK_TARGETS = ("python", "c", "perl"), ("tcl",)

MAX_CHARS, MIN_CHARS = 900, 200  # a record: consecutive lines up to MAX_CHARS, at least MIN_CHARS
MAX_FILE = 200_000  # larger files are generated tables, not code anyone wrote by hand
MAX_LINE = 400  # a file with a longer line is minified or data


@dataclass(frozen=True)
class Sizes:
    """How much of each language goes where, and the base model's pre-training."""

    pretrain: int
    """Records per training language in the pre-training slice."""
    pool: int
    """Records per training language in its domain pool (at most)."""
    heldout: int
    """Held-out records per target."""
    pretrain_tokens: int


FULL = Sizes(pretrain=600, pool=3000, heldout=64, pretrain_tokens=400_000)
QUICK = Sizes(pretrain=60, pool=200, heldout=16, pretrain_tokens=8_000)


# ---------------------------------------------------------------------------------- build


def _run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    done = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def fetch_package(pkg: str, out: Path) -> tuple[Path, str]:
    """Download ``pkg``'s .deb (unless present) and unpack it: (its root, its version)."""
    debs = out / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        _run(["apt-get", "download", "-q", pkg], cwd=debs)
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            raise SystemExit(f"apt-get download {pkg} wrote no .deb")
    deb = found[-1]
    root = out / "src" / pkg
    if not root.exists():
        tmp = root.with_name(pkg + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        _run(["dpkg-deb", "-x", str(deb), str(tmp)])
        tmp.rename(root)
    return root, _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()


class Unavailable(Exception):
    """--quick cannot run here: no dpkg, or a package it reads is not installed."""


UNAVAILABLE = 75  # --quick's exit status when it cannot run here (the smoke test skips on it)


def installed_package(pkg: str) -> tuple[list[Path], str]:
    """An installed package's files (from dpkg's own list) and version (--quick: no download)."""
    if shutil.which("dpkg-query") is None:
        raise Unavailable("no dpkg-query: --quick reads installed Debian packages")
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status} ${Version}", pkg], capture_output=True, text=True
    )
    status = done.stdout.split()
    if done.returncode != 0 or status[:3] != ["install", "ok", "installed"]:
        raise Unavailable(f"{pkg} is not installed: --quick reads it (apt-get install {pkg})")
    files = [Path(p) for p in _run(["dpkg", "-L", pkg]).splitlines() if p.startswith("/")]
    return [p for p in files if p.is_file() and not p.is_symlink()], status[3]


def _is_source(path: Path, rel: str, lang: Lang) -> bool:
    return rel.endswith(lang.endings) or any(rel.startswith(d + "/") for d in lang.dirs)


def chunks(text: str) -> Iterable[str]:
    """Runs of consecutive lines, each at most MAX_CHARS; shorter than MIN_CHARS dropped."""
    run: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        if size + len(line) > MAX_CHARS and run:
            yield "".join(run)
            run, size = [], 0
        run.append(line)
        size += len(line)
    if run:
        yield "".join(run)


def records_of(files: Iterable[tuple[str, Path]]) -> tuple[list[str], int]:
    """Every kept record of the given (name, path) files, in file order, deduplicated."""
    seen: set[str] = set()
    out: list[str] = []
    used = 0
    for _, path in sorted(files):
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not text.strip() or max(len(line) for line in text.splitlines() or [""]) > MAX_LINE:
            continue
        used += 1
        for chunk in chunks(text):
            key = hashlib.sha1(chunk.strip().encode()).hexdigest()
            if len(chunk.strip()) >= MIN_CHARS and key not in seen:
                seen.add(key)
                out.append(chunk)
    return out, used


def _write_jsonl(path: Path, texts: Iterable[str]) -> None:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


def build(out: Path, quick: bool) -> dict[str, Any]:
    """Sources, records, task file and base model in ``out`` (each step skipped when done)."""
    langs, train, targets, sizes = _config(quick)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = dict(json.loads(manifest_path.read_text()))
        if manifest["sizes"] == sizes.__dict__:
            return manifest
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    packages: dict[str, str] = {}
    languages: dict[str, Any] = {}
    data = out / "data"
    data.mkdir(exist_ok=True)
    pretrain_texts: list[str] = []
    for name in (*train, *targets):
        lang = langs[name]
        files: list[tuple[str, Path]] = []
        for pkg in lang.packages:
            if quick:
                paths, version = installed_package(pkg)
                files += [(str(p), p) for p in paths if _is_source(p, str(p).lstrip("/"), lang)]
            else:
                root, version = fetch_package(pkg, out)
                for p in root.rglob("*"):
                    rel = str(p.relative_to(root))
                    if _is_source(p, rel, lang):
                        files.append((f"{pkg}/{rel}", p))
            packages[pkg] = version
        texts, used = records_of(files)
        random.Random(f"code-suite/{name}").shuffle(texts)
        entry: dict[str, Any] = {
            "packages": list(lang.packages),
            "files": used,
            "records": len(texts),
        }
        if name in train:
            need = sizes.pretrain + 200
            if len(texts) < need:
                raise SystemExit(f"{name}: {len(texts)} records, fewer than the {need} needed")
            pre, pool = texts[: sizes.pretrain], texts[sizes.pretrain : sizes.pretrain + sizes.pool]
            pretrain_texts += pre
            _write_jsonl(data / f"{name}.jsonl", pool)
            entry |= {
                "pretrain": len(pre),
                "pool": len(pool),
                "pool_chars": sum(len(t) for t in pool),
            }
        else:
            held = texts[: sizes.heldout]
            _write_jsonl(data / f"heldout_{name}.jsonl", held)
            entry |= {"heldout": len(held)}
        languages[name] = entry
        print(
            f"{name:<11} {used:>5} files  {len(texts):>6} records  "
            + "  ".join(
                f"{k} {v}" for k, v in entry.items() if k in ("pretrain", "pool", "heldout")
            ),
            flush=True,
        )
    (data / "domains.json").write_text(
        json.dumps([{"domain": n, "path": f"{n}.jsonl"} for n in train], indent=1)
    )
    tasks = "".join(
        f"  - name: {t}\n    kind: loss\n    data: heldout_{t}.jsonl\n" for t in targets
    )
    (data / "targets.yaml").write_text(
        "# Held-out code in languages no training domain is (and the base model never saw).\n"
        f"tasks:\n{tasks}"
    )
    t0 = time.perf_counter()
    from mixopt.testing.tiny_model import TinyModelConfig, build_tiny_model

    random.Random(0).shuffle(pretrain_texts)
    # the pre-training slices do not depend on the held-out or pool sizes: a rebuild that
    # changed only those keeps the model (its stamp says how it was made)
    stamp = out / "model" / "pretrain.json"
    if not stamp.exists():
        build_tiny_model(
            out / "model",
            TinyModelConfig(pretrain_tokens=sizes.pretrain_tokens),
            texts=pretrain_texts,
        )
        made = {
            "tokens": sizes.pretrain_tokens,
            "records": len(pretrain_texts),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        stamp.write_text(json.dumps(made))
    pretrain_s = float(json.loads(stamp.read_text())["seconds"])
    manifest: dict[str, Any] = {
        "packages": packages,
        "languages": languages,
        "train": list(train),
        "targets": list(targets),
        "sizes": sizes.__dict__,
        "record_chars": [MIN_CHARS, MAX_CHARS],
        "pretrain_seconds": round(pretrain_s, 1),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    print(f"base model: {sizes.pretrain_tokens:,} tokens of pre-training in {pretrain_s:.0f} s")
    return manifest


def _config(quick: bool) -> tuple[dict[str, Lang], tuple[str, ...], tuple[str, ...], Sizes]:
    if quick:
        return QUICK_LANGS, QUICK_TRAIN, QUICK_TARGETS, QUICK
    return LANGS, TRAIN, TARGETS, FULL


# ---------------------------------------------------------------------------------- trials


@dataclass(frozen=True)
class Setup:
    """What a worker needs to run a trial (picklable; the workers rebuild the rest)."""

    model: str
    domains: str
    task: str
    names: tuple[str, ...]
    targets: tuple[str, ...]
    budget: int
    train: tuple[tuple[str, Any], ...]
    cache: str

    def key(self, mix: Sequence[float], seed: int) -> str:
        return json.dumps([[round(float(x), 6) for x in mix], seed, self.budget])


def read_cache(path: str | Path) -> dict[str, dict[str, float]]:
    return {k: row["losses"] | {"seconds": row["seconds"]} for k, row in read_rows(path).items()}


def evaluate(mix: Sequence[float], seed: int) -> dict[str, float]:
    """Each target's loss after one real trial of ``mix`` (cached in the setup's JSON lines)."""
    from mixopt.plans import OnePass
    from mixopt.training.config import TrainConfig
    from mixopt.trial import TrialSpec, run_trial

    setup: Setup = STATE["setup"]
    key = setup.key(mix, seed)
    cached = read_cache(setup.cache).get(key)
    if cached is not None:
        return cached
    total = sum(float(x) for x in mix)  # shares rounded to 6 digits, summed back to exactly 1
    mixture = dict(zip(setup.names, (float(x) / total for x in mix), strict=True))
    t0 = time.perf_counter()
    spec = TrialSpec(
        setup.model,
        STATE["domains"],
        mixture,
        setup.budget,
        STATE["suite"],
        TrainConfig(**dict(setup.train), threads=1, checkpoints=1),
        seed,
        plan=OnePass(),
    )
    result = run_trial(spec)
    losses = {t: float(result.metrics[f"{t}/loss"]) for t in setup.targets}
    seconds = round(time.perf_counter() - t0, 2)
    append_row(setup.cache, {"key": key, "losses": losses, "seconds": seconds})
    return losses | {"seconds": seconds}


def _setup(out: Path, quick: bool, manifest: dict[str, Any]) -> Setup:
    data = out / "data"
    train = {"seq_len": 128, "learning_rate": 3e-3}
    return Setup(
        str(out / "model"),
        str(data / "domains.json"),
        str(data / "targets.yaml"),
        tuple(manifest["train"]),
        tuple(manifest["targets"]),
        BUDGET_QUICK if quick else BUDGET,
        tuple(sorted(train.items())),
        str(out / "trials.jsonl"),
    )


BUDGET, BUDGET_QUICK = 32_000, 3_000  # training tokens per trial
RANDOM_POINTS, STEP = 30, 4


@dataclass(frozen=True)
class Point:
    name: str
    kind: str
    mix: tuple[float, ...]


def grid_points(setup: Setup, quick: bool) -> list[Point]:
    from mixopt.data.allocation import natural_mixture, uniform_mixture

    doms = STATE["domains"]
    k = len(setup.names)
    pts = [
        Point(f"g{i:03d}", "grid", m) for i, m in enumerate(simplex_grid(k, 2 if quick else STEP))
    ]
    for kind, fn in (("uniform", uniform_mixture), ("natural", natural_mixture)):
        shares = fn(doms, setup.budget)
        pts.append(Point(kind, kind, tuple(round(float(shares[n]), 6) for n in setup.names)))
    rng = np.random.default_rng(20261203)
    for i in range(2 if quick else RANDOM_POINTS):
        mix = rng.dirichlet(np.ones(k))
        pts.append(Point(f"r{i:02d}", "random", tuple(round(float(x), 6) for x in mix)))
    return pts


def _pool(setup: Setup) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(2, initializer=worker_init, initargs=(setup,))


def run_grid(out: Path, quick: bool, csv_path: Path | None) -> list[dict[str, Any]]:
    manifest = build(out, quick)
    setup = _setup(out, quick, manifest)
    worker_init(setup)
    points = grid_points(setup, quick)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with _pool(setup) as pool:
        first = list(pool.map(evaluate, [p.mix for p in points], [0] * len(points)))
        rows += [_row(p, 0, r, setup) for p, r in zip(points, first, strict=True)]
        _write_csv(rows, setup, csv_path)
        print(f"seed 0: {len(points)} points in {time.perf_counter() - started:.0f} s", flush=True)
        again = seed_subset(points, first, setup, quick)
        seeds = (1,) if quick else (1, 2)
        jobs = [(p, s) for s in seeds for p in again]
        more = list(pool.map(evaluate, [p.mix for p, _ in jobs], [s for _, s in jobs]))
        rows += [_row(p, s, r, setup) for (p, s), r in zip(jobs, more, strict=True)]
    _write_csv(rows, setup, csv_path)
    print(f"grid: {len(rows)} trials in {time.perf_counter() - started:.0f} s\n", flush=True)
    return rows


def cached_rows(out: Path, quick: bool, csv_path: Path | None) -> list[dict[str, Any]]:
    """The grid's rows that the cache holds (all of them once `grid` is done), also written
    to ``csv_path``: a table of a run still under way, or killed."""
    setup = _setup(out, quick, json.loads((out / "manifest.json").read_text()))
    worker_init(setup)
    cache = read_cache(setup.cache)
    rows = []
    for p in grid_points(setup, quick):
        for seed in (0, 1, 2):
            hit = cache.get(setup.key(p.mix, seed))
            if hit is not None:
                rows.append(_row(p, seed, hit, setup))
    _write_csv(rows, setup, csv_path)
    return rows


def seed_subset(
    points: list[Point], first: list[dict[str, float]], setup: Setup, quick: bool
) -> list[Point]:
    """The points scored again on more seeds: vertices, uniform, natural, each target's best
    five at seed 0 and some random ones."""
    if quick:
        return [p for p in points if p.kind == "uniform"] + [points[0]]
    chosen: dict[str, Point] = {}
    for p in points:
        if (p.kind == "grid" and max(p.mix) == 1.0) or p.kind in ("uniform", "natural"):
            chosen[p.name] = p
    for t in setup.targets:
        order = sorted(range(len(points)), key=lambda i: first[i][t])
        for i in order[:5]:
            chosen.setdefault(points[i].name, points[i])
    for p in [p for p in points if p.kind == "random"][:4]:
        chosen.setdefault(p.name, p)
    return list(chosen.values())


def _row(p: Point, seed: int, r: dict[str, float], setup: Setup) -> dict[str, Any]:
    row: dict[str, Any] = {"point": p.name, "kind": p.kind}
    row |= {n: f"{x:.6g}" for n, x in zip(setup.names, p.mix, strict=True)}
    row["seed"] = seed
    row |= {f"{t}_loss": f"{r[t]:.5f}" for t in setup.targets}
    row["seconds"] = f"{r['seconds']:.1f}"
    return row


def _write_csv(rows: list[dict[str, Any]], setup: Setup, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "point",
        "kind",
        *setup.names,
        "seed",
        *(f"{t}_loss" for t in setup.targets),
        "seconds",
    ]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fields, lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: (r["seed"], r["point"])))


# ---------------------------------------------------------------------------------- show


def _where(mix: Sequence[float]) -> str:
    nonzero = sum(1 for x in mix if x > 1e-9)
    if nonzero == 1:
        return "vertex"
    if nonzero < len(mix):
        return f"face (on {nonzero} of {len(mix)} domains)"
    return "interior (every domain)"


def _told_apart(multi: dict[str, list[float]], sd: float, best: str, p: str | None) -> bool:
    """Whether ``p``'s mean loss is worse than ``best``'s by more than 2 standard errors."""
    if p is None or p not in multi or best not in multi:
        return False
    se = sd * (1 / len(multi[p]) + 1 / len(multi[best])) ** 0.5
    return statistics.fmean(multi[p]) - statistics.fmean(multi[best]) > 2 * se


def show(rows: list[dict[str, Any]], names: Sequence[str], targets: Sequence[str]) -> str:
    """Per target: the grid's best point (at seed 0, and by the mean over seeds where a point
    has several), where it lies, how far it beats the best vertex and the uniform mixture,
    against the seed noise and the spread of the grid."""
    by_point: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        by_point.setdefault(r["point"], {})[int(r["seed"])] = r
    mixes = {p: tuple(float(s[0][n]) for n in names) for p, s in by_point.items() if 0 in s}
    n_multi = sum(1 for s in by_point.values() if len(s) > 1)
    lines = [
        f"{len(mixes)} points at seed 0, {n_multi} of them at seeds 1 and 2 too; losses are mean "
        "token losses on each target's held-out code (lower is better)\n",
        f"{'target':<11} {'best at seed 0':<31} {'best by seed mean':<31} {'where':<9} "
        f"{'seed sd':>7} {'grid sd':>7} {'vs vertex':>9} {'/sd':>5} {'vs unif':>8} {'/sd':>5}",
    ]
    summary: list[str] = []
    for t in targets:
        col = f"{t}_loss"
        s0 = {p: float(s[0][col]) for p, s in by_point.items() if 0 in s and p in mixes}
        if not s0:
            continue
        best0 = min(s0, key=s0.__getitem__)
        multi = {p: [float(r[col]) for r in s.values()] for p, s in by_point.items() if len(s) > 1}
        mean = {p: statistics.fmean(v) for p, v in multi.items()} or s0
        best = min(mean, key=mean.__getitem__)
        # seed noise: the pooled sd of each multi-seed point around its own mean
        dof = sum(len(v) - 1 for v in multi.values())
        sq = sum((x - mean[p]) ** 2 for p, v in multi.items() for x in v)
        sd = (sq / dof) ** 0.5 if dof else float("nan")
        vertices = [p for p in mean if p in mixes and max(mixes[p]) == 1.0]
        vertex = min(vertices, key=mean.__getitem__) if vertices else None
        gap = mean[vertex] - mean[best] if vertex else float("nan")
        lift = mean.get("uniform", float("nan")) - mean[best]
        where = _where(mixes[best])

        def fmt(p: str) -> str:
            return f"{p} [" + " ".join(f"{x:.2f}" for x in mixes[p]) + "]"

        lines.append(
            f"{t:<11} {fmt(best0):<31} {fmt(best):<31} {where.split()[0]:<9} {sd:>7.4f} "
            f"{statistics.pstdev(s0.values()):>7.4f} {gap:>9.4f} {gap / sd:>5.1f} "
            f"{lift:>8.4f} {lift / sd:>5.1f}"
        )

        near_vertex = not _told_apart(multi, sd, best, vertex)
        near_uniform = not _told_apart(multi, sd, best, "uniform")
        if where == "vertex" or (near_vertex and not near_uniform):
            kind = (
                f"a corner: {vertex} ({names[mixes[vertex].index(1.0)]} alone)" if vertex else "?"
            )
            summary.append(
                f"{t}: {kind} is the best or within 2 standard errors of it ({fmt(best)}); "
                f"uniform is {lift / sd:.1f} seed sd worse"
            )
        elif near_uniform and not near_vertex:
            summary.append(
                f"{t}: inside the simplex: every vertex is at least {gap / sd:.1f} seed sd worse "
                f"than the best ({fmt(best)}, {where}); uniform is within 2 standard errors of it"
            )
        else:
            summary.append(
                f"{t}: not told apart: the best vertex ({vertex}) is {gap / sd:.1f} and uniform "
                f"{lift / sd:.1f} seed sd worse than the best ({fmt(best)}, {where})"
            )
    lines.append(
        f"\ndomains: {' '.join(names)}; where: of the best by seed mean (vertex: one domain; "
        "face: some shares 0; interior: none 0); vs vertex / vs unif: the best vertex's / "
        "uniform's mean loss minus the best's; /sd: that in seed sd (the difference of two "
        "3-seed means has a standard error of 0.82 seed sd)"
    )
    lines.append("optimum of each target (by seed mean):\n  " + "\n  ".join(summary))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- check


def parse_mixtures(path: Path, names: Sequence[str]) -> list[tuple[str, tuple[float, ...]]]:
    """A JSON list of {domain: share} dicts, or an object of {label: {domain: share}}."""
    raw = json.loads(path.read_text())
    items = (
        list(raw.items()) if isinstance(raw, dict) else [(f"m{i}", m) for i, m in enumerate(raw)]
    )
    out = []
    for label, mix in items:
        if not isinstance(mix, dict) or set(mix) - set(names):
            raise SystemExit(f"{path}: mixture {label!r} must map some of {list(names)} to shares")
        shares = np.array([float(mix.get(n, 0.0)) for n in names])
        if np.any(shares < 0) or shares.sum() <= 0:
            raise SystemExit(f"{path}: mixture {label!r} has negative shares or sums to 0")
        out.append((label, tuple(round(float(x), 6) for x in shares / shares.sum())))
    return out


def run_check(
    out: Path, mixtures: Path, seeds: Sequence[int], out_json: Path | None
) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text())
    quick = out.name == "quick"
    setup = _setup(out, quick, manifest)
    mixes = parse_mixtures(mixtures, setup.names)
    jobs = [(label, mix, s) for label, mix in mixes for s in seeds]
    with _pool(setup) as pool:
        res = list(pool.map(evaluate, [m for _, m, _ in jobs], [s for _, _, s in jobs]))
    report: dict[str, Any] = {}
    for label, mix in mixes:
        per_seed = [r for (lab, _, _), r in zip(jobs, res, strict=True) if lab == label]
        report[label] = {
            "mixture": dict(zip(setup.names, mix, strict=True)),
            "seeds": list(seeds),
            "losses": {t: [r[t] for r in per_seed] for t in setup.targets},
            "mean": {t: statistics.fmean(r[t] for r in per_seed) for t in setup.targets},
        }
        print(
            f"{label:<16} ["
            + " ".join(f"{x:.2f}" for x in mix)
            + "]  "
            + "  ".join(f"{t} {report[label]['mean'][t]:.4f}" for t in setup.targets)
        )
    if out_json is not None:
        out_json.write_text(json.dumps(report, indent=1))
    return report


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", nargs="?", choices=("build", "grid", "show", "check"))
    parser.add_argument("out", nargs="?", help="folder for packages, records, model and trials")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 languages from installed packages, a 1/2 grid, a tiny model",
    )
    parser.add_argument(
        "--csv",
        help=f"the grid's table (default {CSV_PATH.relative_to(HERE.parent)}; quick: OUT/grid.csv)",
    )
    parser.add_argument("--mixtures", help="check: JSON list of {domain: share}, or {label: {...}}")
    parser.add_argument("--seeds", default="11,12,13", help="check: seeds (default 11,12,13)")
    parser.add_argument("--out-json", help="check: write the per-target losses here")
    args = parser.parse_args(argv)
    if args.command is None and not args.quick:
        parser.error("a command (build, grid, show, check) or --quick")
    base = Path(args.out or "benchmarks-out/code_suite").resolve()
    out = base / "quick" if args.quick else base
    started = time.perf_counter()
    if args.command == "build":
        build(out, args.quick)
        return 0
    if args.command == "check":
        if not args.mixtures:
            parser.error("check needs --mixtures")
        seeds = [int(s) for s in args.seeds.split(",")]
        run_check(out, Path(args.mixtures), seeds, Path(args.out_json) if args.out_json else None)
        return 0
    csv_path = Path(args.csv) if args.csv else (out / "grid.csv" if args.quick else CSV_PATH)
    try:
        manifest = build(out, args.quick)
    except Unavailable as e:
        print(f"cannot run here: {e}", file=sys.stderr)
        return UNAVAILABLE
    # grid, or bare --quick: all of it; show: what the cache holds so far (and the table of it)
    rows = (
        cached_rows(out, args.quick, csv_path)
        if args.command == "show"
        else run_grid(out, args.quick, csv_path)
    )
    print(show(rows, manifest["train"], manifest["targets"]))
    n0 = sum(1 for r in rows if int(r["seed"]) == 0)
    print(
        f"\nfigure: {n0} mixtures x {len(manifest['targets'])} targets from {len(rows)} real "
        f"trials; ran in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
