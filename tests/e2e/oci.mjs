// OCI peers for the end-to-end suite: Debian's docker-registry (plain or behind a bearer-token
// server of our own), OCI image layouts written by hand (tar + gzip + JSON, images.md §4.3),
// skopeo to move them, and a loopback HTTP proxy that can lie about or slow down what a
// registry serves.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './helpers.mjs';

export const run = promisify(execFile);

export const mediaTypes = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};
export const hostArch = process.arch === 'arm64' ? 'arm64' : 'amd64';

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

// A TCP port free on loopback right now.
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// A self-signed P-256 certificate and its key (PEM), for a token server's JWTs.
export function tokenCertificate(dir) {
  const key = path.join(dir, 'token.key');
  const crt = path.join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=lambkin-token'], { stdio: 'ignore' });
  return { keyFile: key, certFile: crt, key: readFileSync(key, 'utf8'), cert: readFileSync(crt, 'utf8') };
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A bearer-token server (distribution's token.md + jwt.md): GET /token?service=&scope= with
// Basic credentials. `users` maps a user name to { password, grant(repository) -> actions }.
// No or wrong credentials: 401. A scope the user may not have: granted with no actions (a
// partial grant is not an error, token.md), so the registry itself denies.
export async function startTokenServer({ cert, key, users, service = 'lambkin-test-registry', issuer = 'lambkin-test-issuer' }) {
  const der = Buffer.from(cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = createPrivateKey(key);
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const auth = req.headers.authorization ?? '';
    requests.push({ url: req.url, user: auth ? Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':')[0] : null });
    const [user, password] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(/:(.*)/s) : [];
    if (url.pathname !== '/token') { res.writeHead(404).end(); return; }
    if (!user || users[user]?.password !== password) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="lambkin-test-token"' });
      res.end('{"details":"incorrect username or password"}');
      return;
    }
    const access = url.searchParams.getAll('scope').map((s) => {
      const [type, name, actions = ''] = s.split(':');
      const allowed = users[user].grant(name);
      return { type, name, actions: actions.split(',').filter((a) => allowed.includes(a)) };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c: [der.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: user, aud: url.searchParams.get('service') ?? service,
      exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const token = `${header}.${claims}.${b64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  const realm = `http://127.0.0.1:${server.address().port}/token`;
  return { realm, service, issuer, requests, close: () => server.close() };
}

// Debian's docker-registry on a free loopback port (REGISTRY_HTTP_ADDR), storage in `dir`;
// with `token` ({realm, service, issuer, certFile}) it wants bearer tokens. Resolves once /v2/
// answers.
export async function startRegistry(dir, { token } = {}) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const auth = token ? `auth:\n  token:\n    realm: ${token.realm}\n    service: ${token.service}\n    issuer: ${token.issuer}\n    rootcertbundle: ${token.certFile}\n` : '';
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:5000\n  secret: lambkin-e2e\n${auth}`);
  const child = spawn('/usr/bin/docker-registry', ['serve', config], {
    stdio: 'ignore', env: { ...process.env, REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` } });
  children.add(child);
  child.unref();
  const host = `127.0.0.1:${port}`;
  await waitFor(`docker-registry on ${host}`, async () => {
    try {
      const res = await fetch(`http://${host}/v2/`);
      return res.status === 200 || res.status === 401;
    } catch { return false; }
  }, 20000, 50);
  return { host, port, child, stop: () => { child.kill(); children.delete(child); } };
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// An OCI image layout in `dir` written by hand (or one skopeo/umoci made, opened again).
export class Layout {
  constructor(dir) {
    this.dir = dir;
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    if (!existsSync(path.join(dir, 'oci-layout'))) writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    if (!existsSync(path.join(dir, 'index.json'))) writeFileSync(path.join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
  }

  // Stores `bytes` (a Buffer or a JSON value); its descriptor.
  put(bytes, mediaType) {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(typeof bytes === 'string' ? bytes : JSON.stringify(bytes));
    const hex = sha256(buf);
    writeFileSync(path.join(this.dir, 'blobs', 'sha256', hex), buf);
    return { mediaType, digest: `sha256:${hex}`, size: buf.length };
  }

  blob(digest) { return readFileSync(path.join(this.dir, 'blobs', 'sha256', digest.replace('sha256:', ''))); }
  json(digest) { return JSON.parse(this.blob(digest)); }

  // A layer from an uncompressed tar: { descriptor, diffId }.
  layer(tar, compression = 'gzip') {
    const diffId = `sha256:${sha256(tar)}`;
    if (compression === 'none') return { descriptor: this.put(tar, mediaTypes.tar), diffId };
    const packed = compression === 'zstd'
      ? execFileSync('zstd', ['-q', '-c'], { input: tar, maxBuffer: 1 << 30 })
      : execFileSync('gzip', ['-n', '-c'], { input: tar, maxBuffer: 1 << 30 });
    return { descriptor: this.put(packed, mediaTypes[compression]), diffId };
  }

  // A manifest for `config` (an object; rootfs is filled in from `layers`) and `layers`
  // ({descriptor, diffId}); `base` layers ({descriptor, diffId}) come first. Its descriptor.
  image({ config, layers, base = [], annotations, configMediaType = mediaTypes.config }) {
    const all = [...base, ...layers];
    const cfg = this.put({ ...config, rootfs: { type: 'layers', diff_ids: all.map((l) => l.diffId) } }, configMediaType);
    const manifest = { schemaVersion: 2, mediaType: mediaTypes.manifest, config: cfg, layers: all.map((l) => l.descriptor) };
    if (annotations) manifest.annotations = annotations;
    return this.put(manifest, mediaTypes.manifest);
  }

  // The layers of an image already in the layout: [{descriptor, diffId}] and its config.
  read(ref) {
    const desc = this.resolve(ref);
    const manifest = this.json(desc.digest);
    const config = this.json(manifest.config.digest);
    return { desc, manifest, config,
      layers: manifest.layers.map((d, i) => ({ descriptor: d, diffId: config.rootfs.diff_ids[i] })) };
  }

  resolve(ref) {
    const index = JSON.parse(readFileSync(path.join(this.dir, 'index.json'), 'utf8'));
    const m = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref);
    assert.ok(m, `no ${ref} in ${this.dir}`);
    return m;
  }

  // Names `descriptor` `ref` in index.json (replacing an earlier one of that name).
  tag(ref, descriptor) {
    const file = path.join(this.dir, 'index.json');
    const index = JSON.parse(readFileSync(file, 'utf8'));
    index.manifests = index.manifests.filter((d) => d.annotations?.['org.opencontainers.image.ref.name'] !== ref);
    index.manifests.push({ ...descriptor, annotations: { 'org.opencontainers.image.ref.name': ref } });
    writeFileSync(file, JSON.stringify(index));
    return `oci:${this.dir}:${ref}`;
  }
}

// An uncompressed tar of `files` (path -> string | Buffer | {data, mode} | {dir: true} |
// {symlink}), entries in the order given (parents are not added implicitly), owned by root,
// mtime 0.
export function tarOf(files) {
  const root = mkdtempSync(path.join(tmpdir(), 'lambkin-tar-'));
  const names = [];
  for (const [name, spec] of Object.entries(files)) {
    const full = path.join(root, name);
    mkdirSync(path.dirname(full), { recursive: true });
    if (spec?.dir) mkdirSync(full, { recursive: true });
    else if (spec?.symlink) execFileSync('ln', ['-s', spec.symlink, full]);
    else {
      const data = typeof spec === 'string' || Buffer.isBuffer(spec) ? spec : spec.data;
      writeFileSync(full, data, { mode: spec?.mode ?? 0o644 });
      execFileSync('chmod', [(spec?.mode ?? 0o644).toString(8), full]);
    }
    names.push(name);
  }
  const tar = execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--no-recursion',
    '-C', root, '-cf', '-', ...names], { maxBuffer: 1 << 30 });
  rmSync(root, { recursive: true, force: true });
  return tar;
}

