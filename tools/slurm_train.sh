#!/usr/bin/env bash
# Train on a Slurm cluster: srun starts one task per GPU and
# tools/train.py --launcher slurm joins them (NCCL).
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR \
#       [tools/train.py args...]
#
# Environment: GPUS (8, tasks in all), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# SRUN_ARGS (more srun options), PYTHON (the repo's .venv/bin/python if it
# exists, else python).
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4

GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
read -r -a EXTRA_SRUN_ARGS <<< "${SRUN_ARGS:-}"

# shellcheck source=tools/_launch_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/_launch_env.sh"

exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${EXTRA_SRUN_ARGS[@]}" \
    "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher=slurm "$@"
