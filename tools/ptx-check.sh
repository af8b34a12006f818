#!/usr/bin/env bash
# Soma's GPU code checked without a GPU (issue 13, item 5): compile every kernel to PTX with `soma ptx` (ILGPU's PTX
# backend), assemble each for sm_90 with NVIDIA's ptxas 11.8 (Debian 12's non-free nvidia-cuda-toolkit, fetched
# through a private apt configuration: /etc/apt is never touched) and record per kernel and optimisation level:
# registers, spill stores/loads, stack, shared memory, occupancy at the planned group size, the SASS load/store mix
# (cuobjdump -sass) and the PTX global/generic loads. Writes ptx-report.md and ptx-report.tsv into --out.
#
# Fails (exit 1) when any kernel spills to local memory, or a check asked for by a switch does not hold:
#   --require-vector-loads K[,K...]   each kernel K has 128-bit global loads (LDG.E.128) at the engine's level
#   --require-global-loads K[,K...]   each kernel K has no generic loads (LD, PTX ld without a state space)
#   --min-occupancy PCT K[,K...]      each kernel K reaches PCT % occupancy at --group-size (register/static-smem bound)
# K may be 'all'. Other options: --out DIR (default .out/ptx-check), --sm N (90), --levels "O1 O2" (the first is
# the one the switches check; default: the engine's level first), --group-size N (128, LaunchShapes on GPUs),
# --no-build (use the built Soma.Cli), --toolkit DIR (cache for the toolkit, default .out/nvidia; PTXAS_DIR=DIR
# with ptxas and cuobjdump skips the download). Exit 2: bad arguments or the toolkit or build could not be had.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

out=.out/ptx-check
sm=90
levels=""
group=128
build=1
toolkit=.out/nvidia
require_vector=""
require_global=""
min_occ=""
min_occ_kernels=""

usage() { echo "usage: tools/ptx-check.sh [--out DIR] [--sm N] [--levels 'O1 O2'] [--group-size N] [--no-build] [--toolkit DIR] [--require-vector-loads K,..] [--require-global-loads K,..] [--min-occupancy PCT K,..]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?}; shift 2 ;;
    --sm) sm=${2:?}; shift 2 ;;
    --levels) levels=${2:?}; shift 2 ;;
    --group-size) group=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    --toolkit) toolkit=${2:?}; shift 2 ;;
    --require-vector-loads) require_vector=${2:?}; shift 2 ;;
    --require-global-loads) require_global=${2:?}; shift 2 ;;
    --min-occupancy) min_occ=${2:?}; min_occ_kernels=${3:?}; shift 3 ;;
    -h|--help) usage ;;
    *) echo "error: unknown argument '$1'" >&2; usage ;;
  esac
done

# --- NVIDIA's assembler: ptxas and cuobjdump from Debian 12's nvidia-cuda-toolkit (11.8) ---------------------------
fetch_toolkit() {
  local dir=$1 apt="$1/apt"
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/deb"
  cat >"$apt/sources.list.d/debian-non-free.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$PWD/$apt/sources.list.d"
    -o "Dir::State::Lists=$PWD/$apt/lists" -o "Dir::Cache=$PWD/$apt/cache" -o "Debug::NoLocking=1")
  [ "$(id -u)" -eq 0 ] && opts+=(-o "APT::Sandbox::User=root")
  echo "ptx-check: fetching nvidia-cuda-toolkit (Debian bookworm non-free, ~84 MB) into $dir" >&2
  apt-get -q "${opts[@]}" update >&2 || return 1
  (cd "$dir/deb" && apt-get -q "${opts[@]}" download nvidia-cuda-toolkit >&2) || return 1
  local debs=("$dir"/deb/nvidia-cuda-toolkit_*.deb)
  local deb=${debs[0]}
  [ -f "$deb" ] && dpkg -x "$deb" "$dir/x" && rm -f "$deb" # only ptxas and cuobjdump are used
}

if [ -n "${PTXAS_DIR:-}" ]; then
  bin=$PTXAS_DIR
else
  bin="$toolkit/x/usr/bin"
  if [ ! -x "$bin/ptxas" ] || [ ! -x "$bin/cuobjdump" ]; then
    fetch_toolkit "$toolkit" || { echo "error: ptx-check: could not fetch nvidia-cuda-toolkit (network, or apt-get/dpkg missing?)" >&2; exit 2; }
  fi
