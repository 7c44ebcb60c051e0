#!/usr/bin/env bash
# Runs the side-by-side benchmarks whose figures the README quotes, writing one JSON per
# benchmark to benchmarks/results/. Each script runs both sides in one process on the same
# inputs. Run on an otherwise idle machine: ratios are fair under load, absolute speeds are not.
#   bash benchmarks/run_all.sh   # prints each benchmark's wall time (the memory one writes 5.4 GB to /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
total=$SECONDS
out=benchmarks/results
mkdir -p "$out"
run() {  # one benchmark, with its wall time
  local start=$SECONDS
  "$@"
  echo "[run_all] $((SECONDS - start)) s: $*" >&2
}
run python benchmarks/zoo_generation.py --runs 2000 --loop-runs 10 --sizes 100,1000,2000 --threads 2 --json "$out/zoo_generation.json"
run python benchmarks/zoo_marginal.py --runs 1000 --loop-runs 20 --threads 2 --json "$out/zoo_marginal.json"
run python benchmarks/metanet_throughput.py --rounds 2 --steps 2 --threads 1 --json "$out/metanet_throughput.json"
for seed in 0 1 2; do
  run python benchmarks/nfn_accuracy.py --seed "$seed" --json "$out/nfn_accuracy_seed$seed.json"
done
run python benchmarks/graph_batching.py --threads 1 --json "$out/graph_batching.json"
run python benchmarks/graph_throughput.py --threads 1 --steps 3 --json "$out/graph_throughput.json"
run python train.py task=alignment hydra.run.dir=outputs/benchmarks/alignment
run python benchmarks/alignment.py --threads 1 --json "$out/alignment.json" \
  --aligner outputs/benchmarks/alignment/checkpoints/aligner.json
run python benchmarks/memmap_zoo.py --steps 300 --workers 0 2 --json "$out/memmap_zoo.json"
echo "[run_all] $((SECONDS - total)) s in all" >&2
