#!/usr/bin/env bash
# Build the Python 3.12 environment that tools/cacti/generate_table.py runs in.
#
# Why a separate venv: hwcomponents (the Accelergy team's packaging of CACTI and Aladdin) needs
# Python >= 3.12, while accelsim itself stays on 3.11 (where the CPU torch lives). accelsim never
# imports hwcomponents; it reads the table this environment generates.
#
# Why rebuild CACTI: the binary bundled in the hwcomponents-cacti wheel is linked against a newer
# glibc than this machine has, so we rebuild it from the sources shipped next to it (`make opt`).
#
# Usage: tools/cacti/setup_venv.sh [VENV_DIR]   (default: tools/cacti/.venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.venv}"
py="${PYTHON312:-}"
if [[ -z "$py" ]]; then
  for cand in python3.12 "$HOME/.pyenv/versions/3.12.1/bin/python3.12"; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
      py="$cand"; break
    fi
  done
fi
[[ -n "$py" ]] || { echo "need Python >= 3.12 (set PYTHON312=/path/to/python3.12)" >&2; exit 1; }

if [[ ! -x "$venv/bin/python" ]]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# -library imports -neurosim without declaring it, so both are installed explicitly.
"$venv/bin/python" -m pip install --quiet hwcomponents hwcomponents-cacti hwcomponents-library hwcomponents-neurosim

cacti_dir="$("$venv/bin/python" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("hwcomponents_cacti")
root = pathlib.Path(spec.origin).parent
cands = [p for p in root.rglob("makefile")] + [p for p in root.rglob("Makefile")]
cands = [p.parent for p in cands if p.parent.name == "cacti"]
print(cands[0] if cands else "")
PY
)"
[[ -n "$cacti_dir" ]] || { echo "could not find the cacti/ source folder inside hwcomponents_cacti" >&2; exit 1; }
echo "rebuilding CACTI in $cacti_dir"
( cd "$cacti_dir" && make clean >/dev/null 2>&1 || true; cd "$cacti_dir" && make opt -j"$(nproc)" >/dev/null )
echo "venv ready: $venv"
