// lambdagate's Node.js runtime: a Lambda Runtime API (2018-06-01) client that runs
// handlers the way AWS's Node.js runtime (aws-lambda-nodejs-runtime-interface-client)
// does: handler resolution (UserFunction.js), callback/async semantics
// (CallbackContext.js, Runtime.js), context (InvokeContext.js), error bodies
// (Errors.js) and console patching (LogPatch.js). Node's standard library only.
//
// Started as `node bootstrap.mjs [SDK node_modules]` with cwd = code directory and
// the Lambda environment (_HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_RUNTIME_API, ...);
// the AWS SDK is found after the function's own packages (gateway/sdks.py).

import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import Module, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import * as nodePathHooks from './nodepath_resolve.mjs';

const require = createRequire(import.meta.url);
const env = process.env;
// lambdagate's command line ends with the AWS SDK's node_modules when it is installed (what
// /var/runtime/node_modules is on AWS); the function sees process.argv as there: node, bootstrap
const SDK_MODULES = path.isAbsolute(process.argv[2] || '') ? process.argv.splice(2, 1)[0] : '';

// ---------------------------------------------------------------- errors (Errors.js)

class RuntimeError extends Error {}
const defineError = (name) => {
  const cls = { [name]: class extends RuntimeError {} }[name];
  cls.prototype.name = `Runtime.${name}`;
  return cls;
};
const ImportModuleError = defineError('ImportModuleError');
const HandlerNotFound = defineError('HandlerNotFound');
const MalformedHandlerName = defineError('MalformedHandlerName');
const UserCodeSyntaxError = defineError('UserCodeSyntaxError');
const MalformedStreamingHandler = defineError('MalformedStreamingHandler');
const CallbackHandlerDeprecated = defineError('CallbackHandlerDeprecated');
class NodeJsExit extends RuntimeError {
  constructor() {
    super('The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a ' +
      'Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes');
  }
}
NodeJsExit.prototype.name = 'Runtime.NodeJsExit';
class UnhandledPromiseRejection extends RuntimeError {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

const isErrorLike = (o) => o && typeof o.name === 'string' && typeof o.message === 'string' &&
  typeof o.stack === 'string' && o.name && o.message && o.stack;

const intoError = (err) => (err instanceof Error ? err : new Error(err));

// The body posted to /error and /init/error.
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more ' +
        'of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(error) {
  if (!(error instanceof Error)) return error;
  const ret = Object.assign({ errorType: error.name, errorMessage: error.message, code: error.code }, error);
  if (typeof error.stack === 'string') ret.stack = error.stack.split('\n');
  return ret;
}

// The text after "Invoke Error" / "Uncaught Exception" in a text-format log line.
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------- console (LogPatch.js)

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 }, DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 }, WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 }, FATAL: { name: 'FATAL', priority: 6 },
};
const JSON_LOGS = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

const jsonErrorReplacer = (_k, value) => {
  if (value instanceof Error) {
    return Object.assign({
      errorType: value?.constructor?.name ?? 'UnknownError',
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
    }, value);
  }
  return value;
};

