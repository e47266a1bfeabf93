"""`lambdagate`: the command line, a thin mapping of flags onto Config."""
from __future__ import annotations

# Ctrl-C while the modules below load ends quietly, with the shell's status for SIGINT: held back
# until they are loaded (a Python-level exception inside an extension's initialisation can crash
# it: orjson's did), then acted on; main() covers the rest of the run. _signal, not signal: that
# one takes long enough to import to be interrupted itself.
import _signal

_signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from typing import Optional  # noqa: E402

import orjson  # noqa: E402

from gateway import __version__, wire  # noqa: E402
from gateway.billing import format_summary, summary_row  # noqa: E402
from gateway.config import Config  # noqa: E402
from gateway.errors import LambdagateError  # noqa: E402
from gateway.types import SYNC_PAYLOAD_LIMIT_BYTES  # noqa: E402

_previous_sigint = signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})   # one that came meanwhile exits here
signal.signal(signal.SIGINT, _previous_sigint)

log = logging.getLogger("lambdagate")


_DEFAULTS = Config()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _version_path(text: str) -> tuple[str, str]:
    version, sep, path = text.partition("=")
    parts = version.split(".")
    if not sep or not path or len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected VERSION=PATH such as 3.12=/usr/bin/python3.12, not {text!r}")
    return version, path


def _version_and_path(text: str) -> tuple[str, Optional[str]]:
    """`setup sdk --python`: VERSION, or VERSION=PATH of the interpreter to install with."""
    if "=" in text:
        return _version_path(text)
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected a Python version such as 3.12 (or 3.12=/usr/bin/python3.12), "
                                         f"not {text!r}")
    return text, None


def _node_package(text: str) -> str:
    from gateway.sdk_install import valid_node_package
    if not valid_node_package(text):
        raise argparse.ArgumentTypeError(f"expected an npm package name such as @aws-sdk/client-kinesis "
                                         f"(optionally @VERSION), not {text!r}")
    return text


def _issuer_path(text: str) -> tuple[str, str]:
    # the issuer is a URL with its own "=" possible in a query: the path follows the last "="
    issuer, sep, path = text.rpartition("=")
    if not sep or not issuer or not path:
        raise argparse.ArgumentTypeError(f"expected ISSUER=PATH such as https://issuer.example=jwks.json, not {text!r}")
    return issuer, path


def _sdk_install_off_by_environment() -> bool:
    return os.environ.get("LAMBDAGATE_NO_SDK_INSTALL", "").strip().lower() in ("1", "true", "yes")


