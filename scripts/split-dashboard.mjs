// Cuts the dashboard's wasm into the module every visit loads and chunks loaded on demand
// (the pages behind `#[lazy]` in dashboard/src/lib.rs), in place of the single module trunk
// staged. Trunk runs this as a post_build hook, before scripts/precompress.mjs.
//
// Trunk cannot split: it runs wasm-bindgen on cargo's output as it is. So this takes cargo's
// output again (built with the `split` feature, which keeps the linker's relocations, see
// dashboard/build.rs), and does what trunk did, with the split in front:
//   wasm-split-cli → wasm-bindgen (--keep-lld-exports: the chunks import what the main module
//   exports) → wasm-opt for each module and esbuild for the scripts (release) → the staged
//   files replaced, under the same names, and their integrity hashes in index.html updated.
// The chunks and their loader get trunk's content hash in their names, so the server and the
// service worker treat them as the immutable assets they are.
//
//   node scripts/split-dashboard.mjs STAGING_DIR PROFILE     (PROFILE: release or debug)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMapping, shortenGlue } from './short-wasm-names.mjs';

const [staging, profile] = process.argv.slice(2);
if (!staging || !['release', 'debug'].includes(profile)) {
  console.error('usage: node scripts/split-dashboard.mjs STAGING_DIR release|debug');
  process.exit(2);
}
// wasm-opt for a release build. -Oz, plus: the low 1 KB of memory is never used by Rust's
// output (the stack starts at 1 MB and grows down; data comes after it), which lets wasm-opt
// fold address offsets; the producers and target-features sections are metadata no browser
// reads. The features are named: a chunk carries no target-features section to read them from.
const WASM_OPT = [
  '-Oz', '--low-memory-unused', '--strip-producers', '--strip-target-features',
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
];

const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
// A release ships its scripts minified: wasm-bindgen's glue and the chunk loader (modules), and
// boot.js and sw.js (classic scripts, whose top-level names esbuild keeps), all written for
// reading. Trunk's own minifier cannot parse the glue.
const minify = (file, module) => {
  if (profile !== 'release') return;
  const format = module ? ['--format=esm'] : [];
  run('esbuild', [file, '--minify', ...format, '--log-level=warning', '--allow-overwrite', `--outfile=${file}`]);
};
const sri = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;

// trunk writes its content hash, a u64, in hex without leading zeros: 16 digits or fewer.
const staged = readdirSync(staging).find((f) => /^pulse-dashboard-[0-9a-f]{12,16}_bg\.wasm$/.test(f));
if (!staged) throw new Error(`split-dashboard: no pulse-dashboard-HASH_bg.wasm in ${staging}`);
const stem = staged.slice(0, -'_bg.wasm'.length);
const hash = stem.slice('pulse-dashboard-'.length);

const target = JSON.parse(run('cargo', ['metadata', '--format-version', '1', '--no-deps', '--offline'])).target_directory;
const input = join(target, 'wasm32-unknown-unknown', profile, 'pulse-dashboard.wasm');

