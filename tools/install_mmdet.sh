#!/usr/bin/env bash
# A venv for the mmdet / mmseg route: torch 2.14.1 + torchvision 0.29.1, a compiled mmcv 2.1.0,
# mmdet 3.3.0, mmsegmentation 1.2.2 (+ ftfy, regex, which it needs but does not declare), this
# package with its mm-base extra (mmengine, mmpretrain; no mmcv-lite) and pytest.
#
#   bash tools/install_mmdet.sh [VENV]          # default VENV: .venv-mmdet (in the repository)
#   MMCV_WHEEL=/path/mmcv-2.1.0-*.whl bash tools/install_mmdet.sh   # reuse a built wheel
#   VENV/bin/python -m pytest -m mmdet tests/mmdet_mmseg
#
# Why a separate venv: mmdet 3.3 and mmseg 1.2 accept mmcv >= 2.0.0rc4, < 2.2.0 and import its
# compiled ops; PyPI has only mmcv's source, and the main venv's mmcv-lite (the `mm` extra)
# installs the same `mmcv` import package (never both in one venv). mmcv 2.1.0 builds on the CPU
# against torch 2.14 only with the C++ standard raised from C++14/17 to C++20 (done below).
# The wheel is valid only for the torch it was built against; it is kept in MMCV_CACHE and
# reused. transformers is left out on purpose: with pycocotools (an mmdet dependency) installed,
# mmpretrain 1.2 turns on its multimodal models, whose import fails on recent transformers.
#
# Measured 2026-12-02 on 2 shared CPU cores (load 4-5), Python 3.11:
#   venv + torch/torchvision  206 s (wheels mostly from a local cache)
#   mmcv 2.1.0 build          36 min (MAX_JOBS=1, nice 19; 17-24 min measured on quieter cores); 32 MB wheel
#   mmcv wheel install        2 s
#   mmdet, mmseg, mm-base...  89 s
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$REPO/.venv-mmdet}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
MMCV_CACHE="${MMCV_CACHE:-$HOME/.cache/convattn_plugin/mmcv-wheels/torch-$TORCH_VERSION}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"

step() { STEP_NAME="$1"; STEP_START=$(date +%s); echo "== $STEP_NAME"; }
done_step() { echo "== $STEP_NAME: $(( $(date +%s) - STEP_START )) s"; }

step "venv $VENV with torch $TORCH_VERSION, torchvision $TORCHVISION_VERSION"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
done_step

if "$VENV/bin/python" -c "import mmcv.ops" 2>/dev/null; then
    echo "== a compiled mmcv is already installed: $("$VENV/bin/python" -c 'import mmcv; print(mmcv.__version__)')"
else
    if [ -z "${MMCV_WHEEL:-}" ]; then
        MMCV_WHEEL="$(ls "$MMCV_CACHE"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n 1 || true)"
    fi
    if [ -z "$MMCV_WHEEL" ]; then
        step "build mmcv $MMCV_VERSION with its ops for the CPU (C++20), MAX_JOBS=$MAX_JOBS: tens of minutes"
        BUILD="$(mktemp -d)"
        "${PIP[@]}" install -q ninja "setuptools<81"
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$BUILD"
        tar -xzf "$BUILD/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD"
        sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        grep -q -- '-std=c++20' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        MMCV_WITH_OPS=1 FORCE_CUDA=0 "${PIP[@]}" wheel -q --no-deps --no-build-isolation \
            -w "$BUILD/wheel" "$BUILD/mmcv-$MMCV_VERSION"
        mkdir -p "$MMCV_CACHE"
        cp "$BUILD"/wheel/mmcv-$MMCV_VERSION-*.whl "$MMCV_CACHE/"
        MMCV_WHEEL="$(ls "$MMCV_CACHE"/mmcv-$MMCV_VERSION-*.whl | head -n 1)"
        rm -rf "$BUILD"
        done_step
    fi
    step "install $MMCV_WHEEL"
    if "${PIP[@]}" show -q mmcv-lite 2>/dev/null; then
        "${PIP[@]}" uninstall -y -q mmcv-lite  # same import package: never both
    fi
    "${PIP[@]}" install -q --no-deps "$MMCV_WHEEL"
    "${PIP[@]}" install -q addict packaging Pillow pyyaml yapf opencv-python  # mmcv's own requirements
    done_step
fi

step "mmengine, mmdet 3.3.0, mmsegmentation 1.2.2, ftfy, regex, convattn_plugin[mm-base], pytest"
"${PIP[@]}" install -q "mmengine==0.10.7" "mmdet==3.3.0" "mmsegmentation==1.2.2" ftfy regex pytest \
    -e "$REPO[mm-base]"
done_step

step "check"
if "${PIP[@]}" show -q transformers 2>/dev/null; then
    echo "warning: transformers is installed; with pycocotools, mmpretrain 1.2 imports its multimodal models," \
         "which fail on recent transformers (uninstall it from this venv)" >&2
fi
"${PIP[@]}" check
OMP_NUM_THREADS=1 "$VENV/bin/python" - <<'PY'
import mmcv, mmdet, mmseg
from mmcv.ops import nms, RoIAlign  # noqa: F401  (the compiled ops)
import mmdet.models, mmseg.models, mmpretrain.models  # noqa: F401
import convattn_plugin.mm  # noqa: F401
print(f'mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmseg {mmseg.__version__}: ok')
PY
done_step
echo "run the tests with: $VENV/bin/python -m pytest -m mmdet tests/mmdet_mmseg"
