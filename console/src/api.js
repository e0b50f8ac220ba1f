// Every call the console makes: the AWS SDK for JavaScript v3's browser clients for Lambda,
// CloudWatch Logs and CloudWatch, and Lambkin's operator API (/lambkin/v1/, service `lambkin`)
// signed the same way with the SDK's SigV4 signer. All go to the origin that served the page;
// the secret key stays in this tab's sessionStorage and is only ever used to sign.
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const KEY = 'lambkin.console.session';

export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && s.accessKeyId && s.secretAccessKey && s.region ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

function credentialsOf(s) {
  return {
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    ...(s.sessionToken ? { sessionToken: s.sessionToken } : {}),
  };
}

function clientConfig(s, region) {
  return {
    endpoint: location.origin,
    region: region || s.region,
    credentials: credentialsOf(s),
    maxAttempts: 1,
  };
}

const cache = new Map();
// One client per kind and region for the session.
function client(kind, Ctor, s, region) {
  const key = `${kind}|${region || s.region}|${s.accessKeyId}`;
  if (!cache.has(key)) cache.set(key, new Ctor(clientConfig(s, region)));
  return cache.get(key);
}

export const lambda = (s, region) => client('lambda', LambdaClient, s, region);

// Loaded when a page needs them, so the function list does not ship them.
export async function logs(s, region) {
  const { CloudWatchLogsClient } = await import('@aws-sdk/client-cloudwatch-logs');
  return client('logs', CloudWatchLogsClient, s, region);
}
export async function cloudwatch(s, region) {
  const { CloudWatchClient } = await import('@aws-sdk/client-cloudwatch');
  return client('cloudwatch', CloudWatchClient, s, region);
}

// An error the way AWS names it: "AccessDeniedException: User: … is not authorized …".
export class ApiError extends Error {
  constructor(name, message, status) {
    super(message);
    this.name = name;
    this.status = status;
  }
}

export function describeError(e) {
  if (!e) return 'Unknown error';
  const name = e.name && e.name !== 'Error' ? e.name : '';
  const message = e.message || String(e);
  return name ? `${name}: ${message}` : message;
}

export const isDenied = (e) => e?.name === 'AccessDeniedException' || e?.status === 403 ||
  e?.$metadata?.httpStatusCode === 403;

// A signed call to the operator API: `path` below /lambkin/v1/, `query` an object.
export async function operator(s, method, path, { query = {}, body, region, raw: asText = false } = {}) {
  const url = new URL(`/lambkin/v1/${path}`, location.origin);
  const q = {};
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q[k] = String(v);
  }
  const text = body === undefined ? undefined : JSON.stringify(body);
  const signer = new SignatureV4({
    service: 'lambkin', region: region || s.region, credentials: credentialsOf(s), sha256: Sha256,
  });
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: q,
    headers: { host: url.host, ...(text !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: text,
  });
  const headers = { ...signed.headers };
  delete headers.host;
  const rfc3986 = (x) => encodeURIComponent(x).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const search = Object.entries(q).map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
  const response = await fetch(`${url.pathname}${search ? `?${search}` : ''}`, {
    method, headers, body: text, credentials: 'omit', cache: 'no-store',
  });
  const raw = await response.text();
  if (asText && response.ok) return raw;
  let json = null;
  try { json = raw ? JSON.parse(raw) : null; } catch { /* not JSON */ }
  if (!response.ok) {
    const type = (response.headers.get('x-amzn-errortype') || json?.__type || json?.Type || '')
      .split(':')[0].split('#').pop();
    throw new ApiError(type || `HTTP ${response.status}`, json?.message || json?.Message || raw || response.statusText,
      response.status);
  }
  return json;
}

// Every page of a paginated SDK call: `page(marker)` returns [items, nextMarker].
export async function all(page) {
  const out = [];
  let marker;
  do {
    const [items, next] = await page(marker);
    out.push(...(items || []));
    marker = next;
  } while (marker);
  return out;
}