const work = mkdtempSync(join(tmpdir(), 'pulse-split-'));
try {
  const split = join(work, 'split');
  const bound = join(work, 'bound');
  run('wasm-split-cli', [input, split, '--out-name', stem]);
  run('wasm-bindgen', ['--target=web', '--keep-lld-exports', '--no-demangle', '--no-typescript',
    `--out-name=${stem}`, `--out-dir=${bound}`, join(split, `${stem}.wasm`)]);

  // Chunk names: wasm-split's (a page's own code `split_NAME`, code pages share `chunk_N`),
  // plus trunk's content hash: `split_deliveries` → `pulse-dashboard-deliveries-HASH`.
  const renamed = new Map();
  for (const f of readdirSync(split)) {
    if (!f.endsWith('.wasm') || f === `${stem}.wasm`) continue;
    const base = f.slice(0, -'.wasm'.length).replace(/^split_(.+?)(?:_\d+)?$/, '$1');
    renamed.set(f, `pulse-dashboard-${base}-${hash}.wasm`);
  }
  const loader = `pulse-dashboard-split-${hash}.js`;
  if (new Set(renamed.values()).size !== renamed.size) throw new Error('split-dashboard: two chunks got one name');

  // The main module's imports and exports get short names (release): wasm-bindgen's carry a
  // 16-digit hash each, in the wasm and in the glue (scripts/short-wasm-names.mjs), and the
  // chunk loader reads three exports by name. (wasm-opt shortens the imports of a module other
  // than "env" only with the modules and the exports.)
  const main = `${stem}_bg.wasm`;
  let mapping;
  if (profile === 'release') {
    const minify = '--minify-imports-and-exports-and-modules';
    mapping = readMapping(run('wasm-opt', [...WASM_OPT, minify, join(bound, main), '-o', join(staging, main)]));
  } else {
    copyFileSync(join(bound, main), join(staging, main));
  }
  for (const [from, to] of renamed) {
    if (profile === 'release') run('wasm-opt', [...WASM_OPT, join(split, from), '-o', join(staging, to)]);
    else copyFileSync(join(split, from), join(staging, to));
  }

  let loaderJs = readFileSync(join(split, '__wasm_split.js'), 'utf8');
  for (const [from, to] of renamed) {
    const quoted = `"./${from}"`;
    if (!loaderJs.includes(quoted)) throw new Error(`split-dashboard: the loader does not name ${from}`);
    loaderJs = loaderJs.replaceAll(quoted, `"./${to}"`);
  }
  if (mapping) {
    // `const { __indirect_function_table, … } = initSync(…)`: the exports the chunks import.
    const shortName = new Map(mapping.exports);
    const shared = /const \{ ([\w, ]+) \} = initSync\(/;
    const names = loaderJs.match(shared)?.[1].split(',').map((n) => n.trim()).filter(Boolean);
    if (!names || names.some((n) => !shortName.has(n))) throw new Error('split-dashboard: the loader\'s shared exports changed');
    loaderJs = loaderJs.replace(shared, () => `const { ${names.map((n) => `${shortName.get(n)}: ${n}`).join(', ')} } = initSync(`);
  }
  writeFileSync(join(staging, loader), loaderJs);
  minify(join(staging, loader), true);

  let glue = readFileSync(join(bound, `${stem}.js`), 'utf8');
  if (mapping) glue = shortenGlue(glue, readFileSync(join(staging, main)), mapping);
  // The import statements only: the wasm's own imports keep the module name it was built with.
  const from = 'from "./__wasm_split.js"';
  if (!glue.includes(from)) throw new Error('split-dashboard: the glue does not import the loader');
  const oldGlue = readFileSync(join(staging, `${stem}.js`));
  const oldWasm = readFileSync(join(staging, staged));
  writeFileSync(join(staging, `${stem}.js`), glue.replaceAll(from, `from "./${loader}"`));
  minify(join(staging, `${stem}.js`), true);
  for (const classic of ['boot.js', 'sw.js']) minify(join(staging, classic), false);

  // Trunk wrote the integrity of the files it staged; the page must name the ones it gets.
  const page = join(staging, 'index.html');
  let html = readFileSync(page, 'utf8');
  for (const [old, file] of [[oldGlue, `${stem}.js`], [oldWasm, staged]]) {
    const before = sri(old);
    if (!html.includes(before)) continue; // integrity off
    html = html.replaceAll(before, sri(readFileSync(join(staging, file))));
  }
  // The glue imports the loader before anything runs: fetched beside the glue, not after it.
  if (!html.includes('</head>')) throw new Error('split-dashboard: no </head> in index.html');
  html = html.replace('</head>', `<link href=/${loader} rel=modulepreload></head>`);
  writeFileSync(page, html);

  for (const f of [staged, ...renamed.values()]) {
    const bytes = readFileSync(join(staging, f)).length;
    console.log(`split-dashboard: ${f} ${bytes} B`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
