#!/usr/bin/env bash
# Set up probtalk on a fresh Debian machine: system packages, the virtualenv, the
# Blender (FBX) environment and the glTF validator. Safe to run again: each step
# is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="espeak-ng libespeak-ng1 festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k flite \
libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 ffmpeg"

missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "== installing system packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  $PY -m venv .venv
fi
stamp=.venv/.probtalk-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "== installing torch (CPU) and probtalk"
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/pip install -q --disable-pip-version-check -e ".[all,dev]"
  touch "$stamp"
fi

# FBX export runs Blender's bpy (needs numpy < 2) in its own environment.
if [ "${PROBTALK_SKIP_BLENDER:-0}" != "1" ] && [ ! -f .venv-blender/.installed ]; then
  echo "== installing Blender (bpy) for FBX export into .venv-blender"
  $PY -m venv .venv-blender
  if .venv-blender/bin/pip install -q --disable-pip-version-check "bpy>=4.5,<4.6" "numpy<2"; then
    touch .venv-blender/.installed
  else
    echo "warning: bpy could not be installed; FBX export will be unavailable" >&2
  fi
fi

# The Khronos glTF validator, used by the exporter tests when node is present.
if command -v npm >/dev/null 2>&1 && [ ! -d .tools/node/node_modules/gltf-validator ]; then
  echo "== installing gltf-validator (npm) into .tools/node"
  mkdir -p .tools/node
  npm install -q --no-audit --no-fund --prefix .tools/node gltf-validator >/dev/null 2>&1 \
    || echo "warning: gltf-validator could not be installed; the validator test will be skipped" >&2
fi
