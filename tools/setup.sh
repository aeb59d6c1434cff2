#!/usr/bin/env bash
# Creates (or updates) the virtual environment .venv/ at the repository root.
#
# Idempotent: a re-run whose requirements have not changed only checks that
# the environment still imports and returns in seconds.
#
#   * torch: an already installed torch is kept (the venv then sees the system
#     site-packages); otherwise torch==2.13.0 is installed.
#   * mmcv 2.1.0 is built from source with its ops (CUDA ops when nvcc and a
#     CUDA torch are present). pip caches the built wheel, so a second venv on
#     the same machine reuses it; a cached wheel built against another torch is
#     detected by importing mmcv.ops and rebuilt without the cache.
#   * torchvision is never installed (the registry's build does not match the
#     CPU torch; nothing here imports it), and exactly one OpenCV
#     distribution, with contrib, is kept.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY_BOOT="${PYTHON:-python3}"
TORCH_VERSION="${CSOD_TORCH_VERSION:-2.13.0}"
MMCV_VERSION="2.1.0"

log() { printf '[setup] %s\n' "$*"; }

stamp_of() {
    cat requirements.txt requirements/*.txt tools/setup.sh | sha256sum | cut -c1-16
}
STAMP_FILE="$VENV/.mmdet_csod_setup"
STAMP="$(stamp_of)"

check_env() {
    "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import cv2, mmcv, mmcv.ops, mmdet, mmengine, pycocotools, torch  # noqa: F401
assert mmcv.__version__ == '2.1.0', mmcv.__version__
assert hasattr(cv2, 'ximgproc'), 'OpenCV without contrib'
cvs = [d.metadata['Name'] for d in md.distributions()
       if d.metadata['Name'] and d.metadata['Name'].lower().startswith('opencv')]
assert len(cvs) == 1, f'expected exactly one OpenCV distribution, found {cvs}'
PY
}

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP" ] && check_env 2>/dev/null; then
    log "environment up to date: $VENV"
    exit 0
fi

# 1. The venv. Keep a torch that is already installed (GPU servers).
if [ ! -x "$VENV/bin/python" ]; then
    if "$PY_BOOT" -c 'import torch' 2>/dev/null; then
        log "found torch $("$PY_BOOT" -c 'import torch; print(torch.__version__)') in $PY_BOOT: keeping it (venv with system site-packages)"
        "$PY_BOOT" -m venv --system-site-packages "$VENV"
    else
        "$PY_BOOT" -m venv "$VENV"
    fi
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

"${PIP[@]}" install -q -r requirements/build.txt

if "$PY" -c 'import torch' 2>/dev/null; then
    log "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed: kept"
else
    log "installing torch==$TORCH_VERSION"
    "${PIP[@]}" install -q "torch==$TORCH_VERSION"
fi

# 2. mmcv with ops, built against this torch.
if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    log "mmcv $MMCV_VERSION with ops already installed"
else
    FORCE_CUDA=0
    if command -v nvcc >/dev/null 2>&1 && "$PY" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)'; then
        FORCE_CUDA=1
    fi
    log "building mmcv $MMCV_VERSION with ops (FORCE_CUDA=$FORCE_CUDA); the first build takes about 20 minutes"
    export MMCV_WITH_OPS=1 FORCE_CUDA MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    "${PIP[@]}" install --no-build-isolation "mmcv==$MMCV_VERSION"
    if ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
        log "cached mmcv wheel does not match this torch: rebuilding without the cache"
        "${PIP[@]}" uninstall -y mmcv
        "${PIP[@]}" install --no-build-isolation --no-cache-dir "mmcv==$MMCV_VERSION"
        "$PY" -c 'import mmcv.ops'
    fi
fi

# 3. The rest, pinned. Then exactly one OpenCV, with contrib.
"${PIP[@]}" install -q -r requirements.txt
CV_CONTRIB="$(grep -E '^opencv-contrib-python-headless' requirements/runtime.txt)"
for dist in opencv-python opencv-python-headless opencv-contrib-python; do
    if "${PIP[@]}" show -q "$dist" >/dev/null 2>&1; then
        log "removing $dist (a second OpenCV would shadow the contrib build)"
        "${PIP[@]}" uninstall -q -y "$dist"
    fi
done
# Re-install the contrib build over whatever the removals deleted from cv2/.
"${PIP[@]}" install -q --force-reinstall --no-deps "$CV_CONTRIB"

# 4. The project itself, editable, so that `import mmdet_csod` works anywhere.
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .

check_env
echo "$STAMP" > "$STAMP_FILE"
log "ready: $VENV ($("$PY" -c 'import torch, mmcv, mmdet; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}")'))"
