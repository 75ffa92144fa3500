# Sourced by the comm benchmark scripts (shm-bench.sh, comm-netns.sh); needs $here (the repository).
# Provenance of every call: when, which commit, which machine, the exact command (read by the report).
record_run() {  # dir command...
  local dir="$1"; shift
  {
    echo "- $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD -- lib apps bench/comm bench/comm-netns.sh 2>/dev/null || echo '+changes'): \`$*\`"
    echo "  machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(mpirun --version 2>/dev/null | head -1), kernel $(uname -r)"
  } >>"$dir/runs.md"
}
