"""Faults injected through the real CLI (``mixopt search`` and ``mixopt export``, in a
subprocess or through :func:`mixopt.cli.main`), each checked where it would show: the
sockets a study's processes listen on, every byte a study writes (its folder, its MLflow
store, Ray's folder), a shared tracking server's artifact store, the system's temp folder.

The studies run :class:`tests.support.runners.TrivialPlan` (``--plan``, no ``--eval``):
real Ray, Optuna, MLflow and PostgreSQL around trials that train nothing."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from mixopt.cli import main
from mixopt.io import without_password

REPO = Path(__file__).resolve().parents[2]
PLAN = "tests.support.runners:TrivialPlan"
# the bytes a domain name may take: a file name's 255, less what the longest file named after
# it adds (its export, domains/NAME.jsonl, is written first as .NAME.jsonl.XXXXXXXX.tmp)
NAME_BYTES = 255 - len("..jsonl.XXXXXXXX.tmp")


def _search(inputs: dict[str, Any], out: Path | str, *extra: str) -> list[str]:
    """``mixopt search``'s arguments for a study of 2k-token trials that train nothing."""
    return [
        "search",
        "--domains",
        inputs["domains"],
        "--model",
        inputs["model"],
        "--plan",
        PLAN,
        "--budget",
        "2k",
        "--confirm",
        "0",
        "--early-stop",
        "off",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


# -- passwords: the redaction itself -----------------------------------------------------

SECRET = "s3/cr et'\"@:%?&#"  # what breaks a pattern: a slash, a space, quotes, @ : % ? & #


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        # percent-encoded, as RFC 3986 and SQLAlchemy's docs write it
        (f"postgresql://me:{quote(SECRET, safe='')}@db:5432/m", "postgresql://me@db:5432/m"),
        (f"postgresql+psycopg://me:{quote_plus(SECRET)}@db/m", "postgresql+psycopg://me@db/m"),
        # as typed: SQLAlchemy takes everything up to the first '@' as the password
        ("postgresql://me:s3/cr et'\"x@db/m", "postgresql://me@db/m"),
        ("postgresql://me:a:b@[::1]:5432/m", "postgresql://me@[::1]:5432/m"),
        ("postgresql://me:@db/m", "postgresql://me@db/m"),
        ("postgresql://:only@db/m", "postgresql://@db/m"),
        # as a query parameter, alone or among others, in any case
        (f"postgresql://me@db/m?password={quote(SECRET, safe='')}", "postgresql://me@db/m"),
        (
            "postgresql://me@db/m?sslmode=require&PassWord=x%2Fy&application_name=a",
            "postgresql://me@db/m?application_name=a&sslmode=require",  # as SQLAlchemy writes it
        ),
        ("mysql+pymysql://me:p@db/m?charset=utf8&passwd=q", "mysql+pymysql://me@db/m?charset=utf8"),
        ("postgresql://me@db/m?sslpassword=k", "postgresql://me@db/m"),
        # MLflow tracking URIs
        ("http://me:pw%2F1@mlflow:5000", "http://me@mlflow:5000"),
        (
            "https://me:pw@mlflow.example.com/prefix?password=x",
            "https://me@mlflow.example.com/prefix",
        ),
        # a URL SQLAlchemy cannot finish parsing (a port that is no number): its grammar still
        ("http://me:a/b c@mlflow:port/x?password=1&b=2", "http://me@mlflow:port/x?b=2"),
    ],
)
def test_a_password_never_survives_redaction(given: str, kept: str) -> None:
    assert without_password(given) == kept
    assert without_password(kept) == kept  # nothing more to take


@pytest.mark.parametrize(
    "plain",
    [
        "sqlite:////abs/study.db",
        "sqlite:///rel.db?timeout=5",
        "postgresql://me@db:5432/m?sslmode=require",
        "http://127.0.0.1:5000",
        "https://mlflow.example.com/a/b?x=1",
        "file:///tmp/mlruns",
        "databricks",
        "none",
        "Qwen/Qwen2.5-0.5B",
        "../models/tiny",
        "data/it's a file.jsonl",
        "mail me@host: see https://docs",
    ],
)
def test_what_holds_no_password_is_kept_as_written(plain: str) -> None:
    assert without_password(plain) == plain


# -- passwords: a real study in a real PostgreSQL --------------------------------------------


def _role(admin_url: str, user: str, password: str, database: str) -> None:
    """A login role with ``password`` owning a new database, made by the server's superuser."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(user)
            )
        )


def _holding(folders: list[Path], needles: list[bytes]) -> list[str]:
    """The files under ``folders`` whose bytes hold any of ``needles``."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):  # a socket, a file Ray removed meanwhile
                if path.is_file() and not path.is_symlink():
                    data = path.read_bytes()
                    found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


