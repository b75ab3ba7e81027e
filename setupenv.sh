#!/usr/bin/env bash
# Set up hpogrid. Works sourced (activates the environment in your shell) or executed.
#
#   source setupenv.sh            # create/use ./.venv (or $HPOGRID_VENV), install, activate
#   source setupenv.sh no-conda   # install into the environment that is already active
#   bash setupenv.sh [no-conda]   # the same, without touching your shell
#   bash setupenv.sh test         # also the system packages the tests use (Debian, as root):
#                                 # chromium + chromium-driver for the HTML report test,
#                                 # slurmctld slurmd slurm-client munge for the Slurm tests,
#                                 # podman runc debootstrap for the container tests (docker/build.sh)
#
# Installs torch==2.13.0 (CPU wheel) first so ax-platform does not pull a CUDA build, then
# hpogrid with its test extras. Re-running is quick: nothing is reinstalled while setup.cfg
# is unchanged. Exports HPOGRID_BASE_PATH (this folder), used by the README examples.

_hpogrid_system_test_deps() {
    local need=() p
    for p in chromium chromium-driver slurmctld slurmd slurm-client munge podman runc debootstrap; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "[setupenv] not installing ${need[*]} (needs root and apt-get); the tests using them will skip"
        return 0
    fi
    echo "[setupenv] installing ${need[*]}"
    # the lock timeout: a machine that has just started may still run its own apt/dpkg job
    local lock=(-o DPkg::Lock::Timeout=300)
    DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
        echo "[setupenv] apt-get could not install ${need[*]}; the tests using them will skip"
}

_hpogrid_setup() {
    local base mode venv py stamp want arg with_test=0
    base="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    mode=venv
    for arg in "$@"; do
        case "$arg" in
            no-conda) mode=no-conda ;;
            test) with_test=1 ;;
            *) echo "setupenv.sh: unknown option '$arg' (use: no-conda, test)" >&2; return 2 ;;
        esac
    done
    if [ "$mode" = "venv" ]; then
        venv="${HPOGRID_VENV:-$base/.venv}"
        if [ ! -x "$venv/bin/python" ]; then
            echo "[setupenv] creating virtual environment $venv"
            python3 -m venv "$venv" || return 1
        fi
        py="$venv/bin/python"
    else
        py="$(command -v python3 || command -v python)"
        [ -n "$py" ] || { echo "setupenv.sh: no python in PATH" >&2; return 1; }
    fi
    stamp="$("$py" -c 'import sys; print(sys.prefix)')/.hpogrid-setup"
    want="$(cat "$base/setup.cfg" "$base/setupenv.sh" | sha256sum | cut -c1-16)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "[setupenv] installing torch==2.13.0 (CPU) and hpogrid into $("$py" -c 'import sys; print(sys.prefix)')"
        "$py" -m pip install -q --upgrade pip setuptools wheel || return 1
        "$py" -m pip install -q "torch==2.13.0" || return 1
        "$py" -m pip install -q -e "$base[test]" || return 1
        # HEBO declares numpy<1.25 but runs with ours: its real requirements are in setup.cfg
        "$py" -m pip install -q --no-deps "HEBO==0.3.6" || return 1
        echo "$want" > "$stamp"
    fi
    [ "$with_test" = 1 ] && _hpogrid_system_test_deps
    export HPOGRID_BASE_PATH="$base"
    if [ "$mode" = "venv" ] && [ "${BASH_SOURCE[0]}" != "$0" ]; then
        # shellcheck disable=SC1091
        . "$venv/bin/activate"
    fi
    echo "[setupenv] ready: $("$py" -m hpogrid --version)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    _hpogrid_setup "$@"
else
    _hpogrid_setup "$@"
fi
