"""Clustering benchmark: does `mixopt cluster` recover known sources, and how fast is it?

    python benchmarks/cluster.py            # 5 sources x 1,000 records, throughput to 1M records
    python benchmarks/cluster.py --quick    # 5 sources x 120 records, throughput to 5k (a smoke run)

The labelled pool is real text no one here wrote, read offline from files Debian packages
installed on this machine, one source per kind: Python modules (/usr/lib/python3*), Perl
modules (/usr/share/perl*), C headers (/usr/include), shell scripts (/usr/bin) and the
packages' copyright files (/usr/share/doc/*/copyright, mostly license text). Each file is cut
into records of 15 non-blank lines. Prints the adjusted Rand index (ARI) of every method x
embedding against the true sources (k given), the k that each rule of choosing k picks over
the default range 2:16 with its ARI, on this pool, on a second one of four other sources
(manual pages, Debian changelogs, locale definitions, JavaScript modules), both looked at
while the default rule was designed, and on a third, held out until the rule was fixed
(Markdown, C++ standard headers, XML files), and the throughput of TF-IDF + (mini-batch) k-means as the pool grows
(larger pools resample the records).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import itertools
import random
import sys
import time
from collections.abc import Callable

LINES = 15  # lines per record: a function, a header block, a license paragraph
SOURCES: dict[str, Callable[[], list[str]]] = {
    "python": lambda: sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True)),
    "perl": lambda: sorted(glob.glob("/usr/share/perl*/**/*.pm", recursive=True)),
    "c_header": lambda: sorted(glob.glob("/usr/include/**/*.h", recursive=True)),
    "shell": lambda: [p for p in sorted(glob.glob("/usr/bin/*")) if _is_shell(p)],
    "license": lambda: sorted(glob.glob("/usr/share/doc/*/copyright")),
}


# the second pool: other kinds of text, other file formats (gzip'd troff and changelogs)
SECOND: dict[str, Callable[[], list[str]]] = {
    "man": lambda: sorted(glob.glob("/usr/share/man/man[1-8]/*.gz")),
    "changelog": lambda: sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")),
    "locale": lambda: sorted(glob.glob("/usr/share/i18n/locales/*")),
    "javascript": lambda: sorted(glob.glob("/usr/lib/node_modules/**/*.js", recursive=True)),
}


# the third pool, held out: the elbow rule was fixed before this pool was first clustered
HELD_OUT: dict[str, Callable[[], list[str]]] = {
    "markdown": lambda: sorted(glob.glob("/usr/lib/node_modules/**/*.md", recursive=True)),
    "cpp_header": lambda: sorted(glob.glob("/usr/include/c++/**/*", recursive=True)),
    "xml": lambda: sorted(glob.glob("/usr/share/**/*.xml", recursive=True)),
}


def _is_shell(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.readline(64)
    except OSError:
        return False
    return head.startswith(b"#!") and (b"/sh" in head or b"bash" in head)


def _chunks(path: str) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            lines = [line.rstrip() for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, EOFError):
        return []
    return ["\n".join(lines[i : i + LINES]) for i in range(0, len(lines) - 2, LINES)]


def labelled_pool(
    per_source: int, seed: int = 0, sources: dict[str, Callable[[], list[str]]] = SOURCES
) -> tuple[list[str], list[int]]:
    """``per_source`` records of each source (files shuffled, then cut in order), shuffled."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[int] = []
    for label, find in enumerate(sources.values()):
        files = find()
        rng.shuffle(files)
        # at most 20 records from one file, so a source is many files, not a few long ones
        records = itertools.chain.from_iterable(_chunks(f)[:20] for f in files)
        got = list(itertools.islice(records, per_source))
        if len(got) < per_source:
            raise LookupError(f"only {len(got)} records of {list(sources)[label]} on this machine")
        texts += got
        labels += [label] * per_source
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def quality(
    texts: list[str], truth: list[int], model: str | None
) -> tuple[list[tuple[str, float, float]], list[int]]:
    """(method / embedding, ARI with k given, seconds) for every pair, and the default's labels."""
    from sklearn.metrics import adjusted_rand_score

    from mixopt.cluster import CLUSTERERS, ClusterConfig
    from mixopt.cluster.embeddings import make_embedder

    k = len(SOURCES)
    rows = []
    default: list[int] = []
    embeds = ["tfidf", *(["model"] if model else [])]
    for embed in embeds:
        start = time.perf_counter()
        x = make_embedder(ClusterConfig(embed=embed, model=model)).embed(texts)
        embed_s = time.perf_counter() - start
        for method in ("kmeans", "agglomerative", "agglomerative-average", "sccl"):
            start = time.perf_counter()
            labels = CLUSTERERS.get(method)().fit_predict(x, k, 0)
            seconds = embed_s + time.perf_counter() - start
            rows.append((f"{method} / {embed}", adjusted_rand_score(truth, labels), seconds))
            if (method, embed) == ("kmeans", "tfidf"):
                default = labels.tolist()
    return rows, default