function formatJson(requestId, timestamp, level, params) {
  const result = { timestamp, level: level.name, requestId };
  if (params.length === 1) {
    result.message = params[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...params);
  for (const param of params) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function writeLog(level, params) {
  const time = new Date().toISOString();
  const requestId = globalThis[REQUEST_ID];
  const line = JSON_LOGS
    ? formatJson(requestId, time, level, params)
    : `${time}\t${requestId}\t${level.name}\t${util.format(...params)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const minimum = LEVELS[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const make = (level) => (level.priority >= minimum.priority ? (...params) => writeLog(level, params) : nop);
  console.trace = make(LEVELS.TRACE);
  console.debug = make(LEVELS.DEBUG);
  console.info = make(LEVELS.INFO);
  console.log = console.info;
  console.warn = make(LEVELS.WARN);
  console.error = make(LEVELS.ERROR);
  console.fatal = (...params) => writeLog(LEVELS.FATAL, params);
}

function logError(message, err) {
  if (JSON_LOGS) console.error(intoError(err));
  else console.error(message, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------- Runtime API client (RAPIDClient.js)

const API = env.AWS_LAMBDA_RUNTIME_API || '';
const API_HOST = API.slice(0, API.lastIndexOf(':'));
const API_PORT = parseInt(API.slice(API.lastIndexOf(':') + 1), 10);
const INVOCATION = '/2018-06-01/runtime/invocation/';
const JSON_HEADERS = { 'Content-Type': 'application/json' };
const HEAD_END = Buffer.from('\r\n\r\n');

// HTTP/1.1 on one kept-alive socket, one request at a time, each sent in one write (AWS's
// runtime uses a native client the same way; node:http costs ~0.1 ms a request more). The
// socket is unref'd while no request is pending, so an event loop with nothing else to do
// still ends ('beforeExit': callbackWaitsForEmptyEventLoop). A request made while another is
// pending (an uncaught exception while `next` waits) goes over a connection of its own.
class Connection {
  constructor(oneShot) {
    this.oneShot = oneShot;
    this.socket = null;
    this.pending = null; // { socket, resolve, reject, buf, head, chunks, size }
  }

  connect() {
    const s = net.connect({ host: API_HOST, port: API_PORT });
    s.setNoDelay(true);
    const lost = (err) => {
      if (this.socket === s) this.socket = null;
      s.destroy();
      if (this.pending && this.pending.socket === s) this.settle(err || new Error('the Runtime API closed the connection'));
    };
    s.on('data', (chunk) => this.onData(s, chunk));
    s.on('error', lost);
    s.on('close', () => lost());
    return s;
  }

  settle(err, response) {
    const p = this.pending;
    this.pending = null;
    if (this.oneShot) p.socket.destroy();
    else p.socket.unref();
    if (err) p.reject(err);
    else p.resolve(response);
  }

  onData(s, chunk) {
    const p = this.pending;
    if (!p || p.socket !== s) return;
    if (!p.head) {
      p.buf = p.buf ? Buffer.concat([p.buf, chunk]) : chunk;
      const end = p.buf.indexOf(HEAD_END);
      if (end < 0) return;
      const lines = p.buf.toString('latin1', 0, end).split('\r\n');
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        if (colon > 0) headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
      }
      const length = parseInt(headers['content-length'] || '0', 10);
      p.head = { status: parseInt(lines[0].split(' ')[1], 10), headers, length };
      chunk = p.buf.subarray(end + 4);
      p.buf = null;
    }
    p.chunks.push(chunk);
    p.size += chunk.length;
    if (p.size < p.head.length) return;
    if ((p.head.headers.connection || '').toLowerCase() === 'close') {
      this.socket = null;
      s.destroy();
    }
    const body = p.chunks.length === 1 ? p.chunks[0] : Buffer.concat(p.chunks, p.size);
    this.settle(null, { status: p.head.status, headers: p.head.headers, body: body.subarray(0, p.head.length) });
  }

  request(method, urlPath, body, headers, retried) {
    return new Promise((resolve, reject) => {
      const reused = this.socket !== null;
      if (!reused) this.socket = this.connect();
      this.socket.ref();
      this.pending = {
        socket: this.socket,
        resolve,
        reject: (err) => {
          // A kept-alive connection the server closed meanwhile: once more on a new one.
          if (reused && !retried) this.request(method, urlPath, body, headers, true).then(resolve, reject);
          else reject(err);
        },
        buf: null,
        head: null,
        chunks: [],
        size: 0,
      };
      const data = body === undefined ? null : typeof body === 'string' ? Buffer.from(body) : body;
      let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${API}\r\n`;
      for (const name in headers) head += `${name}: ${String(headers[name]).replace(/[\r\n]/g, ' ')}\r\n`;
      head += data ? `Content-Length: ${data.length}\r\n\r\n` : '\r\n';
      this.socket.write(data ? Buffer.concat([Buffer.from(head, 'latin1'), data]) : head, 'latin1');
    });
  }
}

