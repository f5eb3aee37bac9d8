#!/usr/bin/env bash
# Create one virtualenv per competitor tool, each pinned by its requirements-<tool>.txt.
#
#   bash benchmarks/competitors/setup.sh [nannyml] [evidently] [whylogs]
#
# Idempotent: a venv whose .stamp matches its requirements file is left alone.
# The tools are never dependencies of loopwatch; their venvs are git-ignored.
#
# Pins: nannyml 0.13.1, evidently 0.7.23, whylogs[viz] 1.6.4, each with
# pandas 2.3.3 (pip otherwise picks pandas 3, which evidently 0.7.23 cannot
# import) and numpy 2.4.6. nannyml imports statsmodels without declaring it,
# so its venv adds statsmodels 0.14.5.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3.11}"
tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then
    tools=(nannyml evidently whylogs)
fi

for tool in "${tools[@]}"; do
    requirements="$here/requirements-$tool.txt"
    venv="$here/.venv-$tool"
    if [ ! -f "$requirements" ]; then
        echo "unknown tool '$tool'; expected one of: nannyml evidently whylogs" >&2
        exit 2
    fi
    stamp="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ]; then
        echo "$tool: up to date ($venv)"
        continue
    fi
    echo "$tool: installing into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # pip warns about every package missing from a local index; keep the real errors
    "$venv/bin/pip" install --quiet --requirement "$requirements" 2>&1 \
        | { grep -v "^WARNING: Location 'file:" || true; }
    "$venv/bin/python" -c "import importlib; importlib.import_module('$tool')"
    echo "$stamp" > "$venv/.stamp"
done
