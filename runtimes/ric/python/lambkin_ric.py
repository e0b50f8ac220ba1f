"""Lambkin's runtime interface client for Python.

Speaks the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API: loads the handler named by $_HANDLER
("module.function", modules may be dotted or in folders) from /var/task, then loops: fetch the
next event, call handler(event, context), post the result or the error the way AWS's Python
runtime formats it.
"""
import importlib
import json
import logging
import os
import socket
import sys
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
# LoggingConfig.LogFormat JSON: logging's records and uncaught errors as JSON lines.
JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


class RuntimeClient:
    """HTTP/1.1 over one keep-alive socket. (http.client costs ~30 ms to import.)"""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.address = (host, int(port))
        self.sock = None
        self.buf = b""

    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("runtime API closed the connection")
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _read_exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("runtime API closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request(self, method, path, body=b"", headers=None):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: runtime",
                 "Content-Length: %d" % len(body)]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(self.address)
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.buf = b""
                self.sock.sendall(message)
                head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
                status = int(head[0].split(" ", 2)[1])
                fields = {}
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
                data = self._read_exactly(int(fields.get("content-length", "0")))
                return status, fields, data
            except (OSError, ValueError, IndexError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    raise

    def next(self):
        return self.request("GET", BASE + "/invocation/next")

    def post(self, path, payload, headers=None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.request("POST", BASE + path, body, h)


class Context:
    def __init__(self, request_id, headers):
        self.aws_request_id = request_id
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        cc = headers.get("lambda-runtime-client-context")
        self.client_context = json.loads(cc) if cc else None
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


# A LogRecord's own attributes; any other is an `extra` and goes into the JSON line.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "aws_request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the keys (and their order) of AWS's Python runtime."""

    def format(self, record):
        level = logging.getLevelName(min(50, max(0, record.levelno)) // 10 * 10)
        result = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": level,
            "message": record.getMessage(),
            "logger": record.name,
        }
        exc = record.exc_info
        if exc and exc[0] is not None:
            import traceback
            result["stackTrace"] = traceback.format_tb(exc[2])
            result["errorType"] = exc[0].__name__
            result["errorMessage"] = str(exc[1])
        result["requestId"] = RequestIdFilter.request_id
        if exc and exc[0] is not None:
            result["location"] = "%s:%s:%d" % (record.pathname, record.funcName, record.lineno)
        extras = {k: v for k, v in vars(record).items()
                  if k not in _RECORD_FIELDS and k not in result}
        try:
            return json.dumps({**result, **extras}, ensure_ascii=False, default=str) + "\n"
        except (TypeError, ValueError):  # keys JSON cannot have, a value that refers to itself
            extras = {str(k): str(v) for k, v in extras.items()}
            return json.dumps({**result, **extras}, ensure_ascii=False, default=str) + "\n"


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    if JSON_LOGS:
        formatter = JsonFormatter()
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.terminator = ""
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    # LoggingConfig.ApplicationLogLevel (JSON only); Python's own WARNING otherwise.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    root.setLevel(logging.getLevelName(level) if level in (
        "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else logging.WARNING)


def _stack(exc):
    import traceback  # only needed when something fails; keeps cold starts short
    return traceback.format_list(traceback.extract_tb(exc.__traceback__))[1:]


def error_payload(exc, error_type=None):
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": RequestIdFilter.request_id,
        "stackTrace": _stack(exc),
    }


def _nbsp_indent(line):
    # AWS's runtime indents traceback lines with no-break spaces, which log views keep.
    stripped = line.lstrip(" ")
    return "\u00a0" * (len(line) - len(stripped)) + stripped


def log_error(payload):
    # One log line, as AWS's runtime writes it.
    if JSON_LOGS:
        text = json.dumps({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "log_level": "ERROR",
            "errorMessage": payload["errorMessage"],
            "errorType": payload["errorType"],
            "requestId": payload["requestId"],
            "stackTrace": payload["stackTrace"],
        }, ensure_ascii=False)
    else:
        text = "[ERROR] %s: %s" % (payload["errorType"], payload["errorMessage"])
        if payload["stackTrace"]:
            lines = "".join(payload["stackTrace"]).splitlines()
            text += ("\rTraceback (most recent call last):\r"
                     + "\r".join(_nbsp_indent(l) for l in lines))
    sys.stdout.flush()
    sys.stdout.buffer.write((text.rstrip("\r") + "\n").encode("utf-8", "replace"))
    sys.stdout.flush()


def load_handler(client):
    spec = os.environ.get("_HANDLER", "")
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        fail_init(client, None, "Runtime.MalformedHandlerName",
                  "Bad handler '%s': not enough values to unpack" % spec)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        fail_init(client, e, "Runtime.ImportModuleError",
                  "Unable to import module '%s': %s" % (module_name, e))
    except SyntaxError as e:
        fail_init(client, e, "Runtime.UserCodeSyntaxError",
                  "Syntax error in module '%s': %s" % (module_name, e))
    except Exception as e:  # raised by the module itself while loading: reported as it is
        payload = error_payload(e)
        payload["requestId"] = ""
        fail_init(client, e, payload["errorType"], payload["errorMessage"], payload["stackTrace"])
    handler = getattr(module, function_name, None)
    if handler is None:
        fail_init(client, None, "Runtime.HandlerNotFound",
                  "Handler '%s' missing on module '%s'" % (function_name, module_name))
    return handler


def fail_init(client, exc, error_type, message, stack_trace=()):
    payload = {"errorMessage": message, "errorType": error_type, "requestId": "",
               "stackTrace": list(stack_trace)}
    log_error(payload)
    client.post("/init/error", payload, {"Lambda-Runtime-Function-Error-Type": error_type})
    sys.exit(1)


def main():
    # As Lambda's Python runtimes order it: the function's code, then its layers' packages.
    layers = "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2]
    for path in ("/opt/python", layers, os.environ.get("LAMBDA_TASK_ROOT", "/var/task")):
        sys.path.insert(0, path)
    setup_logging()
    client = RuntimeClient(API)
    handler = load_handler(client)
    while True:
        _, headers, body = client.next()
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        RequestIdFilter.request_id = request_id
        if "lambda-runtime-trace-id" in headers:
            os.environ["_X_AMZN_TRACE_ID"] = headers["lambda-runtime-trace-id"]
        try:
            event = json.loads(body) if body else {}
            result = handler(event, Context(request_id, headers))
            payload = json.dumps(result).encode()
        except Exception as e:
            payload = error_payload(e)
            log_error(payload)
            client.post("/invocation/%s/error" % request_id, payload,
                        {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        client.post("/invocation/%s/response" % request_id, payload)


if __name__ == "__main__":
    main()
