#!/usr/bin/env bash
# Builds the experiment as scripts/build-js-sdk builds the JS package (release, wasm-bindgen
# --target web, the same wasm-opt passes, short import and export names, the glue minified)
# and prints its size, gzip -9, beside the package's. Run from the repository's root:
#   bench/experiments/js-machines/measure.sh
set -euo pipefail
root=$(pwd)
here=bench/experiments/js-machines
out=${OUT:-/tmp/js-machines-pkg}
target=${CARGO_TARGET_DIR:-/tmp/js-machines-target}
cp Cargo.lock "$here/Cargo.lock"
(cd "$here" && CARGO_TARGET_DIR=$target cargo build --offline --release --target wasm32-unknown-unknown)
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name pulse_sdk "$target/wasm32-unknown-unknown/release/js_machines.wasm"
opt=(--enable-bulk-memory --enable-nontrapping-float-to-int --strip-producers --strip-target-features --low-memory-unused -Oz -Oz)
wasm-opt "${opt[@]}" -g "$out/pulse_sdk_bg.wasm" -o "$out/named.wasm"
wasm-opt "${opt[@]}" --minify-imports-and-exports-and-modules "$out/pulse_sdk_bg.wasm" -o "$out/pulse_sdk_bg.wasm" >"$out/names.json"
node scripts/short-wasm-names.mjs "$out" "$out/names.json"
esbuild "$out/pulse_sdk.js" --bundle --minify --format=esm --log-level=warning --outfile="$out/min.js"
gz() { gzip -9 -c "$1" | wc -c; }
printf 'machines only: wasm %s B raw, %s B gzip -9; glue %s B gzip -9\n' \
  "$(stat -c %s "$out/pulse_sdk_bg.wasm")" "$(gz "$out/pulse_sdk_bg.wasm")" "$(gz "$out/min.js")"
if [[ -f client-sdk/pkg/pulse_sdk_bg.wasm ]]; then
  printf 'the JS package:  wasm %s B raw, %s B gzip -9; glue %s B gzip -9\n' \
    "$(stat -c %s client-sdk/pkg/pulse_sdk_bg.wasm)" "$(gz client-sdk/pkg/pulse_sdk_bg.wasm)" "$(gz client-sdk/pkg/pulse_sdk.js)"
fi
echo "named build for twiggy: $out/named.wasm"
