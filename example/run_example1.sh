#!/usr/bin/env bash
# README Example 1 end to end on this machine: configs -> project -> local_run.
# Safe to re-run: configs and the project are recreated (the old project is kept as a backup).
set -euo pipefail
BASE="${HPOGRID_BASE_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
TRIALS="${TRIALS:-30}"

hpogrid model_config recreate simple_objective_model --script simple_objective.py --model simple_objective >/dev/null
hpogrid search_space recreate simple_objective_space '{"height":{"method":"uniform","dimension":{"low":-100,"high":100}}, "width":{"method":"uniform","dimension":{"low":0,"high":20}}}' >/dev/null
hpogrid hpo_config recreate random_search_min_loss --algorithm random --metric loss --mode min --trials 200 >/dev/null
hpogrid grid_config recreate manc_standard --site ANALY_MANC_GPU_TEST >/dev/null
hpogrid project recreate simple_objective --scripts_path "$BASE/example/scripts/simple_objective.py" \
    --model_config simple_objective_model --search_space simple_objective_space \
    --hpo_config random_search_min_loss --grid_config manc_standard
hpogrid local_run simple_objective --trials "$TRIALS"
