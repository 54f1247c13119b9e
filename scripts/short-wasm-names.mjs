// Gives the JS package's wasm imports and exports one- or two-letter names, in the wasm and in
// wasm-bindgen's glue alike (`node scripts/short-wasm-names.mjs DIR MAP`, from build-js-sdk).
//
// wasm-bindgen names each import after the JS function plus a 16-digit hash
// (`__wbg_warn_a1ca62ab209f532b`), in the module "./pulse_sdk_bg.js": about 110 such names
// appear once in the wasm and once in the glue, and their hashes do not compress. wasm-opt's
// `--minify-imports-and-exports-and-modules` renames them in the wasm (every import's module
// becomes "a") and prints the mapping, MAP here; this script renames the same names in
// DIR/pulse_sdk.js (the glue, before esbuild) and DIR/pulse_sdk_bg.wasm.d.ts, and fails
// rather than guess when the glue's shape is not the one it knows.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, mapFile] = process.argv.slice(2);
const fail = (why) => {
  console.error(`short-wasm-names: ${why}`);
  process.exit(1);
};
if (!dir || !mapFile) fail('usage: short-wasm-names.mjs DIR MAP');

// wasm-opt writes the mapping as JSON with a trailing comma after the last import.
const text = readFileSync(mapFile, 'utf8');
const map = JSON.parse(text.slice(text.indexOf('{')).replace(/,(\s*\])/g, '$1'));
const shortImports = map.imports.map(([, , short]) => short);
const wasmImports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(join(dir, 'pulse_sdk_bg.wasm'))));
if (wasmImports.some((i) => i.module !== 'a') || wasmImports.map((i) => i.name).sort().join() !== shortImports.sort().join())
  fail('the wasm\'s imports are not the mapping\'s short names in the module "a"');
const glueFile = join(dir, 'pulse_sdk.js');
let glue = readFileSync(glueFile, 'utf8');

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
// Replaces every match of `pattern` (global), requiring `min` to `max` of them.
const replace = (source, pattern, to, [min, max], what) => {
  const n = (source.match(pattern) ?? []).length;
  if (n < min || n > max) fail(`${what}: ${n} occurrences in the glue, expected ${min}..${max}`);
  return source.replace(pattern, typeof to === 'function' ? to : () => to);
};

// Imports of wasm-bindgen's own module are the keys of the glue's `import0` object; those of a
// snippet (the SDK's src/js/*.js, imported whole as `importN`) are named in the module itself,
// so they are added to `import0` under their short names.
const modules = new Map(); // module → glue variable
for (const m of glue.matchAll(/^\s*"([^"]+)": (import\d+),$/gm)) modules.set(m[1], m[2]);
if (modules.get('./pulse_sdk_bg.js') !== 'import0') fail('no "./pulse_sdk_bg.js": import0 in the glue');
const fromSnippets = [];
for (const [module, name, short] of map.imports) {
  const variable = modules.get(module) ?? fail(`import module ${module} not in the glue`);
  if (variable === 'import0') {
    glue = replace(glue, new RegExp(`^(\\s*)${escape(name)}:`, 'gm'), (_, indent) => `${indent}${short}:`, [1, 1], name);
  } else {
    fromSnippets.push(`${short}: ${variable}.${name}`);
  }
}
const importsObject = /return \{\n\s*__proto__: null,\n(\s*"[^"]+": import\d+,\n)+\s*\};/;
glue = replace(
  glue,
  new RegExp(importsObject.source, 'g'),
  `return { __proto__: null, a: Object.assign(import0, { ${fromSnippets.join(', ')} }) };`,
  [1, 1],
  'the object of imports',
);

// Exports are read as `wasm.NAME` (wasm being the instance's exports). A few wasm-bindgen
// exports that the glue never calls (an abort handler) may be absent from it; afterwards every
// export the glue reads must be one of the short names.
for (const [name, short] of map.exports) {
  glue = replace(glue, new RegExp(`\\bwasm\\.${escape(name)}\\b`, 'g'), `wasm.${short}`, [0, 1000], name);
}
const shorts = new Set(map.exports.map(([, short]) => short));
for (const [, name] of glue.matchAll(/\bwasm\.([\w$]+)/g)) {
  if (!shorts.has(name)) fail(`the glue reads wasm.${name}, which the wasm does not export`);
}
writeFileSync(glueFile, glue);

// The declarations of the wasm's own exports (for bundlers that type-check the wasm import).
const dtsFile = join(dir, 'pulse_sdk_bg.wasm.d.ts');
let dts = readFileSync(dtsFile, 'utf8');
for (const [name, short] of map.exports) {
  dts = dts.replace(new RegExp(`^export const ${escape(name)}:`, 'm'), `export const ${short}:`);
}
writeFileSync(dtsFile, dts);
