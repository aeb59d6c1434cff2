#!/usr/bin/env bash
# Train with NUM_PROCS processes on this machine through torchrun: one per
# GPU (NCCL), or CPU processes (gloo) where CUDA is not available.
#
#   bash tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py args...]
#
# Environment: PORT (29500), NNODES (1), NODE_RANK (0),
# MASTER_ADDR (127.0.0.1), PYTHON (the repo's .venv/bin/python if it exists,
# else python).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [tools/train.py args...]" >&2
    exit 2
fi
CONFIG=$1
NUM_PROCS=$2
shift 2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then
        PYTHON=$ROOT/.venv/bin/python
    else
        PYTHON=python
    fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NUM_PROCS" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
