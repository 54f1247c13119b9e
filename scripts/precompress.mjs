// Writes `f.br` (brotli, quality 11) next to each text or wasm asset of a built dashboard:
// the server serves it as it is (tower-http's ServeDir with precompressed variants),
// compressed once at the highest level rather than per request at a fast one. No `.gz`: with
// both next to a file, ServeDir picks gzip even for a browser that takes brotli; a client
// without brotli gets gzip compressed per request. Trunk runs this after release builds
// (Trunk.toml's post_build hook).
//
//   node scripts/precompress.mjs DIR
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/precompress.mjs DIR');
  process.exit(2);
}
for (const name of readdirSync(dir)) {
  if (!/\.(wasm|js|css|html|svg|json)$/.test(name)) continue;
  const body = readFileSync(join(dir, name));
  const br = brotliCompressSync(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      [constants.BROTLI_PARAM_MODE]: name.endsWith('.wasm') ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
    },
  });
  // A variant no smaller than the file would only cost a lookup.
  if (br.length < body.length) writeFileSync(join(dir, `${name}.br`), br);
  console.log(`precompress: ${name} ${body.length} B → br ${br.length} B`);
}
