"""Writing files so that a killed process never leaves a half-written one behind.

Files are written with the permissions any new file gets (``0o666`` less the umask: with the
usual umask 022 or 002, readable by the group), so a study folder on shared storage can be
read by the team and by other nodes of a cluster; a file that holds a password (a URL with
``user:password@``, e.g. a ``--storage`` or ``--tracking-uri`` given with one) stays private
to its owner (0600).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, did_you_mean

__all__ = [
    "dir_mode",
    "file_mode",
    "holds_password",
    "is_url",
    "jsonl_problem",
    "not_found",
    "read_json",
    "read_jsonl",
    "read_mixture",
    "read_text",
    "read_yaml",
    "require_empty_dir",
    "without_password",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


_PASSWORD_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@\"']+):[^/\s@\"']+@")
# a password given as a query parameter (?password=...); MySQL's drivers also take passwd
_PASSWORD_KEYS = ("password", "passwd", "sslpassword")
_PASSWORD_QUERY = re.compile(rf"[?&](?:{'|'.join(_PASSWORD_KEYS)})=", re.IGNORECASE)
# SQLAlchemy's own grammar (sqlalchemy.engine.url), for a URL it cannot finish parsing (a
# port that is not a number): the password runs from the user's ':' to the first '@'
_USERINFO = re.compile(r"^([\w+]+://[^:/]*):[^@]*@")
_QUERY_PASSWORD = re.compile(rf"([?&])(?:{'|'.join(_PASSWORD_KEYS)})=[^&#]*&?", re.IGNORECASE)


def holds_password(text: str) -> bool:
    """Whether ``text`` (any text: a file's, a log line) seems to hold a URL with a password
    (``postgresql://user:secret@host/db``, ``...?password=secret``). A guard for what is
    written anyway; the URLs mixopt writes are :func:`without_password`'s."""
    return _PASSWORD_URL.search(text) is not None or _PASSWORD_QUERY.search(text) is not None


def without_password(url: str) -> str:
    """``url`` without its password (``postgresql://user:secret@host/db`` ->
    ``postgresql://user@host/db``; ``?password=secret`` dropped): what mixopt writes to
    disk, logs and pickles. Parsed as SQLAlchemy parses the database and tracking URLs it
    opens, so a password holding ``/``, spaces, quotes or ``@`` (percent-encoded) goes too;
    a value that is not a URL comes back unchanged. A study resumed from it gets the password
    where its client looks for one (for PostgreSQL, ``PGPASSWORD`` or ``~/.pgpass``), or from
    the URL given again (``--storage``)."""
    if "://" not in url:
        return url
    from sqlalchemy.engine import URL, make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads whole: its grammar, without parsing the rest
        return _QUERY_PASSWORD.sub(r"\1", _USERINFO.sub(r"\1@", url)).rstrip("?&")
    secret = [k for k in parsed.query if k.lower() in _PASSWORD_KEYS]
    if parsed.password is None and not secret:
        return url
    bare = URL.create(
        parsed.drivername,
        parsed.username,
        None,
        parsed.host,
        parsed.port,
        parsed.database,
        {k: v for k, v in parsed.query.items() if k not in secret},
    )
    return bare.render_as_string(hide_password=False)


def file_mode() -> int:
    """The permissions ``open()`` gives a new file: ``0o666`` less the process's umask."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """The permissions ``mkdir()`` gives a new folder (``tempfile.mkdtemp`` makes it 0700)."""
    return 0o777 & ~_umask()


def _umask() -> int:
    try:  # Linux says it without changing it (os.umask both sets and reads, racing threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it
    (a killed process leaves the old file or the new one, never half of one). ``mode``: the
    file's permissions (default: :func:`file_mode`, as any new file; the temporary file is
    private, 0600, until it is complete)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str, mode: int | None = None) -> None:
    """Atomically write ``text`` as UTF-8 (see :func:`write_bytes_atomic`); text holding a
    password (see :func:`holds_password`) is written private (0600) unless ``mode`` says."""
    if mode is None and holds_password(text):
        mode = 0o600
    write_bytes_atomic(path, text.encode("utf-8"), mode)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_text(path: str | Path, what: str) -> str:
    """A UTF-8 file's text, or a one-line :class:`ConfigError` naming ``what`` it is."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(not_found(path, what)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc})") from None


def not_found(path: str | Path, what: str) -> str:
    """``domain.json: domains file not found (/abs/domain.json). Did you mean: domains.json?``:
    the path as given, where that is when it is relative, and a file of a close name in its
    folder."""
    given = Path(path)
    full = Path(os.path.abspath(given))
    line = f"{path}: {what} not found"
    if not given.is_absolute():
        line += f" ({full})"
    if not full.parent.is_dir():
        return f"{line}; there is no folder {full.parent}"
    names = [p.name for p in full.parent.iterdir() if p.is_file()]
    close = did_you_mean(full.name, names)
    return f"{line}.{close}" if close else line


def read_json(path: str | Path, what: str) -> Any:
    """A JSON file's value; malformed JSON is a one-line error with its line and column."""
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def read_jsonl(path: str | Path, what: str) -> list[Any]:
    """A JSONL file's values, one a line (blank lines skipped); a malformed line is a
    one-line error with its number and column in the file."""
    values = []
    for number, line in enumerate(read_text(path, what).splitlines(), 1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: {_jsonl_error(number, exc)}") from None
    return values


def jsonl_problem(path: str | Path) -> str | None:
    """The first malformed line of a JSONL file (``line 6 column 12: ...``), or None: for a
    reader (Arrow's) whose own error names a byte offset or a row, not the line to mend."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        json.loads(line.rstrip("\r\n"))
                    except json.JSONDecodeError as exc:
                        return _jsonl_error(number, exc)
    except OSError:
        return None
    return None


def _jsonl_error(number: int, exc: json.JSONDecodeError) -> str:
    # json's messages may end in "at" (``Unterminated string starting at``): the column ends it
    where = f"column {exc.colno}" if exc.msg.endswith(" at") else f"at column {exc.colno}"
    return f"malformed JSON at line {number}: {exc.msg} {where}"


def is_url(value: str) -> bool:
    """True for ``scheme://...`` (``http``, ``s3``, ``hf``...): data files name local paths only,
    so nothing a config file says reaches the network."""
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.isidentifier()


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML file's value, read with ``safe_load``: data only, no tags that build objects."""
    import yaml

    try:
        return yaml.safe_load(read_text(path, what))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if isinstance(exc, yaml.constructor.ConstructorError):  # e.g. !!python/object tags
            raise ConfigError(
                f"{path}: YAML tag refused{where} ({exc.problem}): {what}s are data, never code"
            ) from None
        raise ConfigError(f"{path}: malformed YAML{where}") from None


def require_empty_dir(path: str | Path) -> None:
    """Refuse to write into a folder that already holds something (nothing is overwritten)."""
    p = Path(path)
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise ConfigError(f"{p}: output folder exists and is not empty")


def read_mixture(path: str | Path) -> dict[str, float]:
    """A mixture file: ``{"domain": share}``, or an object holding it under ``mixture`` or
    ``best_mixture``."""
    raw = read_json(path, "mixture file")
    if isinstance(raw, dict):
        for key in ("best_mixture", "mixture"):
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f'{path}: expected {{"domain": share, ...}}')
    return raw
