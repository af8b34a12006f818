#!/usr/bin/env bash
# One prepared GPU run (issue 13, item 7): on a machine with an NVIDIA GPU and the .NET SDK, in under 8 minutes,
# writes into one folder: the CUDA test suites (trx + console log), `verify --accelerator cuda --compare-cpu`, the
# benchmark on CUDA with --json (fp32, then bf16 weights with an fp16 ring while the budget lasts), the per-kernel
# timings of a decode step and a prefill chunk in both storages (BenchmarkDotNet KernelTimings, short job, 100 ms
# iterations) and summary.md. Every step is time-boxed (`timeout`, its whole process group) within one overall budget, so one
# hang cannot eat the rest.
#
# usage: tools/gpu-check.sh [OUTDIR] [--no-build] [--force]
#   OUTDIR      default $OUT, else ./gpu-check-out
#   --no-build  use the Release build already in bin/ (e.g. carried over from a machine with network access)
#   --force     run the CUDA steps even when `soma devices` lists no usable CUDA device (they then fail, time-boxed)
# Environment: GPU_CHECK_BUDGET_S (default 450: all steps together), NUGET_PACKAGES (a restored package folder when
# the machine has no network).
# Exit: 0 every step passed; 1 a step failed or timed out; 2 no CUDA device (the CUDA steps are skipped).
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

out=""
build=1
force=0
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "error: unknown option '$arg' (see tools/gpu-check.sh --help)" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
out=${out:-${OUT:-./gpu-check-out}}
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
cd "$repo" || exit 2

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
budget=${GPU_CHECK_BUDGET_S:-450}
start=$SECONDS
summary="$out/summary.md"
failures=0
rows=()

# step NAME LIMIT_S CMD...: runs CMD with stdout+stderr in NAME.log, at most LIMIT_S seconds and never past the budget.
step() {
  local name=$1 limit=$2 left result rc t0
  shift 2
  left=$((budget - (SECONDS - start)))
  [ "$limit" -le "$left" ] || limit=$left
  if [ "$limit" -lt 10 ]; then
    rows+=("| $name | skipped: the ${budget} s budget is spent | 0 | |")
    failures=$((failures + 1))
    return 1
  fi
  echo "gpu-check: $name (at most ${limit} s)" >&2
  t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  case $rc in
    0) result=ok ;;
    124|137) result="TIMED OUT after ${limit} s"; failures=$((failures + 1)) ;;
    *) result="FAILED (exit $rc)"; failures=$((failures + 1)) ;;
  esac
  rows+=("| $name | $result | $((SECONDS - t0)) | $name.log |")
  return "$rc"
}

skip() { rows+=("| $1 | skipped: $2 | 0 | |"); }

{
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -n), $(nproc) cores"
  dotnet --version 2>&1 | sed 's/^/dotnet: /'
} >"$out/environment.txt"
if command -v nvidia-smi >/dev/null 2>&1; then
  step nvidia-smi 20 nvidia-smi
else
  skip nvidia-smi "not on PATH"
fi

if [ "$build" -eq 1 ]; then
  step build 150 dotnet build SomaGpu.sln -c Release -nodeReuse:false -p:UseSharedCompilation=false
fi
soma=(dotnet Soma.Cli/bin/Release/net10.0/Soma.Cli.dll)
step devices 30 "${soma[@]}" devices
cuda=0
grep -E '^cuda:[0-9]+ ' "$out/devices.log" 2>/dev/null | grep -qv ' unusable: ' && cuda=1

if [ "$cuda" -eq 1 ] || [ "$force" -eq 1 ]; then
  # Only the suites bound to CUDA (Soma.Tests.Cuda.*): the CPU ones are CI's; SOMA_TEST_ACCELERATOR=cuda makes a
  # CUDA device that cannot be opened fail them instead of skipping.
  step tests 170 env SOMA_TEST_ACCELERATOR=cuda dotnet test SomaGpu.sln -c Release --no-build \
    --filter "FullyQualifiedName~Soma.Tests.Cuda." --logger "console;verbosity=normal" --logger "trx;LogFileName=cuda.trx" --results-directory "$out/tests"
  step verify 45 "${soma[@]}" verify --accelerator cuda --compare-cpu
  step kernel-timings 120 env SOMA_BDN_ACCELERATORS=cuda dotnet run -c Release --no-build --project Soma.Bench -- \
    bdn --filter '*KernelTimings*' --iterationTime 100 --artifacts "$out/bdn"
  step bench 150 dotnet run -c Release --no-build --project Soma.Bench -- --accelerator cuda --json "$out/bench.json"
  # The issue's target storage (bf16 weights, fp16 ring), when the budget leaves room.
  step bench-bf16-f16 150 dotnet run -c Release --no-build --project Soma.Bench -- --accelerator cuda --weight-type bf16 --ring-type f16 \
    --json "$out/bench-bf16-f16.json"
else
  echo "gpu-check: no CUDA device (see devices.log); the CUDA steps are skipped" >&2
  for name in tests verify kernel-timings bench bench-bf16-f16; do skip "$name" "no CUDA device"; done
fi

{
  echo "# GPU check"
  echo
  sed 's/^/- /' "$out/environment.txt"
  [ "$cuda" -eq 1 ] || echo "- **no CUDA device**: $(grep -c . "$out/devices.log" 2>/dev/null || echo 0) device line(s) in devices.log, none a usable cuda:N"
  echo
  echo "| step | result | seconds | log |"
  echo "|---|---|---:|---|"
  printf '%s\n' "${rows[@]}"
  trxs=("$out"/tests/*.trx)
  trx=${trxs[0]}
  if [ -f "$trx" ]; then
    echo
    echo "tests: $(grep -o '<Counters [^>]*>' "$trx" | head -n 1 | grep -o '\(total\|passed\|failed\)="[0-9]*"' | tr '\n' ' ')"
  fi
  if [ -s "$out/verify.log" ]; then
    echo
    echo '```'
    tail -n 15 "$out/verify.log"
    echo '```'
  fi
  reports=("$out"/bdn/results/*KernelTimings*-report-github.md)
  bdn=${reports[0]}
  if [ -f "$bdn" ]; then
    echo
    cat "$bdn"
  fi
  echo
  echo "total: $((SECONDS - start)) s of the ${budget} s budget"
} >"$summary"
cat "$summary"

if [ "$cuda" -eq 0 ]; then
  echo "error: gpu-check: no CUDA device" >&2
  exit 2
fi
[ "$failures" -eq 0 ]
