#!/usr/bin/env bash
# A core install (torch and numpy, none of the extras): `import losskit` and the losses work, and
# every command fails with one line naming the extra to install, exit status 2. The venv is built
# once (about a minute) in .venv-core and reused; TORCH_INDEX picks the PyTorch build as in the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${CORE_VENV:-.venv-core}
if [ ! -x "$VENV/bin/python" ]; then
    echo "== building $VENV: torch and numpy only"
    "$PYTHON" -m venv "$VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --progress-bar on torch==2.13.0 ${TORCH_INDEX:+--index-url $TORCH_INDEX}
    "$VENV/bin/python" -m pip install --progress-bar on "numpy>=1.24"
fi
export PYTHONPATH=src
"$VENV/bin/python" -c "import torch, losskit; assert float(losskit.mse_loss(torch.zeros(2), torch.ones(2))) == 1.0"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'a,y\n1,0\n2,1\n' > "$work/d.csv"
status=0
for command in "advise $work/d.csv --target y" "audit losskit:mse_loss --task regression" \
    "compare $work/d.csv --target y --out $work/o" "drift $work/card.json $work/d.csv --target y" "predict $work $work/d.csv" \
    "demo --out $work/demo"; do
    set +e
    # shellcheck disable=SC2086
    err=$("$VENV/bin/python" -m losskit $command 2>&1 >/dev/null)
    code=$?
    set -e
    if [ "$code" -ne 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [[ "$err" != *"pip install 'losskit["* ]]; then
        echo "FAIL losskit $command (exit $code): $err"
        status=1
    else
        echo "ok   losskit $command: $err"
    fi
done
# The library: every lab module and every package that needs an extra says which, in one line.
if ! "$VENV/bin/python" - <<'PY'
import importlib, pkgutil, sys
import losskit.lab
names = [f"losskit.lab.{m.name}" for m in pkgutil.iter_modules(losskit.lab.__path__)]
bad = 0
for name in [*names, "losskit.evaluate", "losskit.gbdt"]:
    try:
        importlib.import_module(name)
        print(f"ok   import {name}")
    except ModuleNotFoundError as exc:
        good = "\n" not in str(exc) and "pip install 'losskit[" in str(exc)
        bad += not good
        print(f"{'ok  ' if good else 'FAIL'} import {name}: {exc}")
sys.exit(1 if bad else 0)
PY
then
    status=1
fi
exit $status
