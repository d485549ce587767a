#!/usr/bin/env bash
# The consumer test (issue 16): what a user gets from npm. Packs every published package the way
# `pnpm publish` would (prepack builds each addon's prebuilt binary into prebuilds/), checks what
# each tarball holds, then installs the tarballs into scratch projects outside the workspace with
# npm and with pnpm, on a PATH with no C/C++ compiler and CXX=/bin/false, and runs a program on
# the public API and the installed `datamover` bin. Needs a built workspace (`pnpm build`) and the
# npm registry for third-party dependencies. Usage: scripts/consumer-test.sh [scratch-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PNPM=(npx --yes pnpm@10.34.9)
scratch=${1:-$(mktemp -d "${TMPDIR:-/tmp}/datamover-consumer-XXXXXX")}
mkdir -p "$scratch/tarballs"
fail() { echo "consumer test: $*" >&2; exit 1; }

# 1. Pack (the root `pack:all` script: pnpm 10's `pnpm -r pack` packs private packages too, so
# it selects packages/*, where every published package lives; the private lab and examples/ are outside).
rm -f "$scratch"/tarballs/*.tgz
"${PNPM[@]}" run pack:all --pack-destination "$scratch/tarballs" >/dev/null
tarballs=("$scratch"/tarballs/*.tgz)
# One tarball per published (non-private) package of the workspace.
published=$(node -e 'const fs = require("fs"); process.stdout.write(String(fs.readdirSync("packages").filter((d) => fs.existsSync(`packages/${d}/package.json`) && !JSON.parse(fs.readFileSync(`packages/${d}/package.json`, "utf8")).private).length))')
[ "${#tarballs[@]}" -eq "$published" ] || fail "expected $published tarballs, got ${#tarballs[@]}: $(ls "$scratch/tarballs")"

# 2. Contents: what users need and nothing else.
for t in "${tarballs[@]}"; do
  list=$(tar -tzf "$t")
  for need in package/package.json package/README.md package/LICENSE; do
    grep -qx "$need" <<<"$list" || fail "$(basename "$t") lacks ${need#package/}"
  done
  grep -q '^package/dist/' <<<"$list" || fail "$(basename "$t") has no dist/"
  if bad=$(grep -E '^package/(test|build|build-sanitize|bench|lab|node_modules|results)/|\.tsbuildinfo$' <<<"$list"); then
    fail "$(basename "$t") holds files users do not need: $(head -3 <<<"$bad" | tr '\n' ' ')"
  fi
  if grep -q '^package/binding.gyp$' <<<"$list"; then
    grep -qE '^package/prebuilds/linux-x64/datamover_[a-z]+\.node$' <<<"$list" || fail "$(basename "$t") has no prebuilt linux-x64 binary"
  fi
  node -e '
    const p = JSON.parse(require("child_process").execFileSync("tar", ["-xzOf", process.argv[1], "package/package.json"]));
    const missing = ["exports", "types", "engines", "license", "repository", "homepage", "keywords"].filter((k) => !(k in p) && !(k === "exports" || k === "types" ? p.bin : false));
    if (missing.length) { console.error(`${p.name} package.json lacks ${missing.join(", ")}`); process.exit(1); }
    if (p.private) { console.error(`${p.name} is private and must not be packed`); process.exit(1); }
    if (JSON.stringify(p).includes("workspace:")) { console.error(`${p.name} keeps a workspace: range`); process.exit(1); }
  ' "$t" || fail "package.json of $(basename "$t")"
done

# 3. A PATH without compilers or make, for installs that must not build anything.
nocc="$scratch/nocc-bin"
rm -rf "$nocc" && mkdir -p "$nocc"
for f in "$(dirname "$(command -v node)")"/* /usr/local/bin/* /usr/bin/* /bin/*; do
  name=$(basename "$f")
  case "$name" in *gcc* | *g++* | c++ | cc | c89* | c99* | cpp* | *clang* | make | gmake | ld | ld.* | as) continue ;; esac
  [ -e "$nocc/$name" ] || ln -s "$f" "$nocc/$name"
done
PATH="$nocc" command -v g++ >/dev/null && fail "g++ still on the no-compiler PATH"

# Each scratch project resolves @datamover/* to the tarballs (overrides), everything else from the registry.
project() {
  local dir=$1 tool=$2
  rm -rf "$dir" && mkdir -p "$dir"
  node -e '
    const [dir, tool, ...tgz] = process.argv.slice(1);
    const deps = Object.fromEntries(tgz.map((t) => [require("path").basename(t).replace(/^datamover-(.*)-\d+\.\d+\.\d+.*\.tgz$/, "@datamover/$1"), `file:${t}`]));
    const pkg = { name: "consumer", private: true, type: "module", dependencies: deps };
    if (tool === "npm") pkg.overrides = deps; else pkg.pnpm = { overrides: deps };
    require("fs").writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2));
  ' "$dir" "$tool" "${tarballs[@]}"
  cp "$repo/scripts/consumer-program.mjs" "$dir/program.mjs"
}

# Runs the program and the bin in $1; asserts the prebuilt binaries were used, nothing built.
check() {
  local dir=$1 label=$2
  ( cd "$dir"
    [ ! -e node_modules/@datamover/backend-soft/build ] || fail "$label: the soft addon was built from source"
    node program.mjs "$dir" >"$dir/program.json" || fail "$label: the program failed"
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      if (r.soft.engine !== "native" || r.soft.unavailable.length) throw new Error(`soft: ${JSON.stringify(r.soft)}`);
      for (const b of ["gds", "rdma"]) if (!(b in r)) throw new Error(`${b} missing`);
    ' "$dir/program.json" || fail "$label: wrong program result: $(cat "$dir/program.json")"
    ./node_modules/.bin/datamover info >"$dir/info.txt" || fail "$label: datamover info failed"
    grep -Eq '^soft +yes .*native engine' "$dir/info.txt" || fail "$label: info does not show soft's native engine: $(head -5 "$dir/info.txt")"
    grep -q "soft native addon: loaded from .*prebuilds/linux-x64/datamover_soft.node" "$dir/info.txt" || fail "$label: soft's addon is not the prebuilt one"
    head -c 3000000 /dev/urandom >in.bin
    ./node_modules/.bin/datamover copy in.bin out.bin --verify >copy.txt 2>&1 || fail "$label: datamover copy failed: $(cat copy.txt)"
    cmp -s in.bin out.bin || fail "$label: datamover copy wrote different bytes"
  )
  echo "consumer test: $label ok ($(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(`gds: ${r.gds.available?"available":r.gds.reason.slice(0,60)}; rdma: ${r.rdma.available?"available":r.rdma.reason.slice(0,60)}`)' "$dir/program.json"))"
}

# 4. npm, no compiler: the install script finds the prebuilt binary and builds nothing.
project "$scratch/npm" npm
(cd "$scratch/npm" && PATH="$nocc" CXX=/bin/false CC=/bin/false npm install --no-audit --no-fund --loglevel=error >npm-install.log 2>&1) || fail "npm install failed: $(tail -20 "$scratch/npm/npm-install.log")"
check "$scratch/npm" 'npm, no compiler'

# 5. pnpm 10, no compiler and no build-script approval (it ignores dependencies' install scripts).
project "$scratch/pnpm" pnpm
(cd "$scratch/pnpm" && PATH="$nocc" CXX=/bin/false CC=/bin/false "${PNPM[@]}" install --config.confirmModulesPurge=false >pnpm-install.log 2>&1) || fail "pnpm install failed: $(tail -20 "$scratch/pnpm/pnpm-install.log")"
check "$scratch/pnpm" 'pnpm, no compiler, no build approval'

# 6. The CLI with only core and soft installed: the other backends are "not installed".
cli="$scratch/cli-only"
rm -rf "$cli" && mkdir -p "$cli"
(cd "$cli" && npm init -y >/dev/null && PATH="$nocc" npm install --no-audit --no-fund --loglevel=error "$scratch"/tarballs/datamover-core-*.tgz "$scratch"/tarballs/datamover-backend-soft-*.tgz "$scratch"/tarballs/datamover-cli-*.tgz >npm-install.log 2>&1) || fail "cli-only install failed: $(tail -20 "$cli/npm-install.log")"
"$cli/node_modules/.bin/datamover" info >"$cli/info.txt" || fail 'cli-only: datamover info failed'
for b in sdxi cxl gds rdma; do
  grep -Eq "^$b +no .*not installed \(npm install @datamover/backend-$b\)" "$cli/info.txt" || fail "cli-only: info does not list $b as not installed"
done
echo 'consumer test: cli with only core + soft ok'

# 7. Versions and publishing: the pending changesets bump every public package to one version
# (they are linked), and a dry-run publish succeeds (its prepack already ran in step 1).
"${PNPM[@]}" exec changeset status --output="$scratch/changesets.json" >/dev/null
node -e '
  const fs = require("fs");
  const { releases } = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  // Private workspace packages (the lab, the examples) are versioned apart and never published.
  const dirs = ["lab", ...["packages", "examples"].flatMap((top) => fs.readdirSync(top).map((d) => `${top}/${d}`))];
  const priv = new Set(dirs.filter((d) => fs.existsSync(`${d}/package.json`)).map((d) => JSON.parse(fs.readFileSync(`${d}/package.json`, "utf8"))).filter((p) => p.private).map((p) => p.name));
  const versions = new Set(releases.filter((r) => !priv.has(r.name)).map((r) => r.newVersion));
  if (releases.length && versions.size !== 1) { console.error(`changesets give several versions: ${[...versions]}`); process.exit(1); }
' "$scratch/changesets.json" || fail 'changeset versions are not coherent'
"${PNPM[@]}" publish -r --filter "./packages/*" --dry-run --no-git-checks --ignore-scripts >"$scratch/publish.log" 2>&1 || fail "pnpm publish -r --dry-run failed: $(tail -20 "$scratch/publish.log")"
grep -qE '@datamover/(lab|example-)' "$scratch/publish.log" && fail 'the dry-run publish includes a private package (the lab or an example)'
echo "consumer test: all ok (scratch: $scratch)"