const connection = new Connection(false);
const request = (method, urlPath, body, headers) =>
  (connection.pending ? new Connection(true) : connection).request(method, urlPath, body, headers);

function apiLost(err) {
  process.stderr.write(`lambdagate node runtime: Runtime API ${API} unreachable: ${err && err.message}\n`);
  process.exit(1);
}

function serialize(value) {
  return JSON.stringify(value === undefined ? null : value);
}

const client = {
  async next() {
    const res = await request('GET', INVOCATION + 'next', undefined, undefined);
    if (res.status !== 200) throw new Error(`GET next answered ${res.status}: ${res.body}`);
    return res;
  },
  postResponse(id, body, contentType, callback) {
    const headers = { 'Content-Type': contentType || 'application/json' };
    request('POST', INVOCATION + encodeURIComponent(id) + '/response', body, headers).then(callback, apiLost);
  },
  postError(error, id, callback) {
    const body = serialize(toRapidResponse(error));
    request('POST', INVOCATION + encodeURIComponent(id) + '/error', body, JSON_HEADERS).then(callback, apiLost);
  },
  postInitError(error, callback) {
    const response = toRapidResponse(error);
    const headers = { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': response.errorType };
    request('POST', '/2018-06-01/runtime/init/error', serialize(response), headers).then(callback, apiLost);
  },
};

// ---------------------------------------------------------------- loading the handler (UserFunction.js)

const NODE_MAJOR = parseInt(process.versions.node, 10);
const RUNTIME_MAJOR = parseInt((/nodejs(\d+)/.exec(env.AWS_EXECUTION_ENV || '') || [])[1] || String(NODE_MAJOR), 10);
const MODERN = RUNTIME_MAJOR >= 24; // nodejs24.x: no callback handlers, returned values are the result
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType('application/vnd.awslambda.http-integration-response');
    underlyingStream.write(JSON.stringify(prelude));
    underlyingStream.write(new Uint8Array(8));
    return underlyingStream;
  }
}

function installGlobal() {
  const off = env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  globalThis.awslambda = {
    streamifyResponse: (handler, options) => {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
      return handler;
    },
    HttpResponseStream,
  };
}

const tryRequireFile = (file, ext = '') => (fs.existsSync(file + ext) ? require(file + ext) : undefined);

async function tryImport(file, ext) {
  return fs.existsSync(file + ext) ? import(pathToFileURL(file + ext).href) : undefined;
}

function packageTypeIsModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/') return false;
  return packageTypeIsModule(path.resolve(folder, '..'));
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const file = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = tryRequireFile(file);
  if (extensionless) return extensionless;
  const typeModule = packageTypeIsModule(path.dirname(file));
  if (!typeModule) {
    const loaded = tryRequireFile(file, '.js');
    if (loaded) return loaded;
  }
  const ts = NODE_MAJOR >= 24;
  const loaded = (typeModule && (await tryImport(file, '.js'))) ||
    (await tryImport(file, '.mjs')) ||
    tryRequireFile(file, '.cjs') ||
    (ts && !typeModule && tryRequireFile(file, '.ts')) ||
    (ts && typeModule && (await tryImport(file, '.ts'))) ||
    (ts && (await tryImport(file, '.mts'))) ||
    (ts && tryRequireFile(file, '.cts'));
  if (loaded) return loaded;
  // Not a file next to the handler string: Node's own resolution (node_modules, ...).
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

