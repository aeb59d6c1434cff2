#!/usr/bin/env bash
# Test a checkpoint with NUM_PROCS processes on this machine through
# torchrun: one per GPU (NCCL), or CPU processes (gloo) without CUDA.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [tools/test.py args...]
#
# Environment: PORT (29500), NNODES (1), NODE_RANK (0),
# MASTER_ADDR (127.0.0.1), PYTHON (the repo's .venv/bin/python if it exists,
# else python).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [tools/test.py args...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NUM_PROCS=$3
shift 3

# shellcheck source=tools/_launch_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/_launch_env.sh"

torchrun_tool "$NUM_PROCS" test.py "$CONFIG" "$CHECKPOINT" "$@"