// A tar of every file under `dir` (sorted, root-owned).
export function tarOfDir(dir) {
  return execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0',
    '-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
}

// skopeo copy between transports; plain HTTP to registries, no policy file needed.
export async function skopeoCopy(from, to, extra = []) {
  for (let i = 0; ; i++) {
    try {
      return await run('skopeo', ['copy', '--insecure-policy', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, from, to],
        { maxBuffer: 1 << 26 });
    } catch (e) {
      if (i >= 3 || !/connection refused|EOF|reset/i.test(e.stderr)) throw new Error(`skopeo copy ${from} ${to}: ${e.stderr}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

// The manifest digest a registry serves for `ref` (host/name:tag), asked with skopeo.
export async function remoteDigest(ref, creds) {
  const args = ['inspect', '--raw', '--tls-verify=false', ...(creds ? [`--creds=${creds}`] : []), `docker://${ref}`];
  const { stdout } = await run('skopeo', args, { maxBuffer: 1 << 26 });
  return `sha256:${sha256(Buffer.from(stdout))}`;
}

// A loopback HTTP proxy in front of `target` (host:port). `rewrite(req, body)` may return other
// bytes for a response (headers kept, Content-Length fixed); `bytesPerSecond` slows bodies down.
// `served` counts body bytes sent.
export async function startProxy(target, { rewrite, bytesPerSecond } = {}) {
  const state = { served: 0, rewrite, bytesPerSecond, requests: [] };
  const server = http.createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    const up = http.request({ host: target.split(':')[0], port: Number(target.split(':')[1]), method: req.method,
      path: req.url, headers: { ...req.headers, host: target } }, async (upRes) => {
      const headers = { ...upRes.headers };
      // Redirects and challenges name the registry itself; keep clients on the proxy.
      if (headers.location) headers.location = headers.location.replace(target, req.headers.host);
      const chunks = [];
      for await (const c of upRes) chunks.push(c);
      let body = Buffer.concat(chunks);
      const changed = state.rewrite?.(req, body, upRes);
      if (changed) { body = changed; headers['content-length'] = String(body.length); }
      res.writeHead(upRes.statusCode, headers);
      if (!state.bytesPerSecond || req.method === 'HEAD') { state.served += body.length; res.end(req.method === 'HEAD' ? undefined : body); return; }
      const step = Math.max(1024, Math.floor(state.bytesPerSecond / 20));
      for (let off = 0; off < body.length; off += step) {
        if (res.destroyed) return;
        res.write(body.subarray(off, off + step));
        state.served += Math.min(step, body.length - off);
        await new Promise((r) => setTimeout(r, 50));
      }
      res.end();
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return Object.assign(state, { host: `127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); server.close(); } });
}

// Copies a layout directory (for umoci, which edits in place).
export function copyLayout(from, to) {
  cpSync(from, to, { recursive: true });
  return new Layout(to);
}

// The host's binaries (and the libraries ldd names) a from-scratch image needs for AWS's
// tutorial bootstrap: a shell, curl and a few coreutils.
export function stageUserland(dir) {
  const bins = { '/bin/sh': '/usr/bin/bash', '/usr/bin/curl': '/usr/bin/curl' };
  for (const b of ['mktemp', 'grep', 'tr', 'cut', 'cat', 'rm', 'sleep']) bins[`/usr/bin/${b}`] = execFileSync('sh', ['-c', `command -v ${b}`]).toString().trim();
  const libs = new Set();
  for (const src of Object.values(bins)) {
    for (const line of execFileSync('ldd', [src]).toString().split('\n')) {
      const m = line.match(/(\/\S+) \(0x/);
      if (m) libs.add(m[1]);
    }
  }
  const copy = (src, dest) => {
    mkdirSync(path.dirname(path.join(dir, dest)), { recursive: true });
    cpSync(src, path.join(dir, dest), { dereference: true });
  };
  for (const [dest, src] of Object.entries(bins)) copy(src, dest);
  for (const lib of libs) copy(lib, lib);
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  mkdirSync(path.join(dir, 'var', 'task'), { recursive: true });
}