def _add_template_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--template", "--template-file", default=_DEFAULTS.template, metavar="PATH",
                   help="SAM template to read (default, as sam local: .aws-sam/build/template.yaml when sam build "
                        "has run, else template.yaml, template.yml or template.json)")
    p.add_argument("-n", "--env-vars", metavar="PATH",
                   help='JSON file of environment overrides, SAM\'s format: {"Fn": {"VAR": "v"}, "Parameters": {...}}')
    p.add_argument("--parameter-overrides", default=_DEFAULTS.parameter_overrides, metavar="TEXT",
                   help="template parameters: 'Key=Value Key2=Value2' or "
                        "'ParameterKey=Key,ParameterValue=Value ...'")
    p.add_argument("--region", help="AWS region the functions see (default: $AWS_REGION or us-east-1)")
    p.add_argument("--state-dir", default=_DEFAULTS.state_dir, metavar="DIR",
                   help=f"where per-function log files and the event store go (default: {_DEFAULTS.state_dir})")
    p.add_argument("--debug", action="store_true", help="log lambdagate's own decisions")
    p.add_argument("--isolation", choices=wire.ISOLATION_CHOICES, default=_DEFAULTS.isolation,
                   help="how each execution environment is kept from the others and the host: auto (the default) "
                        "takes the strongest this machine allows, namespaces (root: own PID and mount namespaces, "
                        "private /tmp, cgroup quotas) or process (no privilege: not dumpable, own TMPDIR); none "
                        "runs functions as plain processes")
    p.add_argument("--python", action="append", default=[], type=_version_path, metavar="VERSION=PATH",
                   help="the interpreter for python3.X functions, e.g. --python 3.12=/usr/bin/python3.12 (repeatable; "
                        "default: python3.X on PATH, then pyenv's and uv's interpreters)")
    p.add_argument("--no-memory-limit", action="store_true",
                   help="do not kill workers that use more memory than their MemorySize")
    p.add_argument("--no-sdk-install", action="store_true", default=_sdk_install_off_by_environment(),
                   help="do not install an AWS SDK that Lambda's runtimes include (boto3, @aws-sdk) when functions "
                        "need it and lambdagate's cache lacks it: say which is missing and the `lambdagate setup "
                        "sdk` command instead (default: on when LAMBDAGATE_NO_SDK_INSTALL=1, as for CI machines "
                        "without package registries)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdagate",
        description="AWS Lambda and API Gateway on this machine, from a SAM template: warm forked workers, "
                    "exact API Gateway events, Lambda's timeouts, logs and billing.")
    parser.add_argument("--version", action="version", version=f"lambdagate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    invoke = sub.add_parser("invoke", help="invoke one function once, like `sam local invoke`",
                            description="Invoke one function once. The result goes to stdout, the function's "
                                        "log (START/END/REPORT) to stderr; the exit status is 1 when the "
                                        "function fails.")
    invoke.add_argument("function", nargs="?",
                        help="logical id or FunctionName (optional when the template has one function)")
    invoke.add_argument("-e", "--event", metavar="PATH",
                        help="JSON event file, or - for standard input (default: {})")
    _add_template_options(invoke)

    api = sub.add_parser("start-api", help="serve the template's Api and HttpApi routes, like `sam local start-api`",
                         description="Serve the template's Api (REST, payload 1.0) and HttpApi (payload 2.0) routes "
                                     "over HTTP, with the Lambda API on a second port.")
    api.add_argument("-p", "--port", type=int, default=_DEFAULTS.port,
                     help=f"API Gateway port (default: {_DEFAULTS.port})")
    api.add_argument("--lambda-port", type=int, default=_DEFAULTS.lambda_port,
                     help=f"port of the Lambda API served beside it (default: {_DEFAULTS.lambda_port}; 0 turns it off)")
    _add_server_options(api)
    _add_template_options(api)

    lam = sub.add_parser("start-lambda", help="serve the Lambda Invoke API for boto3, like `sam local start-lambda`",
                         description="Serve the Lambda API (Invoke and read operations) so that boto3 and the AWS "
                                     "CLI work against it with --endpoint-url.")
    lam.add_argument("-p", "--port", dest="lambda_port", type=int, default=_DEFAULTS.lambda_port,
                     help=f"port (default: {_DEFAULTS.lambda_port})")
    _add_server_options(lam)
    _add_template_options(lam)
    _add_setup(sub)
    return parser


def _add_setup(sub) -> None:
    setup = sub.add_parser("setup", help="install once what Lambda's runtimes include (the AWS SDKs)",
                           description="Install once, into lambdagate's cache, what Lambda's managed runtimes "
                                       "include, so that functions may import it without shipping it. invoke, "
                                       "start-api and start-lambda install what their functions lack on first "
                                       "need (unless --no-sdk-install); this does it ahead.")
    what = setup.add_subparsers(dest="setup_what", metavar="WHAT", required=True)
    sdk = what.add_parser("sdk", help="boto3 for python3.x and the AWS SDK for JavaScript v3 for nodejs18.x and later",
                          description="Install the AWS SDKs that Lambda's runtimes include: boto3 for python3.x "
                                      "functions (per Python version) and the AWS SDK for JavaScript v3 for "
                                      "nodejs18.x and later. A function's own copy still wins over these. Without "
                                      "options: boto3 for the Python lambdagate runs functions on, and the "
                                      "JavaScript SDK when node is installed. Needs the package registries; "
                                      "progress goes to stderr.")
    sdk.add_argument("--python", action="append", default=[], type=_version_and_path, metavar="VERSION[=PATH]",
                     help="install boto3 for python VERSION functions, e.g. --python 3.12 (repeatable); "
                          "=PATH names the interpreter whose pip installs it")
    sdk.add_argument("--node", action="store_true",
                     help="install the AWS SDK for JavaScript v3 (the @aws-sdk clients sam init's templates use)")
    sdk.add_argument("--node-package", action="append", default=[], type=_node_package, metavar="PKG",
                     help="an npm package to install beside them, e.g. @aws-sdk/client-kinesis (repeatable; "
                          "implies --node; kept on later installs)")


