// Lambkin's runtime interface client for Node.js.
//
// Speaks the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API: loads the handler named by
// $_HANDLER ("file.export", file under /var/task as .mjs, .js or .cjs), then loops: fetch the
// next event, call the handler (async, or with a callback), post the result or the error the
// way AWS's Node.js runtime formats it. console output carries the request id, as on Lambda.
import http from 'node:http';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';
let currentRequestId;

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: `/2018-06-01/runtime${urlPath}`, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

const post = (urlPath, payload, headers = {}) =>
  call('POST', urlPath, typeof payload === 'string' ? payload : JSON.stringify(payload),
    { 'Content-Type': 'application/json', ...headers });

// LoggingConfig: LogFormat JSON writes each console call as a JSON object, and calls below
// AWS_LAMBDA_LOG_LEVEL are left out (console.fatal never is), as AWS's Node.js runtime does.
const jsonLogs = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
const levelRank = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
const minimumRank = levelRank[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? 1;

function errorObject(err) {
  return { errorType: err.name || 'Error', errorMessage: err.message, stackTrace: (err.stack || '').split('\n') };
}

function jsonLine(level, args) {
  const line = { timestamp: new Date().toISOString(), level, requestId: currentRequestId };
  if (args.length === 1) {
    line.message = args[0] instanceof Error ? errorObject(args[0]) : args[0];
  } else {
    line.message = format(...args);
    const err = args.find((a) => a instanceof Error);
    if (err) Object.assign(line, errorObject(err));
  }
  try {
    return JSON.stringify(line);
  } catch {
    return JSON.stringify({ ...line, message: format(...args) });
  }
}

// Text: console.* writes `<time>\t<request id>\t<LEVEL>\t<message>` as one log line.
function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
  for (const [fn, level] of Object.entries(levels)) {
    if (level !== 'FATAL' && levelRank[level] < minimumRank) {
      console[fn] = () => {};
      continue;
    }
    console[fn] = (...args) => {
      if (jsonLogs) {
        process.stdout.write(`${jsonLine(level, args)}\n`);
        return;
      }
      const text = format(...args).replace(/\n/g, '\r');
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${text}\n`);
    };
  }
}

// An error the runtime reports: `Invoke Error {...}` in Text, the error object in JSON.
function logError(label, payload, err) {
  if (jsonLogs) console.error(err instanceof Error ? err : payload);
  else console.error(label, JSON.stringify(payload));
}

function errorPayload(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: e.name || 'Error',
    errorMessage: e.message,
    trace: (e.stack || '').split('\n'),
  };
}

async function failInit(errorType, message, err) {
  const payload = { errorType, errorMessage: message, trace: err ? errorPayload(err).trace : [] };
  if (jsonLogs) {
    process.stdout.write(`${jsonLine('ERROR', [{ errorType, errorMessage: message, stackTrace: payload.trace }])}\n`);
  } else {
    process.stdout.write(`${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify(payload)}\n`);
  }
  await post('/init/error', payload, { 'Lambda-Runtime-Function-Error-Type': errorType });
  process.exit(129);
}

async function loadHandler() {
  const spec = process.env._HANDLER || '';
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) return failInit('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  const moduleName = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  const base = path.resolve(taskRoot, moduleName);
  let mod;
  try {
    const file = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
    if (!file) throw Object.assign(new Error(`Cannot find module '${moduleName}'`), { code: 'MODULE_NOT_FOUND' });
    if (file.endsWith('.cjs')) mod = createRequire(file)(file);
    else mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SyntaxError) return failInit('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    return failInit('Runtime.ImportModuleError', `Error: ${err.message}`, err);
  }
  const handler = mod[exportName] ?? mod.default?.[exportName];
  if (typeof handler !== 'function') {
    return failInit('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  }
  return handler;
}

function context(headers, requestId) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const cc = headers['lambda-runtime-client-context'];
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: cc ? JSON.parse(cc) : undefined,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

function runHandler(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    const callback = (err, result) => (err ? reject(err) : resolve(result));
    try {
      const out = handler(event, ctx, callback);
      if (out && typeof out.then === 'function') out.then(resolve, reject);
      else if (handler.length < 3) resolve(out);
    } catch (err) {
      reject(err);
    }
  });
}

async function main() {
  patchConsole();
  const handler = await loadHandler();
  for (;;) {
    const next = await call('GET', '/invocation/next');
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    currentRequestId = requestId;
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    try {
      const event = next.body.length ? JSON.parse(next.body.toString()) : {};
      const result = await runHandler(handler, event, context(next.headers, requestId));
      await post(`/invocation/${encodeURIComponent(requestId)}/response`, JSON.stringify(result ?? null));
    } catch (err) {
      const payload = errorPayload(err);
      logError('Invoke Error', payload, err);
      await post(`/invocation/${encodeURIComponent(requestId)}/error`, payload);
    }
  }
}

main().catch((err) => {
  process.stdout.write(`${new Date().toISOString()}\tundefined\tERROR\t${err.stack}\n`);
  process.exit(1);
});
