#!/usr/bin/env bash
# The GPU checks of the cuda backend, as one prepared run for a lent NVIDIA machine (device time is
# short): the step-by-step agreement with the numpy reference on real hardware, then
# `spikefa bench spiking` for cpu and cuda, then Figure 4 training speed on the GPU.
# Run from the repository root. Needs numba with CUDA support, h5py, scipy, threadpoolctl, tqdm
# (all in the lent machine's image). MNIST is read from $SPIKEFA_MNIST, else from .mnist/ (an
# ignored folder the caller may carry; without it the speed runs use generated digits).
# Writes its reports into $OUT (or ./device-check/). The timeouts add up to 9 minutes: one call of
# the device tool (10 minutes at most), with time left to read the results.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-device-check}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/spikefa-numba
[ -z "${SPIKEFA_MNIST:-}" ] && [ -d .mnist ] && export SPIKEFA_MNIST="$PWD/.mnist"
python=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
SPIKEFA_GPU_TESTS=1 timeout 180 $python -m pytest -q -p no:cacheprovider tests/test_spiking_agreement.py tests/test_spiking_cuda.py \
    tests/test_spiking_backends.py tests/test_spiking_readout.py 2>&1 | tee "$out/tests.txt"
timeout 240 $python -m spikefa.cli bench spiking --backends cpu,cuda 2>&1 | tee "$out/bench.txt"
if [ -n "${SPIKEFA_MNIST:-}" ]; then
    for streams in 1 32; do
        timeout 60 $python -m spikefa.cli run models/fig4_spiking.toml --no-progress --overwrite \
            --set network.backend=cuda --set network.streams=$streams --set train.images=4096 \
            --set train.eval_every=4096 --set data.test_size=2000 --out "/tmp/fig4_cuda_s$streams.h5" \
            2>&1 | tee "$out/fig4_cuda_s$streams.txt"
    done
fi
