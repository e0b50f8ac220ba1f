// After `vite build`: a .br and a .gz beside every text file of the console, so that
// `lambkin serve` answers each request in the encoding the browser accepts without compressing
// anything at run time (src/console/console_files.h).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const outDir = process.env.LAMBKIN_CONSOLE_OUT || new URL('../dist', import.meta.url).pathname;
const compressible = /\.(html|js|css|svg|json|txt|map|webmanifest)$/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (compressible.test(name)) yield path;
  }
}

let raw = 0, br = 0;
for (const path of files(outDir)) {
  const data = readFileSync(path);
  const b = brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  writeFileSync(`${path}.br`, b);
  writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
  raw += data.length;
  br += b.length;
}
console.log(`console: ${(raw / 1024).toFixed(0)} KiB, ${(br / 1024).toFixed(0)} KiB with brotli, in ${outDir}`);
