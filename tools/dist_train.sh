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

# shellcheck source=tools/_launch_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/_launch_env.sh"

torchrun_tool "$NUM_PROCS" train.py "$CONFIG" "$@"
