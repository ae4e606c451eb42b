"""Where shipped data lives, and resolution of "a shipped name or a path" arguments.

accelsim is installed from a checkout (``pip install -e .``); shipped plans, hardware configs and
model artefacts are data files in that checkout, not Python modules. ``ACCELSIM_HOME`` points
elsewhere when the data lives apart from the code.
"""

from __future__ import annotations

import os
from pathlib import Path

from accelsim.errors import AccelsimError


def project_root() -> Path:
    env = os.environ.get("ACCELSIM_HOME")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def plans_dir() -> Path:
    return project_root() / "models" / "plans"


def hwconfigs_dir() -> Path:
    return project_root() / "hwconfigs"


def models_dir() -> Path:
    return project_root() / "models"


def tech_dir() -> Path:
    """Where shipped energy/area tables live."""
    return hwconfigs_dir() / "tech"


def resolve_named_file(arg: str | os.PathLike, folder: Path, kind: str, suffixes=(".yaml", ".yml")) -> Path:
    """Return the file for ``arg``: an existing path, or the name of a shipped file in ``folder``."""
    path = Path(arg)
    if path.is_file():
        return path
    for suffix in ("", *suffixes):
        candidate = folder / f"{arg}{suffix}"
        if candidate.is_file():
            return candidate
    shipped = sorted(p.stem for p in folder.glob("*") if p.suffix in suffixes)
    raise AccelsimError(
        f"{kind} '{arg}' is neither an existing file nor a shipped {kind}; shipped: {', '.join(shipped) or 'none'}"
    )