def _add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=_DEFAULTS.host, help=f"address to bind (default: {_DEFAULTS.host})")
    p.add_argument("--warm-containers", choices=("EAGER", "LAZY"), default=_DEFAULTS.warm_containers, type=str.upper,
                   help="EAGER starts one worker per function at startup; LAZY on the first request (default)")
    p.add_argument("--no-reload", action="store_true",
                   help="do not watch code directories for changes (for benchmarks)")
    p.add_argument("--keep-alive", type=float, default=_DEFAULTS.keepalive_s, metavar="SECONDS",
                   help=f"idle workers are stopped after this long (default: {_DEFAULTS.keepalive_s:g})")
    p.add_argument("--concurrency", type=_positive_int, default=_DEFAULTS.account_concurrency, metavar="N",
                   help=f"account concurrency limit across all functions (default: {_DEFAULTS.account_concurrency}, "
                        "as on AWS)")
    p.add_argument("--access-log", action="store_true", help="print one line per HTTP request")
    p.add_argument("--auth", choices=("none", "sigv4"), default=_DEFAULTS.auth,
                   help="who may call the Lambda API: anyone (none, the default, as sam local) or callers whose "
                        "requests are signed with known credentials (sigv4)")
    p.add_argument("--credentials-file", metavar="PATH",
                   help="with --auth sigv4: an AWS shared-credentials file whose keys may call "
                        "(default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)")
    p.add_argument("--jwks", action="append", default=[], type=_issuer_path, metavar="ISSUER=PATH",
                   help="verify JWTs of this issuer against a local JWKS file instead of fetching "
                        "<issuer>/.well-known/openid-configuration (repeatable; for offline work)")
    p.add_argument("--api-keys", metavar="PATH",
                   help='API keys beside the template\'s: a JSON list of {"value": ..., "name": ..., "usagePlans": '
                        '[...]} (without usagePlans: every usage plan of the template)')
    p.add_argument("--log-file-max-mb", type=_positive_int, default=_DEFAULTS.log_file_max_mb, metavar="MB",
                   help=f"a function's log file rotates at this size (default: {_DEFAULTS.log_file_max_mb})")
    p.add_argument("--log-files", type=_positive_int, default=_DEFAULTS.log_files_kept, metavar="N",
                   help=f"log files kept per function, the current one included (default: {_DEFAULTS.log_files_kept})")
    p.add_argument("--discard-corrupt-store", action="store_true",
                   help="when the event store is corrupt (it is moved aside in any case), start with an empty one "
                        "instead of refusing to start")
    p.add_argument("--quiet", action="store_true", help="no function logs on the console (log files still written)")


def config_from_args(args: argparse.Namespace) -> Config:
    config = Config(template=args.template, env_vars=args.env_vars, parameter_overrides=args.parameter_overrides,
                    state_dir=args.state_dir, debug=args.debug, enforce_memory=not args.no_memory_limit,
                    isolation=args.isolation, python_interpreters=dict(args.python),
                    sdk_install=not args.no_sdk_install)
    if args.region:
        config.region = args.region
    if args.command in ("start-api", "start-lambda"):
        config.host = args.host
        config.port = getattr(args, "port", config.port)
        config.lambda_port = args.lambda_port
        config.warm_containers = args.warm_containers
        config.reload = not args.no_reload
        config.keepalive_s = args.keep_alive
        config.account_concurrency = args.concurrency
        config.access_log = args.access_log
        config.auth = args.auth
        config.credentials_file = args.credentials_file
        config.jwks_files = dict(args.jwks)
        config.api_keys_file = args.api_keys
        config.log_file_max_mb = args.log_file_max_mb
        config.log_files_kept = args.log_files
        config.console_logs = not args.quiet
        config.discard_corrupt_store = args.discard_corrupt_store
    return config


def _read_event(path: Optional[str]) -> bytes:
    if path is None:
        return b"{}"
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise LambdagateError(f"cannot read event {path}: {exc.strerror}") from None
    if len(data) > SYNC_PAYLOAD_LIMIT_BYTES:
        raise LambdagateError(f"event {path} is {len(data)} bytes; Lambda accepts at most "
                              f"{SYNC_PAYLOAD_LIMIT_BYTES} bytes for a synchronous invocation")
    try:
        orjson.loads(data or b"{}")
    except orjson.JSONDecodeError as exc:
        raise LambdagateError(f"event {'from stdin' if path == '-' else path} is not JSON: {exc}") from None
    return data or b"{}"


