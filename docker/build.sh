#!/usr/bin/env bash
# Build the hpogrid image with podman on a machine that reaches no container registry, and
# print its name (the last line of stdout).
#
#   docker/build.sh                # PROFILE=core: hpogrid and what a grid job imports (lean)
#   PROFILE=full docker/build.sh   # the public image's content: torch (CPU), Ray Tune, Ax, ...
#
# The base is a Debian bookworm made with debootstrap from the Debian mirror in this machine's
# apt sources and imported as $BASE (built once). pip reads the local package sources of this
# machine's pip configuration (find-links, file:// indexes), mounted read-only into the build.
# The image is tagged with a hash of the Dockerfile, this script, setup.cfg, the profile and the hpogrid
# package: an image of that tag is reused, nothing is rebuilt while they are unchanged.
#
# podman runs with --runtime runc (crun fails on hybrid cgroups) and explicit ulimits; both are
# harmless elsewhere. Environment: PROFILE (core|full), IMAGE (name, default hpogrid),
# BASE (default debian:bookworm-local), HPOGRID_PODMAN (the podman command).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PROFILE:-core}"
name="${IMAGE:-hpogrid}"
base="${BASE:-debian:bookworm-local}"
read -r -a podman <<< "${HPOGRID_PODMAN:-podman}"
command -v "${podman[0]}" >/dev/null || { echo "build.sh: ${podman[0]} is not installed" >&2; exit 2; }
command -v runc >/dev/null && podman+=(--runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host)
case "$profile" in core|full) ;; *) echo "build.sh: PROFILE must be core or full, not '$profile'" >&2; exit 2 ;; esac

hash="$(cd "$repo" && { echo "$profile"; cat docker/Dockerfile docker/build.sh setup.cfg setup.py pyproject.toml;
    find hpogrid -type f ! -name '*.pyc' ! -path '*__pycache__*' -print0 | sort -z | xargs -0 sha256sum; } |
    sha256sum | cut -c1-12)"
image="localhost/$name:$profile-$hash"
if "${podman[@]}" image exists "$image"; then
    echo "$image"
    exit 0
fi

if ! "${podman[@]}" image exists "$base"; then
    command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is not installed (base image $base)" >&2; exit 2; }
    # (grep fails on a missing /etc/apt/sources.list, as on deb822-only hosts: not an error)
    mirror="$({ grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
        2>/dev/null || true; } | grep -oE 'https?://[^ ]+' | head -1 || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    echo "[build.sh] debootstrap bookworm from $mirror (a few minutes)" >&2
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
    tar -C "$rootfs" -c . | "${podman[@]}" import - "$base" >&2
fi

# this machine's local package sources (pip config), mounted at the same paths; the first local
# index replaces PyPI (the build then needs no network, nor this machine's proxy certificates)
pip_options=() mounts=() index=""
for key in global.find-links global.index-url global.extra-index-url; do
    for source in $(python3 -m pip config get "$key" 2>/dev/null || true); do
        dir="${source#file://}"
        dir="${dir%/simple}"
        [ -d "$dir" ] || continue
        mounts+=(-v "$dir:$dir:ro")
        if [ "$key" = global.find-links ]; then pip_options+=(--find-links "$source")
        elif [ -z "$index" ]; then index="$source"; pip_options+=(--index-url "$source")
        else pip_options+=(--extra-index-url "$source"); fi
    done
done
# full: not every dependency is in local sources (kaleido, ...): PyPI too, through this machine's
# certificate bundle when its pip configuration names one (a proxy that re-signs TLS)
if [ "$profile" = full ] && [ -n "$index" ]; then
    pip_options+=(--extra-index-url https://pypi.org/simple)
    cert="${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}"
    if [ -f "$cert" ]; then
        mounts+=(-v "$cert:/tmp/pip-cert.pem:ro")
        pip_options+=(--cert /tmp/pip-cert.pem)
    fi
fi

echo "[build.sh] building $image" >&2
"${podman[@]}" build --format docker "${limits[@]}" "${mounts[@]}" -f "$repo/docker/Dockerfile" \
    --build-arg BASE_IMAGE="$base" --build-arg PROFILE="$profile" \
    --build-arg PIP_OPTIONS="${pip_options[*]}" ${index:+--build-arg TORCH_INDEX="$index"} -t "$image" "$repo" >&2
echo "$image"
