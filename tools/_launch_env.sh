# Sourced by the launch scripts (dist_train.sh, dist_test.sh,
# slurm_train.sh): ROOT (the repository), PYTHON (the repo's
# .venv/bin/python if it exists, else python, unless set) and PYTHONPATH
# with the repository first; torchrun_tool runs a tool on torchrun.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then
        PYTHON=$ROOT/.venv/bin/python
    else
        PYTHON=python
    fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# torchrun_tool NUM_PROCS TOOL [ARGS...]: tools/TOOL with NUM_PROCS
# processes on this node; PORT, NNODES, NODE_RANK and MASTER_ADDR from the
# environment.
torchrun_tool() {
    local num_procs=$1 tool=$2
    shift 2
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" \
        --nproc_per_node="$num_procs" \
        "$ROOT/tools/$tool" "$@" --launcher pytorch
}