function findIn(object, dotted) {
  return dotted.split('.').reduce((nested, key) => nested && nested[key], object);
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute paths when specifying ` +
      'root directories in handler names.');
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;

  installGlobal();
  let userApp;
  try {
    userApp = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  let handler = findIn(userApp, handlerPath);
  if (!handler && userApp && typeof userApp === 'object' && 'default' in userApp) {
    handler = findIn(userApp.default, handlerPath);
  }
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

function handlerMetadata(handler) {
  const streaming = handler[HANDLER_STREAMING];
  if (streaming && streaming !== STREAM_RESPONSE) {
    throw new MalformedStreamingHandler('Only response streaming is supported.');
  }
  let isAsync = false;
  try {
    isAsync = handler.constructor?.name === 'AsyncFunction';
  } catch (_) { /* not async */ }
  return { streaming: streaming === STREAM_RESPONSE, isAsync, argsNum: handler.length };
}

// ---------------------------------------------------------------- one invocation (Runtime.js, CallbackContext.js)

let beforeExit = () => {};
let dying = false;
const errorCallbacks = {
  uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
  unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
};

function fatal(kind, error) {
  if (dying) return;
  dying = true;
  errorCallbacks[kind](error);
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// Environment and header data of the user-facing context (InvokeContext.js).
function attachEnvironmentData(target, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else delete env._X_AMZN_TRACE_ID;
  const deadline = headers['lambda-runtime-deadline-ms'];
  const tenantId = headers['lambda-runtime-aws-tenant-id'];
  return Object.assign(target, {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
  }, {
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

// callback, context.{succeed,fail,done,callbackWaitsForEmptyEventLoop}: only the first call counts.
function buildCallbackContext(id, scheduleNext) {
  const postError = (err, next) => {
    if (dying) return;
    logError('Invoke Error', err);
    client.postError(err, id, next);
  };
  let completed = false;
  const complete = (result, next) => {
    if (completed) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    completed = true;
    if (dying) return;
    let body;
    try {
      body = serialize(result);
    } catch (_) {
      fatal('uncaughtException', new Error('Unable to stringify response body'));
      return;
    }
    client.postResponse(id, body, 'application/json', next);
  };
  let waitForEmptyEventLoop = true;
  const callback = (err, result) => {
    beforeExit = () => {};
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      beforeExit = () => setImmediate(() => complete(result, scheduleNext));
    }
  };
  const done = (err, result) => {
    beforeExit = () => {};
    if (err !== undefined && err !== null) postError(err, scheduleNext);
    else complete(result, scheduleNext);
  };
  let finished = false;
  const once = (fn) => (...args) => {
    if (!finished) {
      fn(...args);
      finished = true;
    }
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
    done: once(done),
  };
  return [once(callback), context, () => { completed = true; }];
}

// Streaming handlers (awslambda.streamifyResponse) get a response stream; the
// Invoke API answers with the whole streamed body, so it is buffered here.
function responseStream() {
  const chunks = [];
  let contentType = 'application/octet-stream';
  const stream = new Writable({
    write(chunk, encoding, cb) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk));
      cb();
    },
  });
  stream.setContentType = (value) => { contentType = value; };
  return { stream, body: () => Buffer.concat(chunks), contentType: () => contentType };
}

function setErrorCallbacks(id) {
  errorCallbacks.uncaughtException = (error) => client.postError(error, id, () => process.exit(129));
  errorCallbacks.unhandledRejection = (error) => client.postError(error, id, () => process.exit(128));
}

function run(handler, meta) {
  const scheduleNext = () => setImmediate(() => handleOnce().catch(apiLost));

  async function handleOnce() {
    const { headers, body } = await client.next();
    const id = headers['lambda-runtime-aws-request-id'];
    globalThis[REQUEST_ID] = id;
    setErrorCallbacks(id);
    if (meta.streaming) return handleStreaming(id, headers, body);
    if (MODERN) return handleModern(id, headers, body);

    const [callback, context, markCompleted] = buildCallbackContext(id, scheduleNext);
    // The event loop ran dry without a result: a sync handler that never called
    // back answers null; an async one whose promise never settled fails.
    beforeExit = () => {
      markCompleted();
      if (meta.isAsync) {
        const error = new NodeJsExit();
        logError('Invoke Error', error);
        client.postError(error, id, scheduleNext);
      } else {
        client.postResponse(id, 'null', 'application/json', scheduleNext);
      }
    };
    try {
      const result = handler(JSON.parse(body.toString('utf8')), attachEnvironmentData(context, headers), callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  async function handleModern(id, headers, body) {
    let result;
    let failed = false;
    beforeExit = () => {
      beforeExit = () => {};
      const error = new NodeJsExit();
      logError('Invoke Error', error);
      client.postError(error, id, scheduleNext);
    };
    try {
      result = await handler(JSON.parse(body.toString('utf8')), attachEnvironmentData({}, headers));
    } catch (err) {
      failed = true;
      result = err;
    }
    beforeExit = () => {};
    await new Promise((resolve) => setImmediate(resolve));
    if (dying) return;
    if (failed) {
      logError('Invoke Error', result);
      client.postError(result, id, scheduleNext);
      return;
    }
    let payload;
    try {
      payload = serialize(result);
    } catch (_) {
      fatal('uncaughtException', new Error('Unable to stringify response body'));
      return;
    }
    client.postResponse(id, payload, 'application/json', scheduleNext);
  }

  async function handleStreaming(id, headers, body) {
    const out = responseStream();
    const fail = (err) => {
      if (dying) return;
      logError('Invoke Error', err);
      client.postError(err, id, scheduleNext);
    };
    beforeExit = () => {
      beforeExit = () => {};
      fail(new NodeJsExit());
    };
    try {
      const result = handler(JSON.parse(body.toString('utf8')), out.stream, attachEnvironmentData({}, headers));
      if (!result || typeof result.then !== 'function') {
        fail('Streaming does not support non-async handlers.');
        return;
      }
      if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
      if (!out.stream.writableEnded) {
        fail('Response stream is not finished.');
        return;
      }
      if (!out.stream.writableFinished) await new Promise((resolve) => out.stream.once('finish', resolve));
      beforeExit = () => {};
      if (!dying) client.postResponse(id, out.body(), out.contentType(), scheduleNext);
    } catch (err) {
      beforeExit = () => {};
      fail(err);
    }
  }

  scheduleNext();
}

// ---------------------------------------------------------------- start (index.mjs)

// ES module imports search NODE_PATH's node_modules folders too (nodepath_resolve.mjs). Only when
// there is one: on Node 20 the hooks run in a loader thread, which costs a cold start some 60 ms.
function searchNodePathForModules(nodePath) {
  const folders = nodePath.split(path.delimiter)
    .filter((folder) => path.isAbsolute(folder) && path.basename(folder) === 'node_modules' && fs.existsSync(folder))
    .map((folder) => fs.realpathSync(folder));
  if (!folders.length) return;
  if (typeof Module.registerHooks === 'function') {
    nodePathHooks.setFolders(folders);
    Module.registerHooks({ resolve: nodePathHooks.resolveSync });
  } else if (typeof Module.register === 'function') {
    Module.register(new URL('./nodepath_resolve.mjs', import.meta.url), { data: { folders } });
  }
}

async function main() {
  patchConsole();
  if (!API) {
    process.stderr.write('lambdagate node runtime: AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(1);
  }
  process.on('uncaughtException', (error) => {
    if (dying) return;
    logError('Uncaught Exception', error);
    fatal('uncaughtException', error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    if (dying) return;
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    fatal('unhandledRejection', error);
  });
  process.on('beforeExit', () => beforeExit());

  const appRoot = env.LAMBDA_TASK_ROOT || process.cwd();
  if (!env.NODE_PATH) {
    // AWS's bootstrap: the runtime's node_modules (the SDK), then the task root, from which
    // require('lib/x') resolves. A function that sets NODE_PATH gets only its own.
    env.NODE_PATH = [SDK_MODULES, appRoot].filter(Boolean).join(path.delimiter);
    Module._initPaths();
  }
  searchNodePathForModules(env.NODE_PATH);
  let handler;
  let meta;
  try {
    handler = await loadHandler(appRoot, env._HANDLER || '');
    meta = handlerMetadata(handler);
    if (MODERN && meta.argsNum >= 3 && !meta.streaming) {
      throw new CallbackHandlerDeprecated('ERROR: AWS Lambda has removed support for callback-based function ' +
        'handlers starting with Node.js 24. You need to modify this function to use a supported handler signature ' +
        'to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.');
    }
  } catch (error) {
    logError('Uncaught Exception', error);
    fatal('uncaughtException', error);
    return;
  }
  run(handler, meta);
}

main();