def _as_the_runtime_prints(payload: bytes, runtime: str) -> bytes:
    """A Python function's result as AWS's Python runtime serialises it (json.dumps: ", " and ": ",
    non-ASCII escaped), which is what `sam local invoke` prints; lambdagate's worker writes compact
    JSON, the same value. Other runtimes' bytes are printed as they came."""
    if not runtime.startswith("python"):
        return payload
    try:
        return json.dumps(json.loads(payload)).encode()
    except ValueError:   # not JSON (a handler may return bytes): as it is
        return payload


async def _invoke(config: Config, function: Optional[str], event: bytes) -> int:
    from gateway.sam.template import load_configured_template
    from gateway.scheduler import Scheduler
    from gateway.sdk_autoinstall import install_before_invoking

    template = load_configured_template(config)
    for warning in template.warnings:
        log.warning("%s", warning)
    if function is None:
        if len(template.functions) != 1:
            names = ", ".join(template.functions) or "none"
            raise LambdagateError(f"{template.path} has {len(template.functions)} functions ({names}); "
                                  "name the one to invoke")
        function = next(iter(template.functions))
    spec = template.find_function(function)
    if spec is None:
        raise LambdagateError(f"function {function!r} is not in {template.path}; it has: "
                              f"{', '.join(template.functions) or 'none'}")
    scheduler = Scheduler([spec], config)
    try:
        await scheduler.start()   # (inside: a start that fails half-way still closes what it opened)
        # an SDK Lambda's runtime has and this machine lacks: installed first, as the function may
        # import it (gateway/sdk_autoinstall.py says why invoke waits)
        await install_before_invoking(scheduler.missing_sdks, config, sys.stderr)
        result = await scheduler.invoke(spec.logical_id, event)
        sys.stdout.buffer.write(_as_the_runtime_prints(result.payload, spec.runtime) + b"\n")
        sys.stdout.flush()
        rows = [summary_row(spec.logical_id, scheduler.totals(spec.logical_id), spec.architecture)]
    finally:
        await scheduler.close()
    sys.stderr.write(format_summary(rows))
    return 1 if result.failed else 0


def main(argv: Optional[list] = None) -> int:
    """The command line; Ctrl-C at any point ends it with status 130 and no traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130


def _main(argv: Optional[list]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "setup":
        return _setup_sdk(args)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s lambdagate %(levelname)s %(message)s", datefmt="%H:%M:%S")
    config = config_from_args(args)
    try:
        if args.command == "invoke":
            event = _read_event(args.event)
            return _run(_invoke(config, args.function, event))
        from gateway.server import serve
        return _run(serve(config, args.command))
    except LambdagateError as exc:
        print(f"lambdagate: error: {exc}", file=sys.stderr)
        return 2


def _interpreter_for(version: str) -> Optional[str]:
    """The interpreter functions of Python `version` run on, as the scheduler finds it (PATH, pyenv,
    uv); None for lambdagate's own version, or when none is installed."""
    from gateway import sdks
    from gateway.scheduler import interpreters

    if version == sdks.running_python_version():
        return None
    found = interpreters.find(version)
    return found.executable if found else None


def _setup_sdk(args: argparse.Namespace) -> int:
    """`lambdagate setup sdk`: 0 when everything asked for is installed, 1 otherwise."""
    import shutil

    # SIGTERM ends it as Ctrl-C does: the installer is stopped and the cache left as it was
    signal.signal(signal.SIGTERM, _interrupt)

    from gateway import sdk_install, sdks

    pythons = list(args.python)
    node = args.node or bool(args.node_package)
    if not pythons and not node:
        pythons = [(sdks.running_python_version(), None)]
        node = shutil.which("node") is not None
        if not node:
            print("lambdagate: node is not on PATH: the AWS SDK for JavaScript is not installed (nodejs functions "
                  "need node; then run `lambdagate setup sdk --node`)", file=sys.stderr)
    progress = sdk_install.Progress(sys.stderr)
    outcomes = [sdk_install.install_python(version, progress, interpreter=path or _interpreter_for(version),
                                           own_python=_DEFAULTS.python)
                for version, path in dict(pythons).items()]
    if node:
        outcomes.append(sdk_install.install_node(progress, args.node_package))
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _run(coro) -> int:
    # SIGTERM unwinds like Ctrl-C, so every worker and zygote is stopped on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
