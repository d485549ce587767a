#!/usr/bin/env bash
# The GPU run, on a machine with a GPU but without Node or this project's toolchain (the device
# tool's machine; docs/gds.md "Running the GPU checks"): GPU checks + the conformance suite
# (bench/gpu-check.mjs), then the file → gpu throughput comparison (bench/file-to-gpu.mjs).
# Reports land in $OUT (or /tmp/gds-out).
#
# Prepare on the build machine, from the repository root:
#   npx --yes pnpm@10.34.9 build
#   mkdir -p .gpu && gzip -6 -c "$(command -v node)" > .gpu/node.gz && echo /.gpu/ >> .git/info/exclude
# and run with carry = [.gpu, packages/core/dist, packages/backend-soft/dist, packages/backend-soft/build,
#   packages/backend-gds/dist, packages/backend-gds/build, packages/conformance/dist]:
#   bash packages/backend-gds/bench/device-run.sh
set -uo pipefail
cd "$(dirname "$0")/../../.."
out=${OUT:-/tmp/gds-out}
mkdir -p "$out"

node=${NODE:-}
if [ -z "$node" ]; then
  if command -v node >/dev/null; then node=$(command -v node)
  elif [ -f .gpu/node.gz ]; then gzip -d -c .gpu/node.gz > /tmp/node && chmod +x /tmp/node && node=/tmp/node
  else echo "device-run: no Node binary here: carry .gpu/node.gz (docs/gds.md)"; exit 1; fi
fi
"$node" --version

# Bare imports between the workspace packages resolve through links at the root.
mkdir -p node_modules/@datamover
for p in core backend-soft backend-gds conformance; do
  [ -e "node_modules/@datamover/$p" ] || ln -s "../../packages/$p" "node_modules/@datamover/$p"
done

# What the machine has: the GPU, nvidia-fs, cuFile (often a pip wheel: nvidia-cufile), gdsio.
nvidia-smi -L 2>&1 | head -4
if [ -e /proc/driver/nvidia-fs ] || [ -e /sys/module/nvidia_fs ]; then echo "nvidia-fs: loaded"; else echo "nvidia-fs: absent (cuFile will run in compatibility mode)"; fi
if [ -z "${DATAMOVER_GDS_LIBCUFILE:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcufile\.so'; then
  found=$(find /usr /opt -name 'libcufile.so.0' 2>/dev/null | head -1)
  if [ -n "$found" ]; then export DATAMOVER_GDS_LIBCUFILE=$found; echo "libcufile: $found"; fi
fi
if [ -z "${DATAMOVER_GDS_LIBCUDART:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcudart\.so'; then
  found=$(find /usr/local/cuda*/lib* /usr /opt -name 'libcudart.so.1[0-9]' 2>/dev/null | head -1)
  if [ -n "$found" ]; then export DATAMOVER_GDS_LIBCUDART=$found; echo "libcudart: $found"; fi
fi
# Without a system cufile.json, let cuFile fall back to compatibility mode rather than refuse,
# and keep its log out of the working tree.
if [ -z "${CUFILE_ENV_PATH_JSON:-}" ] && [ ! -f /etc/cufile.json ]; then
  printf '{ "logging": { "dir": "/tmp", "level": "ERROR" }, "properties": { "allow_compat_mode": true } }\n' > /tmp/cufile.json
  export CUFILE_ENV_PATH_JSON=/tmp/cufile.json
fi
gdsio=$(command -v gdsio || ls /usr/local/cuda*/gds/tools/gdsio 2>/dev/null | head -1 || true)
echo "gdsio: ${gdsio:-not found}"

dir=${GDS_BENCH_DIR:-/tmp}
status=0
"$node" packages/backend-gds/bench/gpu-check.mjs --out "$out" --dir "$dir" 2>&1 | tee "$out/gpu-check.log" | tail -60 || status=$?
# GDS_BENCH_ARGS: more file-to-gpu.mjs options (e.g. "--file-size 4G --sizes 16M,64M,256M,1G").
"$node" packages/backend-gds/bench/file-to-gpu.mjs --dir "$dir" --out "$out/file-to-gpu.json" ${gdsio:+--gdsio "$gdsio"} ${GDS_BENCH_ARGS:-} 2>&1 | tee "$out/file-to-gpu.log" || status=$?
exit $status
