// Gives a wasm's imports (and exports) one- to three-letter names, in the wasm and in
// wasm-bindgen's glue alike: the SDK's JS package (scripts/build-js-sdk, through the command
// line below) and the dashboard's main module (scripts/split-dashboard.mjs, which imports
// `shortenGlue`).
//
// wasm-bindgen names each import after the JS function plus a 16-digit hash
// (`__wbg_warn_a1ca62ab209f532b`): 100 to 200 such names appear once in the wasm and once in
// the glue, and their hashes do not compress. wasm-opt's
// `--minify-imports-and-exports-and-modules` renames the imports and exports in the wasm
// (every import's module becomes "a"; `--minify-imports` alone leaves the imports of any
// module but `env` as they are) and prints the mapping. `shortenGlue` renames the same names
// in the glue, before esbuild, and throws rather than guess when the glue's shape or the
// wasm's imports are not what it knows.
//
//   node scripts/short-wasm-names.mjs DIR MAP   (the SDK: DIR/pulse_sdk.js,
//                                                DIR/pulse_sdk_bg.wasm, DIR/pulse_sdk_bg.wasm.d.ts)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** wasm-opt's mapping, printed as JSON with a trailing comma after the last import. */
export const readMapping = (text) =>
  JSON.parse(text.slice(text.indexOf('{')).replace(/,(\s*\])/g, '$1'));

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// Replaces every match of `pattern` (global), requiring `min` to `max` of them.
const replace = (source, pattern, to, [min, max], what) => {
  const n = (source.match(pattern) ?? []).length;
  if (n < min || n > max) throw new Error(`short-wasm-names: ${what}: ${n} in the glue, expected ${min}..${max}`);
  return source.replace(pattern, typeof to === 'function' ? to : () => to);
};

/**
 * The glue `glue` made to match `wasm` (bytes), whose names wasm-opt shortened as `mapping`
 * says. Imports of wasm-bindgen's own module are the keys of the glue's `import0` object and
 * are renamed there; those of another module (a snippet or the chunk loader, imported whole as
 * `importN`) are named in that module, so they are given under their short names as
 * `short: importN.name`.
 */
export function shortenGlue(glue, wasm, mapping) {
  const compiled = new WebAssembly.Module(wasm);
  const modules = new Map(); // module → glue variable
  for (const m of glue.matchAll(/^\s*"([^"]+)": (import\d+),$/gm)) modules.set(m[1], m[2]);
  const own = [...modules].find(([, v]) => v === 'import0');
  if (!own) throw new Error('short-wasm-names: no module given as import0 in the glue');

  const fromOthers = []; // "short: importN.name"
  for (const [module, name, short] of mapping.imports) {
    const variable = modules.get(module);
    if (!variable) throw new Error(`short-wasm-names: import module ${module} not in the glue`);
    if (variable === 'import0') {
      const key = new RegExp(`^(\\s*)${escape(name)}:`, 'gm');
      glue = replace(glue, key, (_, indent) => `${indent}${short}:`, [1, 1], name);
    } else {
      fromOthers.push(`${short}: ${variable}.${name}`);
    }
  }
  // What the wasm must now import: each short name, from the module "a".
  const want = mapping.imports.map(([, , short]) => `a ${short}`).sort();
  const have = WebAssembly.Module.imports(compiled).map((i) => `${i.module} ${i.name}`).sort();
  const odd = [...want.filter((i) => !have.includes(i)), ...have.filter((i) => !want.includes(i))];
  if (odd.length > 0 || want.length !== have.length)
    throw new Error(`short-wasm-names: the wasm's imports are not the mapping's short names: ${odd.slice(0, 5).join(', ')}`);

  const importsObject = /return \{\n\s*__proto__: null,\n(\s*"[^"]+": import\d+,\n)+\s*\};/g;
  glue = replace(glue, importsObject, `return { __proto__: null, a: Object.assign(import0, { ${fromOthers.join(', ')} }) };`, [1, 1], 'the object of imports');

  // Exports are read as `wasm.NAME` (wasm being the instance's exports). A few wasm-bindgen
  // exports that the glue never calls (an abort handler) may be absent from it; afterwards
  // every export the glue reads must be one the wasm has.
  for (const [name, short] of mapping.exports) {
    glue = replace(glue, new RegExp(`\\bwasm\\.${escape(name)}\\b`, 'g'), `wasm.${short}`, [0, 1000], name);
  }
  const exported = new Set(WebAssembly.Module.exports(compiled).map((e) => e.name));
  for (const [, name] of glue.matchAll(/\bwasm\.([\w$]+)/g)) {
    if (!exported.has(name)) throw new Error(`short-wasm-names: the glue reads wasm.${name}, which the wasm does not export`);
  }
  return glue;
}

// The SDK's package: the glue, and the declarations of the wasm's own exports (for bundlers
// that type-check the wasm import).
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, mapFile] = process.argv.slice(2);
  if (!dir || !mapFile) {
    console.error('usage: node scripts/short-wasm-names.mjs DIR MAP');
    process.exit(2);
  }
  const mapping = readMapping(readFileSync(mapFile, 'utf8'));
  const glueFile = join(dir, 'pulse_sdk.js');
  const wasm = readFileSync(join(dir, 'pulse_sdk_bg.wasm'));
  writeFileSync(glueFile, shortenGlue(readFileSync(glueFile, 'utf8'), wasm, mapping));
  const dtsFile = join(dir, 'pulse_sdk_bg.wasm.d.ts');
  let dts = readFileSync(dtsFile, 'utf8');
  for (const [name, short] of mapping.exports) {
    dts = dts.replace(new RegExp(`^export const ${escape(name)}:`, 'm'), `export const ${short}:`);
  }
  writeFileSync(dtsFile, dts);
}