def confusion(truth: list[int], labels: list[int]) -> None:
    """Print where each source's records went (the default's clusters): who is confused."""
    k = len(SOURCES)
    print(f"\nkmeans / tfidf, records of each source per cluster (k = {k}):")
    print("| source | " + " | ".join(f"c{c}" for c in range(k)) + " |")
    print("|---|" + "---|" * k)
    counts = [[0] * k for _ in SOURCES]
    for t, c in zip(truth, labels, strict=True):
        counts[t][c] += 1
    for name, row in zip(SOURCES, counts, strict=True):
        print(f"| {name} | " + " | ".join(str(n) for n in row) + " |")


def chosen_k(texts: list[str], truth: list[int]) -> list[tuple[str, int, float, float]]:
    """The default end to end (tfidf + k-means over 2:16): (rule, chosen k, its ARI, ARI at the
    true k) for each rule of choosing k."""
    from sklearn.metrics import adjusted_rand_score

    from mixopt.cluster.config import K_RULES
    from mixopt.cluster.embeddings import TfidfEmbedder
    from mixopt.cluster.methods import KMeans
    from mixopt.cluster.select import choose_k, pick_k

    x = TfidfEmbedder().embed(texts)
    _, table, _ = choose_k(x, KMeans(), list(range(2, 17)), "silhouette", 0)
    true_k = len(set(truth))
    at_truth = adjusted_rand_score(truth, KMeans().fit_predict(x, true_k, 0))
    rows = []
    for rule in K_RULES:
        k, _ = pick_k(table, "silhouette", rule)
        rows.append((rule, k, adjusted_rand_score(truth, KMeans().fit_predict(x, k, 0)), at_truth))
    print("\nsilhouette at each k: " + ", ".join(f"{s.k}: {s.score:.4f}" for s in table))
    return rows


def throughput(texts: list[str], sizes: list[int]) -> None:
    """Print a row per size: records/s of tfidf + k-means (k = 5), as each is measured."""
    from mixopt.cluster.embeddings import TfidfEmbedder
    from mixopt.cluster.methods import KMeans

    rng = random.Random(1)
    first = None
    for n in sizes:
        pool = texts * (n // len(texts)) + rng.sample(texts, n % len(texts))
        start = time.perf_counter()
        x = TfidfEmbedder().embed(pool)
        mid = time.perf_counter()
        KMeans().fit_predict(x, len(SOURCES), 0)
        end = time.perf_counter()
        rate = n / (end - start)
        first = first or rate
        print(
            f"| tfidf + k-means, {n:,} records | {rate:,.0f} records/s (embed {mid - start:.1f} s, "
            f"k-means {end - mid:.1f} s) | {rate / first:.2f} x the rate at {sizes[0]:,} |",
            flush=True,
        )
        del pool, x


def k_rules(texts: list[str], truth: list[int], per_source: int) -> None:
    """Print the k each rule picks over 2:16, on this pool and on the other two."""
    pools = [(", ".join(SOURCES), texts, truth)]
    for sources in (SECOND, HELD_OUT):
        try:
            pools.append((", ".join(sources), *labelled_pool(per_source, sources=sources)))
        except LookupError as exc:
            print(f"\nthe pool of {', '.join(sources)} is not on this machine ({exc}): left out")
    table = []
    for name, pool, labels in pools:
        for rule, k, ari, at_truth in chosen_k(pool, labels):
            table.append(
                f"| {name} ({len(set(labels))} sources) | {rule} | {k} | {ari:.3f} | {at_truth:.3f} |"
            )
    print("\n| pool | k rule (silhouette over 2:16) | chosen k | ARI | ARI at the true k |")
    print("|---|---|---|---|---|")
    print("\n".join(table), flush=True)


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small pool, small sizes (smoke run)")
    parser.add_argument("--sizes", help="comma-separated pool sizes for the throughput rows")
    parser.add_argument("--model", help="also embed with this local causal LM (--embed model)")
    args = parser.parse_args(argv)
    per_source = 120 if args.quick else 1000
    sizes = [1_000, 5_000] if args.quick else [10_000, 100_000, 1_000_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    try:
        texts, truth = labelled_pool(per_source)
    except LookupError as exc:
        sys.exit(str(exc))
    print(f"pool: {len(texts):,} records, {per_source:,} from each of {', '.join(SOURCES)}")
    rows, default = quality(texts, truth, args.model)
    base = dict((name, ari) for name, ari, _ in rows)["kmeans / tfidf"]
    print("\n| figure | result | vs k-means / tfidf |")
    print("|---|---|---|")
    for name, ari, seconds in rows:
        print(
            f"| ARI, {name}, k = {len(SOURCES)} | {ari:.3f} ({seconds:.1f} s) | {ari / base:.2f} x |"
        )
    confusion(truth, default)
    k_rules(texts, truth, per_source)
    sys.stdout.flush()
    throughput(texts, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