@pytest.mark.slow
def test_storage_passwords_never_reach_disk(
    study_inputs: dict[str, Any],
    postgres_url: str,
    shared_ray: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A password with a slash, a space and both quotes, given in the URL as typed and as
    ``?password=``: in no file of the study folders (study.json, best_mixture.json, events,
    the MLflow store with its params and artifact copies, Ray Tune's tuner.pkl) nor of Ray's
    folder, in any spelling (as typed, JSON-escaped, percent-encoded, pickled); the
    study is resumed from the password in the environment."""
    from tests.support.services import ray_cluster_folder

    core = secrets.token_hex(8)  # in every spelling of the password, so the search finds any
    password = f'{core}/ it\'s "quoted"'
    server = urlsplit(postgres_url)
    _role(postgres_url, "keeper", password, "kept")
    where = f"{server.hostname}:{server.port}/kept"
    as_typed, as_query = (
        f"postgresql://keeper:{password}@{where}",
        f"postgresql://keeper@{where}?password={quote(password, safe='')}",
    )
    outs = [tmp_path / "typed", tmp_path / "query"]
    for out, url in zip(outs, (as_typed, as_query), strict=True):
        assert main(_search(study_inputs, out, "--trials", "1", "--storage", url)) == 0
        record = json.loads((out / "study.json").read_text())
        assert record["spec"]["output"]["storage"] == f"postgresql://keeper@{where}"
        assert (out / "ray").is_dir()  # Ray Tune's records (tuner.pkl) are searched too
    # resumed with the password where PostgreSQL's clients look for it, not on the command line
    monkeypatch.setenv("PGPASSWORD", password)
    assert main(["search", "--resume", str(outs[1]), "--trials", "2", "--quiet"]) == 0
    assert len(json.loads((outs[1] / "results.json").read_text())["trials"]) == 4

    needles = [core.encode(), password.encode(), json.dumps(password).encode()]
    found = _holding([*outs, ray_cluster_folder(shared_ray)], needles)
    assert not found, found[:5]


# -- a local Ray, started by `mixopt search` ----------------------------------------------


def _watch(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """While ``proc`` runs: the TCP sockets its process tree listens on (process name, address,
    port), and Ray's folders its processes name, with their permissions."""
    import psutil

    root = psutil.Process(proc.pid)
    listening: set[tuple[str, str, int]] = set()
    folders: dict[str, int] = {}
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error, OSError):
                    for c in p.net_connections("inet"):
                        if c.status == psutil.CONN_LISTEN:
                            listening.add((p.name(), c.laddr.ip, c.laddr.port))
                    for folder in re.findall(r"/tmp/mxr\w+", " ".join(p.cmdline())):
                        folders[folder] = stat.S_IMODE(os.stat(folder).st_mode)
        time.sleep(0.3)
    return {"listening": listening, "folders": folders}


@pytest.fixture(scope="module")
def local_ray_study(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """``python -m mixopt search`` with no cluster to join (no RAY_ADDRESS, whatever the suite
    set): it starts a local Ray of its own, watched while it runs (:func:`_watch`)."""
    root = tmp_path_factory.mktemp("local-ray")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_ENABLE_"))}
    env.update(PYTHONPATH=str(REPO), MIXOPT_CACHE_DIR=str(root / "cache"))
    log = root / "stderr.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mixopt",
                *_search(study_inputs, root / "study", "--trials", "1"),
            ],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            watched = _watch(proc)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=600)
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    return watched


def _loopback(ip: str) -> bool:
    import ipaddress

    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


@pytest.mark.slow
def test_a_study_s_local_ray_listens_on_loopback_only(local_ray_study: dict[str, Any]) -> None:
    listening = local_ray_study["listening"]
    names = {name for name, _, _ in listening}
    assert {"gcs_server", "raylet"} <= names, listening  # seen while it ran
    assert all(_loopback(ip) for _, ip, _ in listening), sorted(listening)


@pytest.mark.slow
def test_a_study_s_local_ray_folder_is_private_and_removed(
    local_ray_study: dict[str, Any],
) -> None:
    folders = local_ray_study["folders"]
    assert folders, "no Ray folder seen in the study's processes"
    assert all(mode == 0o700 for mode in folders.values()), folders
    assert not [f for f in folders if os.path.exists(f)], folders  # gone with the study


# -- a tracking server shared by two studies -----------------------------------------------


