// What the browser benchmarks (first-load.mjs, js-event-cost.mjs) share to write their section
// of bench/RESULTS.md: where the figures came from, and replacing one section in place.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { relative } from 'node:path';
import { ROOT } from '../e2e/harness.mjs';

/** Output of a git command in the repository, or `?` (e.g. outside a checkout). */
export const git = (c) => {
  try {
    return execSync(c, { cwd: ROOT }).toString().trim();
  } catch {
    return '?';
  }
};

/** `YYYY-MM-DD HH:MM` in UTC. */
export const utc = (date = new Date()) => date.toISOString().slice(0, 16).replace('T', ' ');

/** The commit measured, marked when the tree had changes. */
export const commit = () =>
  `${git('git rev-parse --short HEAD')}${git('git status --porcelain') ? ' (with uncommitted changes)' : ''}`;

/** How this script was run, as a section says. */
export const invocation = () =>
  `node ${relative(ROOT, process.argv[1])} ${process.argv.slice(2).join(' ')}`.trim();

/** A section being written: `print` shows a line and keeps it in `lines` for `writeSection`. */
export function section() {
  const lines = [];
  const print = (line = '') => {
    console.log(line);
    lines.push(line);
  };
  return { lines, print };
}

/** This machine, as the sections name it. */
export const machine = () => `${cpus().length} cores, ${cpus()[0].model}`;

/**
 * Writes `lines` over the section of `file` that starts with `lines[0]` (a `## ` heading) and
 * runs to the next `## ` heading; appends it when there is none. The rest is kept.
 */
export function writeSection(file, lines) {
  const section = lines.join('\n');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = text.indexOf(lines[0]);
  let next;
  if (at >= 0) {
    const rest = text.indexOf('\n## ', at + 1);
    next = text.slice(0, at) + section + (rest >= 0 ? '\n' + text.slice(rest + 1) : '\n');
  } else {
    next = text.trimEnd() + '\n\n' + section + '\n';
  }
  writeFileSync(file, next);
  console.error(`written to ${file}`);
}
