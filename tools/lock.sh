#!/usr/bin/env bash
# Move the lock forward: re-resolve every dependency to its newest release that
# pyproject.toml's ranges allow, install the new lock in a fresh virtual environment, run the
# suite there, and commit the lock with the versions that changed in the message.
#
#   tools/lock.sh            # upgrade everything
#   tools/lock.sh --check    # re-resolve without upgrading (does the lock still match pyproject?)
#
# Needs pip-tools (pip install pip-tools) and pip able to find torch 2.13.0+cpu, the CPU build
# (a local wheel folder via pip's find-links, or PyTorch's CPU wheel index via extra-index-url).
set -euo pipefail
cd "$(dirname "$0")/.."
upgrade=--upgrade
[ "${1:-}" = --check ] && upgrade=--no-upgrade
opts=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links)
old=$(mktemp -d)
cp requirements/*.txt "$old"/ 2>/dev/null || true
# The test lock is resolved first; the main lock is constrained to it, so both agree on every
# version they share.
CUSTOM_COMPILE_COMMAND="tools/lock.sh" pip-compile "${opts[@]}" $upgrade --extra test \
    --output-file requirements/test.txt pyproject.toml
CUSTOM_COMPILE_COMMAND="tools/lock.sh" pip-compile "${opts[@]}" $upgrade -c requirements/test.txt \
    --output-file requirements/main.txt pyproject.toml
changes=$(diff <(grep -hoE '^[A-Za-z0-9_.-]+==[^ ]+' "$old"/test.txt 2>/dev/null | sort) \
               <(grep -hoE '^[A-Za-z0-9_.-]+==[^ ]+' requirements/test.txt | sort) | grep -E '^[<>]' || true)
if [ -z "$changes" ]; then
    echo "lock unchanged"
    exit 0
fi
echo "$changes"
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
pip install -q -r requirements/test.txt && pip install -q --no-deps -e . && ruff check . && python -m pytest -q
[ "${1:-}" = --check ] && exit 0
git add requirements/
git commit -q -m "Lock moved forward (tools/lock.sh); suite passed in a fresh environment" -m "$changes"
echo "committed"