@pytest.mark.slow
def test_a_tracking_server_keeps_each_study_s_artifacts_apart(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    """Two studies on one ``mlflow server``: each one's artifacts are where the server says
    (its --artifacts-destination, through its proxy), read back through it, and neither
    study folder holds anything of the other's runs."""
    from mlflow.tracking import MlflowClient

    from tests.support.services import mlflow_server

    server, outs = tmp_path / "server", [tmp_path / "first", tmp_path / "second"]
    with mlflow_server(server) as url:
        for out in outs:
            args = _search(study_inputs, out, "--trials", "0", "--executor", "inprocess")
            assert main([*args, "--tracking-uri", url]) == 0
        client = MlflowClient(url)
        experiment = client.get_experiment_by_name("mixopt")
        runs = client.search_runs([experiment.experiment_id], max_results=100)
        parents = {
            r.data.params["out"]: r for r in runs if r.data.tags.get("mixopt.kind") == "study"
        }
        assert sorted(parents) == sorted(str(o) for o in outs)
        for out in outs:
            parent = parents[str(out)]
            assert parent.info.artifact_uri.startswith("mlflow-artifacts:"), parent.info
            listed = {a.path for a in client.list_artifacts(parent.info.run_id)}
            assert {"best_mixture.json", "results.json", "report"} <= listed
            copy = client.download_artifacts(parent.info.run_id, "best_mixture.json", str(tmp_path))
            assert Path(copy).read_bytes() == (out / "best_mixture.json").read_bytes()
    run_ids = {
        str(o): {r.info.run_id for r in runs if r.data.params.get("out") == str(o)} for o in outs
    }
    stored = {p.name for p in (server / "mlartifacts").rglob("*") if p.is_dir()}
    assert {p.info.run_id for p in parents.values()} <= stored  # on the server's side
    for out, other in zip(outs, outs[::-1], strict=True):
        assert not (out / "mlartifacts").exists()
        names = " ".join(str(p) for p in out.rglob("*"))
        assert not [i for i in run_ids[str(other)] if i in names]


# -- names and paths ----------------------------------------------------------------------


def test_a_domain_name_is_limited_in_bytes_as_file_names_are(
    tokenizer_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name of 64 characters may take 256 bytes in UTF-8 (U+20000 takes 4): refused in one
    line, before anything is written; one at the limit exports (domains/NAME.jsonl)."""
    from mixopt.testing import make_records

    wide = "\U00020000"
    longest = wide * (NAME_BYTES // 4)
    for name in ("finance", "cooking"):
        rows = make_records(name, 60, seed=1)
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def export(first: str, out: Path) -> int:
        domains = tmp_path / f"domains-{len(first)}.json"
        domains.write_text(
            json.dumps(
                [
                    {"domain": first, "path": "finance.jsonl"},
                    {"domain": "b", "path": "cooking.jsonl"},
                ]
            )
        )
        (tmp_path / "mix.json").write_text(json.dumps({first: 0.5, "b": 0.5}))
        args = ["--domains", str(domains), "--model", str(tokenizer_dir)]
        args += ["--mixture", str(tmp_path / "mix.json"), "--budget", "1k", "--out", str(out)]
        return main(["export", *args, "--quiet"])

    assert export(longest, tmp_path / "ok") == 0
    assert (tmp_path / "ok" / "domains" / f"{longest}.jsonl").is_file()
    capsys.readouterr()
    assert export(wide * 64, tmp_path / "refused") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"name is 256 bytes in UTF-8; at most {NAME_BYTES}" in err[0], err
    assert not (tmp_path / "refused").exists()


@pytest.mark.slow
def test_a_study_given_a_relative_model_resumes_from_anywhere(
    study_inputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, elsewhere = tmp_path / "a" / "b", tmp_path / "elsewhere"
    here.mkdir(parents=True)
    elsewhere.mkdir()
    model = str(Path(study_inputs["model"]).resolve())
    monkeypatch.chdir(here)
    inputs = {**study_inputs, "model": os.path.relpath(model)}
    assert inputs["model"].startswith("..")
    base = ["--trials", "0", "--executor", "inprocess"]
    assert main(_search(inputs, "study", *base)) == 0
    out = here / "study"
    assert json.loads((out / "study.json").read_text())["spec"]["model"]["name"] == model

    monkeypatch.chdir(elsewhere)
    resume = ["search", "--resume", str(out), "--executor", "inprocess", "--quiet"]
    assert main(resume) == 0
    assert main([*resume, "--model", model]) == 0  # the same model, named as it is kept
    monkeypatch.chdir(here)
    assert main([*resume, "--model", inputs["model"]]) == 0  # and as it was given
