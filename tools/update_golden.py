"""Rewrite the golden values of tests/golden/ from runs of the current code, after a change that is meant
to move them. Say in the commit why each moved.

    python tools/update_golden.py                      # every shipped pair (no dataset; about a minute)
    python tools/update_golden.py --run main-job DIR   # a finished run folder, e.g. the README's main job
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from golden_values import GOLDEN, NOT_COMPARED, pairs  # noqa: E402

from accelsim.cli import main as cli  # noqa: E402
from accelsim.results.records import RunFacts  # noqa: E402

# What describes this run rather than the design point (cache hits, wall times) is never golden.
RUN_FIELDS = {c.name for c in RunFacts.columns()}


def write(name: str, run_dir: Path) -> Path:
    summary = {k: v for k, v in json.loads((run_dir / "summary.json").read_text()).items()
               if k not in NOT_COMPARED and k not in RUN_FIELDS}
    layers = pd.read_csv(run_dir / "layers.csv").to_dict("records")
    path = GOLDEN / f"{name}.json"
    path.write_text(json.dumps({"summary": summary, "layers": layers}, indent=1) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs=2, metavar=("NAME", "RUN_DIR"), help="write golden NAME from RUN_DIR")
    args = parser.parse_args()
    if args.run:
        print(write(args.run[0], Path(args.run[1])))
        return
    for hw, model, plan in pairs():
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            result = CliRunner().invoke(cli, ["run", "--hw", hw, "--model", model, "--plan", plan, "--dataset", "none",
                                              "--out", str(out)])
            if result.exit_code:
                raise SystemExit(f"{hw} {model} {plan}: {result.output}")
            print(write(f"{hw}--{model}--{plan}", out))


if __name__ == "__main__":
    main()
