from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from mixopt.testing import write_domains

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_validate_the_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "validate",
            "--domains",
            str(EXAMPLES / "domains.json"),
            "--model",
            str(EXAMPLES / "tokenizer"),
            "--budget",
            "50k",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    for name in ("finance", "sports", "cooking", "code", "sql", "support"):
        assert name in out
    assert "prompt_completion" in out and "chat" in out and "max share @ 50k" in out
    assert "budget 50k (50,000 tokens) is feasible" in out


def test_validate_without_a_model_counts_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_domains(tmp_path, {"finance": "csv", "sql": "jsonl"}, n=25)
    assert main(["validate", "--domains", str(path)]) == 0
    out = capsys.readouterr().out
    assert "25" in out and "pass --model" in out


def test_validate_reports_an_infeasible_budget(
    tokenizer_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_domains(tmp_path, {"finance": "jsonl"}, n=10)
    # an out-of-domain task: leave-one-out (the default without one) needs two domains
    (tmp_path / "held.jsonl").write_text('{"text": "A sentence from no training domain."}\n')
    (tmp_path / "tasks.yaml").write_text("kind: loss\ndata: held.jsonl\n")
    args = ["validate", "--domains", str(path), "--model", str(tokenizer_dir), "--budget", "1M"]
    args += ["--eval", str(tmp_path / "tasks.yaml")]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # --quiet: the error alone
    assert (
        len(err) == 1
        and err[0].startswith("mixopt: error: budget 1M")
        and "more than the data can fill" in err[0]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domains", "{missing}"], "domains file not found"),
        (["--domains", "{bad}"], "malformed JSON"),
        (["--domains", "{ok}", "--budget", "50q"], "not a token count"),
        (["--domains", "{ok}", "--model", "./no/such/model"], "no such local folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("[{")
    ok = write_domains(tmp_path, {"finance": "jsonl"}, n=5)
    paths = {
        "missing": str(tmp_path / "missing.json"),
        "bad": str(tmp_path / "bad.json"),
        "ok": str(ok),
    }
    assert main(["validate", *[a.format(**paths) for a in args]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_every_problem_on_its_own_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "d.json"
    p.write_text(
        json.dumps(
            [{"domain": "a", "dat": []}, {"domain": "a", "data": [{"text": "x"}], "min_share": 2}]
        )
    )
    assert main(["validate", "--domains", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("mixopt: error: ") for line in err)
    assert "Did you mean: data?" in err[0] and "give exactly one of 'data'" in err[1]
    assert "domain 'a' is listed twice" in err[3]  # its first entry's problems hide it no more


def test_help_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    with pytest.raises(SystemExit) as info:
        main(["validate", "--help"])
    assert info.value.code == 0
    assert "--budget" in capsys.readouterr().out


def test_validate_runs_the_search_checks(
    tokenizer_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--eval and --space are checked as mixopt search checks them, all problems at once."""
    from mixopt.testing import make_records

    path = write_domains(tmp_path, {"finance": "jsonl", "sports": "jsonl"}, n=20)
    leaked = "".join(json.dumps(r) + "\n" for r in make_records("finance", 20, seed=0)[:4])
    (tmp_path / "held.jsonl").write_text(leaked)
    (tmp_path / "tasks.yaml").write_text("kind: loss\ndata: held.jsonl\n")
    (tmp_path / "space.yaml").write_text("mixture: {max_epochs: {sportz: 2}}\n")
    argv = [
        "validate",
        "--quiet",
        "--domains",
        str(path),
        "--model",
        str(tokenizer_dir),
        "--eval",
        str(tmp_path / "tasks.yaml"),
        "--space",
        str(tmp_path / "space.yaml"),
        "--budget",
        "50q",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "not a token count" in err[0] and "unknown domain 'sportz'" in err[1]
    assert "4 of 4 evaluation items also appear in training domain 'finance'" in err[2]
    argv[-4:] = ["--budget", "1k"]  # the default space
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "mixopt: error: task 'tasks': 4 of 4 evaluation items also appear in training domain "
        "'finance'; evaluation data must not overlap training data"
    ]


def test_validate_the_research_notes_shape(
    tokenizer_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inline ``data`` as plain strings: text records, counted and tokenized."""
    texts = ["The central bank held rates.", "Bond yields fell.", "Earnings beat estimates."]
    games = ["The home side won.", "A late goal levelled it."]
    p = tmp_path / "domains.json"
    p.write_text(
        json.dumps(
            [
                {"domain": "finance", "num": 3, "data": texts},
                {"domain": "sports", "num": 2, "data": games},
            ]
        )
    )
    assert main(["validate", "--domains", str(p)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^finance\s+text\s+3\s", out, re.MULTILINE), out
    assert main(["validate", "--domains", str(p), "--model", str(tokenizer_dir)]) == 0
    assert re.search(r"^finance\s+text\s+3\s+\d+", capsys.readouterr().out, re.MULTILINE)


@pytest.mark.parametrize("how", ["inline", "jsonl"])
def test_validate_checks_num_against_the_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    entry: dict[str, object] = {"domain": "finance", "num": 4}
    if how == "inline":
        entry["data"] = ["one", "two", "three"]
    else:
        (tmp_path / "f.jsonl").write_text("".join(f'{{"text": "{t}"}}\n' for t in "abc"))
        entry["path"] = "f.jsonl"
    p = tmp_path / "domains.json"
    p.write_text(json.dumps([entry]))
    assert main(["validate", "--domains", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "domain 'finance': 'num' is 4 but the data has 3 records" in err[0]


def test_validate_refuses_what_search_refuses(
    tokenizer_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same spec and the same checks as mixopt search: the default leave-one-out estimate
    with one domain, an unknown sampler, a --pick that is no objective, a reserved --baseline
    name and an unknown --lodo-domains name, all at once; a --config's settings are read."""
    one = write_domains(tmp_path / "one", {"finance": "jsonl"}, n=5)
    base = ["validate", "--quiet", "--domains", str(one), "--model", str(tokenizer_dir)]
    assert main(base) == 2
    assert "leave-one-out needs at least 2 domains" in capsys.readouterr().err
    two = write_domains(tmp_path / "two", {"finance": "jsonl", "sports": "jsonl"}, n=5)
    (tmp_path / "uniform.json").write_text(json.dumps({"finance": 0.5, "sports": 0.5}))
    (tmp_path / "study.yaml").write_text(f"data: {{domains: {two}}}\nsearch: {{sampler: gq}}\n")
    argv = [
        *["validate", "--quiet", "--config", str(tmp_path / "study.yaml")],
        *["--model", str(tokenizer_dir), "--pick", "accuracy", "--lodo-domains", "sportz"],
        *["--baseline", str(tmp_path / "uniform.json")],
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    for line in ("gq", "accuracy", "'uniform' is taken", "unknown domain 'sportz'"):
        assert line in err, err
    assert main(["validate", "--quiet", "--config", str(tmp_path / "study.yaml")]) == 2
    assert "gq" in capsys.readouterr().err  # the config's sampler, checked without a model too


def test_settings_that_fail_alone_and_together_are_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_domains(tmp_path, {"finance": "jsonl", "sports": "jsonl"}, n=5)
    argv = ["validate", "--domains", str(path), "--budget", "50k", "--target-budget", "10k"]
    assert main([*argv, "--trials", "-1"]) == 2
    err = capsys.readouterr().err
    assert "trials must be" in err and "target_budget must be" in err, err


def test_one_task_is_counted_as_one(
    study_inputs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", "--domains", study_inputs["domains"], "--model", study_inputs["model"]]
    assert main([*argv, "--eval", study_inputs["evaluator"], "--budget", "2k"]) == 0
    assert "evaluator: 1 task checked, no overlap with training data" in capsys.readouterr().out


def test_a_jsonl_file_given_as_the_evaluator_is_a_loss_task_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = tmp_path / "unseen.jsonl"
    held.write_text(
        "".join(json.dumps({"text": f"held out text number {i}"}) + "\n" for i in range(5))
    )
    argv = ["validate", "--domains", str(EXAMPLES / "domains.json"), "--model"]
    argv += [str(EXAMPLES / "tokenizer"), "--budget", "50k", "--eval", str(held)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "evaluator: unseen.jsonl is scored as a held-out loss task" in out
    assert "evaluator: 1 task checked, no overlap with training data" in out
    held.unlink()
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"mixopt: error: {held}: evaluation data not found"
