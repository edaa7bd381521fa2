#!/usr/bin/env bash
# The benchmark workload natively on the CPU and on the GPU (Burn's wgpu backend), for a machine
# with a GPU where nothing is built: it needs only a dough-cli built elsewhere with
#   cargo build --profile native -p dough-cli
# (the bench uses random weights from seed 0; public/models, when it is there, adds one attack of
# mnist-mlp on both backends to compare their numbers). Prints one compact table.
#
#   bash scripts/device-bench.sh [path/to/dough-cli]     # or DOUGH_CLI=...; default target/native/dough-cli
#
# TIMEOUT (seconds per call, default 90), BUDGET (seconds in all, default 600: later calls are
# skipped), ARCHES ("mlp cnn"), BATCHES ("10 160") and ROUTINES
# (the wgpu matmul routines, default all eight) narrow it down; WGPU_ARGS is added to every wgpu
# call (e.g. "--graphics-api vulkan", so that a machine without Vulkan does not fall back to
# OpenGL). A wgpu that has no adapter is one line of the table, and the CPU rows still come.
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-${DOUGH_CLI:-target/native/dough-cli}}
TIMEOUT=${TIMEOUT:-90}
BUDGET=${BUDGET:-600}
ARCHES=${ARCHES:-mlp cnn}
BATCHES=${BATCHES:-10 160}
ROUTINES=${ROUTINES:-auto simple-unit-max simple-unit-min double-unit-max double-unit-min gemm naive cpu-gemm}
read -r -a WGPU <<<"--backend wgpu ${WGPU_ARGS:-}"

if [ ! -x "$BIN" ]; then
    echo "no dough-cli at $BIN (build it with: cargo build --profile native -p dough-cli)" >&2
    exit 2
fi
T0=$(date +%s)
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT

echo "== $("$BIN" --version 2>&1) ($BIN), $(nproc) CPUs, $(uname -sm)"
if command -v nvidia-smi >/dev/null; then
    timeout 10 nvidia-smi -L 2>&1 | sed 's/^/== /'
fi
if command -v vulkaninfo >/dev/null; then
    timeout 10 vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName' | sed 's/^ */== vulkan: /'
fi

# run LABEL ARGS...: one dough-cli call under the timeout; sets OUT (stdout) and RC, leaves
# stderr in $ERR.
run() {
    if [ $(($(date +%s) - T0)) -gt "$BUDGET" ]; then
        OUT="" RC=125
        return
    fi
    OUT=$(timeout -k 5 "$TIMEOUT" "$BIN" "$@" 2>"$ERR")
    RC=$?
}

# The reason a call failed, in one line.
why() {
    case $RC in
        124 | 137) echo "timed out after ${TIMEOUT} s" ;;
        125) echo "skipped: over the ${BUDGET} s budget" ;;
        101) echo "PANIC: $(grep -m1 -A1 panicked "$ERR" | tr '\n' ' ')" ;;
        *) grep -m1 '^error' "$ERR" || tail -n1 "$ERR" ;;
    esac
}

declare -A CPU_SUM
row() { # backend arch batch matmul
    local ms sum note=""
    ms=$(sed -nE 's/.* ([0-9.]+) ms\/step.*/\1/p' <<<"$OUT")
    sum=$(sed -nE 's/.*checksum ([-0-9.]+).*/\1/p' <<<"$OUT")
    if [ "$1" = cpu ]; then
        CPU_SUM[$2/$3]=$sum
    elif [ -n "${CPU_SUM[$2/$3]:-}" ]; then
        note=$(awk -v a="$sum" -v b="${CPU_SUM[$2/$3]}" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d > 1e-4 ? "checksum differs from the CPU" : "") }')
    fi
    printf '%-5s %-4s %5s  %-16s %10s %10s  %s\n' "$1" "$2" "$3" "$4" "$ms" "$sum" "$note"
}

echo
printf '%-5s %-4s %5s  %-16s %10s %10s  %s\n' backend arch batch matmul ms/step checksum note
for arch in $ARCHES; do
    for batch in $BATCHES; do
        run bench "$arch" --batch "$batch" --backend cpu
        if [ $RC -eq 0 ]; then row cpu "$arch" "$batch" -; else printf '%-5s %-4s %5s  %-16s  %s\n' cpu "$arch" "$batch" - "$(why)"; fi
    done
done

# One small call first: which adapter, which routine by default, or why there is none.
run bench mlp --batch 1 "${WGPU[@]}"
if [ $RC -ne 0 ]; then
    printf '%-5s %-4s %5s  %-16s  %s\n' wgpu - - - "$(why)"
else
    echo "wgpu: $(sed -n 's/^backend: //p' "$ERR")"
    for arch in $ARCHES; do
        for batch in $BATCHES; do
            for m in $ROUTINES; do
                run bench "$arch" --batch "$batch" "${WGPU[@]}" --matmul "$m"
                if [ $RC -eq 0 ]; then row wgpu "$arch" "$batch" "$m"; else printf '%-5s %-4s %5s  %-16s  %s\n' wgpu "$arch" "$batch" "$m" "$(why)"; fi
            done
        done
    done
fi

# The same attack of a shipped model on both backends: the predicted classes should agree and
# the confidences differ only in float rounding.
if [ -f public/models/manifest.json ]; then
    echo
    run attack --model mnist-mlp --backend cpu
    CPU_ATTACK=$OUT CPU_RC=$RC
    run attack --model mnist-mlp "${WGPU[@]}"
    if [ $CPU_RC -ne 0 ] || [ $RC -ne 0 ]; then
        echo "attack mnist-mlp cpu vs wgpu: not compared ($(why))"
    else
        paste <(tail -n +3 <<<"$CPU_ATTACK") <(tail -n +3 <<<"$OUT") | awk '
            { n++; if ($2 != $9) pred++; d = $3 - $10; if (d < 0) d = -d; if (d > max) max = d }
            END { printf "attack mnist-mlp cpu vs wgpu: %d targets, %d predicted classes differ, largest confidence difference %.2g\n", n, pred, max }'
        sed -n 1p <<<"$OUT"
    fi
fi
echo "== $(($(date +%s) - T0)) s in all"
