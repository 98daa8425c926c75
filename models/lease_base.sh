#!/usr/bin/env bash
# The GPU lease that trains newsqa-base (run on the device machine, from the repository root).
#
# Before it, here: `make base` (the encoder), `python -m models.train_base prepare` (cuts the fp16
# encoder, the decoder's MiniLM start and two tokenized epochs into chunks of <= 60 MiB, and prints
# the calls), then one device call per chunk, back to back, each carrying its chunk; the last
# call carries the last chunk and runs this script. It joins and verifies the chunks, trains for
# $MINUTES (bf16 on CUDA, validating every 2.5 minutes, checkpointing every 2; arguments such as
# `--resume DIR` go to `train`: `prepare` prints the committed delta's call and resume), exports
# the best held-out weights to models/newsqa-base/ (and models/runs/last-delta, which a second
# call on the warm machine resumes from) and leaves them in $OUT as pieces of <= 15 MiB
# (`python -m models.train_base receive FILES_AT` puts them in place here).
set -euo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
PYTHON=${PYTHON:-python3}
LEASE=${LEASE:-models/runs/lease}
MINUTES=${MINUTES:-7}
OUT=${OUT:-/tmp/newsqa-base-out}
mkdir -p "$OUT"
started=$(date +%s)
{
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  "$PYTHON" -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())"
  "$PYTHON" -m models.train_base unpack --lease "$LEASE"
  "$PYTHON" -m models.train_base train --bundle "$LEASE/bundle" --minutes "$MINUTES" \
    --out models/newsqa-base "$@"
  # the working tree replaces models/newsqa-base on every call; an ignored copy survives
  # while the machine stays warm, for a next call's `--resume models/runs/last-delta`
  rm -rf models/runs/last-delta && cp -r models/newsqa-base models/runs/last-delta
  "$PYTHON" -m models.train_base send --delta models/newsqa-base --out "$OUT"
  echo "lease done in $(( $(date +%s) - started )) s"
} 2>&1 | tee "$OUT/lease.log"