fi
if [ ! -x "$bin/ptxas" ] || [ ! -x "$bin/cuobjdump" ]; then
  echo "error: ptx-check: no ptxas and cuobjdump in $bin" >&2
  exit 2
fi
ptxas_version=$("$bin/ptxas" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')

# --- soma ptx ------------------------------------------------------------------------------------------------------
if [ "$build" -eq 1 ]; then
  dotnet build Soma.Cli -c Release -v q -nologo >&2 || { echo "error: ptx-check: dotnet build Soma.Cli failed" >&2; exit 2; }
fi
soma=(dotnet Soma.Cli/bin/Release/net10.0/Soma.Cli.dll)
rm -rf "$out" && mkdir -p "$out"
engine_level=$("${soma[@]}" ptx --help | sed -n 's/.*the engine.s, \(O[0-9]\)).*/\1/p')
[ -n "$levels" ] || levels="$engine_level $( [ "$engine_level" = O2 ] && echo O1 || echo O2 )"
check_level=${levels%% *}

tsv="$out/ptx-report.tsv"
printf 'level\tkernel\tregisters\tstack_bytes\tspill_store_bytes\tspill_load_bytes\tstatic_smem_bytes\toccupancy_pct\tsass_ldg128\tsass_ldg64\tsass_ldg32\tsass_ld_generic\tsass_lds\tsass_sts\tsass_stg\tsass_st_generic\tsass_local\tptx_ld_global\tptx_ld_global_v4\tptx_ld_generic\n' >"$tsv"

for level in $levels; do
  dir="$out/$level"
  if ! "${soma[@]}" ptx --out "$dir/ptx" --sm "$sm" --optimization "$level" >"$dir.soma.log" 2>&1; then
    cat "$dir.soma.log" >&2
    echo "error: ptx-check: soma ptx --optimization $level failed" >&2
    exit 2
  fi

  for ptx in "$dir"/ptx/*.ptx; do
    name=$(basename "$ptx" .ptx)
    # ptxas 11.8 reads PTX ISA up to 7.8; ILGPU writes the newest it knows. The kernels use nothing newer.
    sed -E 's/^\.version [0-9]+\.[0-9]+/.version 7.8/' "$ptx" >"$dir/$name.78.ptx"
    if ! "$bin/ptxas" -v -arch="sm_$sm" -o "$dir/$name.cubin" "$dir/$name.78.ptx" >"$dir/$name.ptxas.txt" 2>&1; then
      cat "$dir/$name.ptxas.txt" >&2
      echo "error: ptx-check: ptxas rejected $level/$name.ptx" >&2
      exit 1
    fi
    "$bin/cuobjdump" -sass "$dir/$name.cubin" >"$dir/$name.sass" 2>&1 || { echo "error: ptx-check: cuobjdump failed on $name" >&2; exit 2; }

    awk -v level="$level" -v name="$name" -v group="$group" -v sassfile="$dir/$name.sass" -v ptxfile="$ptx" '
      /bytes stack frame/ { stack=$1; spill_st=$5; spill_ld=$9 }
      /Used [0-9]+ registers/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "registers,"  || $(i+1) == "registers") regs=$i; if ($(i+1) == "bytes" && $(i+2) ~ /^smem/) smem=$i } }
      END {
        while ((getline line < sassfile) > 0) {
          if (line !~ /\/\*[0-9a-f]+\*\/ /) continue
          sub(/.*\/\*[0-9a-f]+\*\/ +/, "", line); sub(/^@!?U?P[0-9T] +/, "", line)
          split(line, f, /[ ;]/); op=f[1]
          if (op ~ /^LDG(\.|$)/) { if (op ~ /\.128/) ldg128++; else if (op ~ /\.64/) ldg64++; else ldg32++ }
          else if (op ~ /^LD(\.|$)/) ldgen++
          else if (op ~ /^LDS(\.|$)/) lds++
          else if (op ~ /^STS(\.|$)/) sts++
          else if (op ~ /^STG(\.|$)/) stg++
          else if (op ~ /^ST(\.|$)/) stgen++
          else if (op ~ /^(LDL|STL)(\.|$)/) local++
        }
        while ((getline line < ptxfile) > 0) {
          if (line ~ /^[ \t]*(@%p[0-9]+[ \t]+)?ld\.global\./) { pglob++; if (line ~ /\.v4\./) pv4++ }
          else if (line ~ /^[ \t]*(@%p[0-9]+[ \t]+)?ld\.(u|s|b|f)[0-9]/) pgen++
        }
        # Occupancy on sm_90 (64K registers, 64 warps, 32 groups, 228 KB shared per SM, 1 KB reserved per group),
        # registers allocated per warp in units of 256; dynamic shared memory (set at launch) is not counted.
        warps = int((group + 31) / 32); per_warp = int((regs * 32 + 255) / 256) * 256
        by_regs = per_warp > 0 ? int(int(65536 / per_warp) / warps) : 32
        by_smem = int(233472 / ((smem + 0) + 1024)); by_warps = int(64 / warps)
        groups = by_regs; if (by_smem < groups) groups = by_smem; if (by_warps < groups) groups = by_warps; if (groups > 32) groups = 32
        occ = int(100 * groups * warps / 64 + 0.5)
        printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", level, name, regs, stack, spill_st, spill_ld, smem, occ,
          ldg128, ldg64, ldg32, ldgen, lds, sts, stg, stgen, local, pglob, pv4, pgen
      }' "$dir/$name.ptxas.txt" >>"$tsv"
  done
done

# --- report and checks ---------------------------------------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
md="$out/ptx-report.md"
{
  echo "PTX/SASS report: \`tools/ptx-check.sh\` at commit $commit; ILGPU PTX for sm_$sm, assembled by ptxas $ptxas_version"
  echo "for sm_$sm (\`-v\`), SASS from \`cuobjdump -sass\`; occupancy at $group threads per group (registers and static shared"
  echo "memory only). Facts about the compiled code, not timings. SASS columns count instructions: LDG.128/64/32 global"
  echo "loads by width, LD and ST generic (address space unknown to the compiler), LDS/STS shared, STG global stores,"
  echo "local = LDL+STL. PTX columns: ld.global, of which .v4, and generic ld."
  for level in $levels; do
    echo
    echo "**$level**$( [ "$level" = "$engine_level" ] && echo " (the engine's level)")"
    echo
    echo "| kernel | regs | spill st/ld B | smem B | occ. % | LDG.128 | LDG.64 | LDG.32 | LD gen. | LDS | STS | STG | ST gen. | local | PTX ld.global (v4) | PTX ld gen. |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v level="$level" 'NR > 1 && $1 == level {
      printf "| %s | %s | %s/%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s |\n",
        $2, $3, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20 }' "$tsv"
  done
} >"$md"

failures=0
fail() { echo "FAIL: $*" >&2; echo "- FAIL: $*" >>"$md"; failures=$((failures + 1)); }
selected() { [ "$1" = all ] || [[ ",$1," == *",$2,"* ]]; }
echo >>"$md"
while IFS=$'\t' read -r level name regs _ sst sld _ occ l128 _ _ lgen _ _ _ _ local _ _ pgen; do
  [ "$level" = level ] && continue
  if [ "$sst" -gt 0 ] || [ "$sld" -gt 0 ] || [ "$local" -gt 0 ]; then
    fail "$level/$name spills to local memory ($sst B stored, $sld B loaded, $local LDL/STL)"
  fi
  [ "$level" = "$check_level" ] || continue
  if [ -n "$require_vector" ] && selected "$require_vector" "$name" && [ "$l128" -eq 0 ]; then
    fail "$level/$name has no 128-bit global loads (LDG.E.128)"
  fi
  if [ -n "$require_global" ] && selected "$require_global" "$name" && { [ "$lgen" -gt 0 ] || [ "$pgen" -gt 0 ]; }; then
    fail "$level/$name has generic loads ($lgen LD in SASS, $pgen ld in PTX)"
  fi
  if [ -n "$min_occ" ] && selected "$min_occ_kernels" "$name" && [ "$occ" -lt "$min_occ" ]; then
    fail "$level/$name occupancy $occ % < $min_occ % at $group threads per group ($regs registers)"
  fi
done <"$tsv"

cat "$md"
if [ "$failures" -gt 0 ]; then
  echo "ptx-check: $failures check(s) failed; report in $md" >&2
  exit 1
fi
echo "ptx-check: no spills in $(($(wc -l <"$tsv") - 1)) kernel builds; report in $md"
