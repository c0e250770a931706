"""What a script may touch, routed through the host.

- `print` and `sys.stderr` -> `host.log` (info / error), line by line;
- the root logger -> `host.log` (level INFO, as Jasmin's default `log_level`);
- `open(path, 'a'|'w'|'x')` and `logging.FileHandler` (and the rotating handlers) ->
  `host.append_file`; refused paths raise PermissionError when opened, as CPython would;
  reading a file raises FileNotFoundError (there are no files);
- `urllib.request.urlopen` -> `host.http` (the `requests` shim does the same);
- sockets: no network (OSError / socket.gaierror), the gateway offers HTTP only;
- imports: only modules loaded when the component was built (see `preload.py`); others
  raise ModuleNotFoundError, the same inside the component and in native tests.
"""

import builtins
import errno
import http.client
import io
import logging
import logging.handlers
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

from smsgate_runtime import hostio

# --- print / stderr ------------------------------------------------------------------------


class HostLogStream(io.TextIOBase):
    """sys.stdout / sys.stderr while a script runs: each line is one `host.log` record."""

    _MAX_BUFFER = 64 * 1024

    def __init__(self, name, level):
        self._name = name
        self._level = level
        self._buf = ''

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return 'utf-8'

    @property
    def errors(self):
        return 'strict'

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation('fileno')

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type(s).__name__)
        buf = self._buf + s if self._buf else s
        if '\n' in buf:
            lines = buf.split('\n')
            buf = lines.pop()
            level = self._level
            for line in lines:
                hostio.log(level, line)
        if len(buf) > self._MAX_BUFFER:
            hostio.log(self._level, buf)
            buf = ''
        self._buf = buf
        return len(s)

    def flush(self):
        if self._buf:
            buf, self._buf = self._buf, ''
            hostio.log(self._level, buf)


STDOUT = HostLogStream('<stdout>', hostio.LEVEL_INFO)
STDERR = HostLogStream('<stderr>', hostio.LEVEL_ERROR)

# --- files ---------------------------------------------------------------------------------


class AppendFile:
    """What `open(path, 'a')` gives a script: each write() is appended through the host."""

    def __init__(self, path, mode, binary, encoding, errors):
        self.name = path
        self.mode = mode
        self._binary = binary
        self.encoding = None if binary else (encoding or 'utf-8')
        self.errors = None if binary else (errors or 'strict')
        self.closed = False

    def __repr__(self):
        if self._binary:
            return '<_io.BufferedWriter name=%r>' % (self.name,)
        return '<_io.TextIOWrapper name=%r mode=%r encoding=%r>' % (self.name, self.mode, self.encoding)

    def _check(self):
        if self.closed:
            raise ValueError('I/O operation on closed file.')

    def write(self, data):
        self._check()
        if self._binary:
            if isinstance(data, str):
                raise TypeError("a bytes-like object is required, not 'str'")
            raw = bytes(memoryview(data))
            n = len(raw)
        else:
            if not isinstance(data, str):
                raise TypeError('write() argument must be str, not %s' % type(data).__name__)
            raw = data.encode(self.encoding, self.errors)
            n = len(data)
        if raw:
            hostio.append_file(self.name, raw)
        return n

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._check()

    def close(self):
        self.closed = True

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation('fileno')

    def read(self, *args):
        raise io.UnsupportedOperation('not readable')

    readline = readlines = read

    def tell(self):
        raise io.UnsupportedOperation('tell')

    def seek(self, *args):
        raise io.UnsupportedOperation('seek')

    def truncate(self, *args):
        raise io.UnsupportedOperation('truncate')

    def __iter__(self):
        raise io.UnsupportedOperation('not readable')

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, *exc):
        self.close()


_MODE_CHARS = frozenset('axrwb+t')


def sandbox_open(file, mode='r', buffering=-1, encoding=None, errors=None, newline=None,
                 closefd=True, opener=None):
    """`open` for scripts: writes go to `host.append_file`, reads find no file."""
    if isinstance(file, int) and not isinstance(file, bool):
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    path = os.fspath(file)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(mode, str):
        raise TypeError("open() argument 'mode' must be str, not %s" % type(mode).__name__)
    modes = set(mode)
    if modes - _MODE_CHARS or len(mode) > len(modes):
        raise ValueError('invalid mode: %r' % mode)
    creating, reading, writing, appending = ('x' in modes, 'r' in modes, 'w' in modes, 'a' in modes)
    binary, text = 'b' in modes, 't' in modes
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if creating + reading + writing + appending != 1:
        raise ValueError('must have exactly one of create/read/write/append mode')
    if binary and encoding is not None:
        raise ValueError("binary mode doesn't take an encoding argument")
    if binary and errors is not None:
        raise ValueError("binary mode doesn't take an errors argument")
    if reading:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    # Nothing is appended: the host answers whether the path is granted, so a refused path
    # fails here, as opening it would on a host without write access.
    hostio.append_file(path, b'')
    return AppendFile(path, mode, binary, encoding, errors)


class FileHandler(logging.StreamHandler):
    """logging.FileHandler over `host.append_file` (mode 'w' appends: no truncation)."""

    def __init__(self, filename, mode='a', encoding=None, delay=False, errors=None):
        filename = os.fspath(filename)
        self.baseFilename = os.path.abspath(filename)
        self.mode = mode
        self.encoding = encoding
        self.errors = errors
        self.delay = delay
        self._builtin_open = sandbox_open
        if delay:
            logging.Handler.__init__(self)
            self.stream = None
        else:
            logging.StreamHandler.__init__(self, self._open())

    def _open(self):
        mode = self.mode if 'b' not in self.mode else self.mode.replace('b', '')
        if 'r' in mode:
            mode = 'a'
        return sandbox_open(self.baseFilename, mode, encoding=self.encoding, errors=self.errors)

    def close(self):
        self.acquire()
        try:
            try:
                if self.stream:
                    try:
                        self.flush()
                    finally:
                        stream = self.stream
                        self.stream = None
                        if hasattr(stream, 'close'):
                            stream.close()
            finally:
                logging.StreamHandler.close(self)
        finally:
            self.release()

    def emit(self, record):
        if self.stream is None:
            self.stream = self._open()
        logging.StreamHandler.emit(self, record)

    def __repr__(self):
        level = logging.getLevelName(self.level)
        return '<%s %s (%s)>' % (self.__class__.__name__, self.baseFilename, level)


class BaseRotatingHandler(FileHandler):
    """Rotation is the gateway's business (a size-capped area): these never roll over."""

    namer = None
    rotator = None

    def shouldRollover(self, record):
        return False

    def doRollover(self):
        pass

    def rotation_filename(self, default_name):
        return default_name

    def rotate(self, source, dest):
        pass


class RotatingFileHandler(BaseRotatingHandler):
    def __init__(self, filename, mode='a', maxBytes=0, backupCount=0, encoding=None, delay=False,
                 errors=None):
        if maxBytes > 0:
            mode = 'a'
        BaseRotatingHandler.__init__(self, filename, mode, encoding=encoding, delay=delay,
                                     errors=errors)
        self.maxBytes = maxBytes
        self.backupCount = backupCount


class TimedRotatingFileHandler(BaseRotatingHandler):
    def __init__(self, filename, when='h', interval=1, backupCount=0, encoding=None, delay=False,
                 utc=False, atTime=None, errors=None):
        BaseRotatingHandler.__init__(self, filename, 'a', encoding=encoding, delay=delay,
                                     errors=errors)
        self.when = when.upper()
        self.interval = interval
        self.backupCount = backupCount
        self.utc = utc
        self.atTime = atTime


class WatchedFileHandler(FileHandler):
    def reopenIfNeeded(self):
        pass


class HostLogHandler(logging.Handler):
    """The root logger's handler: one `host.log` record per logging record."""

    def emit(self, record):
        try:
            msg = self.format(record)
        except Exception:
            self.handleError(record)
            return
        hostio.log(hostio.level_for(record.levelno), msg)


# --- network -------------------------------------------------------------------------------

def _unreachable(*args, **kwargs):
    raise OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH) + ' (smsgate scripts reach '
                  'the network through requests / urllib.request only)')


def _unreachable_ex(self, *args, **kwargs):
    return errno.ENETUNREACH


def _no_resolver(*args, **kwargs):
    raise socket.gaierror(getattr(socket, 'EAI_NONAME', -2), 'Name or service not known')


def _no_exit(*args):
    raise SystemExit(*args)


def urlopen(url, data=None, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, *, context=None, **kwargs):
    """urllib.request.urlopen through `host.http` (redirects as urllib's default opener)."""
    if isinstance(url, str):
        req = urllib.request.Request(url, data)
    else:
        req = url
        if data is not None:
            req.data = data
    if timeout is socket._GLOBAL_DEFAULT_TIMEOUT or timeout is None:
        timeout_ms = None
    else:
        timeout_ms = max(1, int(float(timeout) * 1000))
    for _ in range(11):
        if req.type not in ('http', 'https'):
            raise urllib.error.URLError('unknown url type: %s' % req.type)
        body = req.data
        if isinstance(body, str):
            raise TypeError('POST data should be bytes, an iterable of bytes, or a file object. '
                            'It cannot be of type str.')
        if body is None:
            raw = b''
        elif hasattr(body, 'read'):
            raw = body.read()
        elif isinstance(body, (bytes, bytearray, memoryview)):
            raw = bytes(body)
        else:
            raw = b''.join(body)
        headers = dict(req.header_items())
        lower = {k.lower() for k in headers}
        if 'user-agent' not in lower:
            headers['User-Agent'] = 'Python-urllib/%d.%d' % sys.version_info[:2]
        if 'accept-encoding' not in lower:
            headers['Accept-Encoding'] = 'identity'
        if body is not None and 'content-type' not in lower:
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        full_url = req.full_url
        method = req.get_method()
        try:
            status, reason, hdrs, content = hostio.http(method, full_url, list(headers.items()),
                                                        raw, timeout_ms)
        except hostio.HostHttpError as e:
            if e.kind == 'timeout':
                reason_exc = TimeoutError('timed out')
            elif e.kind == 'denied':
                reason_exc = PermissionError(errno.EACCES, str(e))
            else:
                reason_exc = ConnectionError(str(e))
            raise urllib.error.URLError(reason_exc) from None
        msg = http.client.HTTPMessage()
        for k, v in hdrs:
            msg[k] = v
        resp = UrlResponse(content, full_url, status, reason, msg)
        if status in (301, 302, 303, 307, 308) and ('location' in msg or 'uri' in msg):
            location = msg.get('location') or msg.get('uri')
            new_url = urllib.parse.urljoin(full_url, location)
            if urllib.parse.urlparse(new_url).scheme not in ('http', 'https', 'ftp', ''):
                raise urllib.error.HTTPError(
                    new_url, status, "%s - Redirection to url '%s' is not allowed" % (reason, new_url),
                    msg, resp)
            if not (status in (301, 302, 303) and method == 'POST') and method not in ('GET', 'HEAD'):
                raise urllib.error.HTTPError(full_url, status, reason, msg, resp)
            new_headers = {k: v for k, v in req.headers.items()
                           if k.lower() not in ('content-length', 'content-type')}
            req = urllib.request.Request(new_url.replace(' ', '%20'), headers=new_headers,
                                         origin_req_host=req.origin_req_host, unverifiable=True)
            continue
        if not (200 <= status < 300):
            raise urllib.error.HTTPError(full_url, status, reason, msg, resp)
        return resp
    raise urllib.error.HTTPError(
        req.full_url, status, 'The HTTP server returned a redirect error that would lead to an '
        'infinite loop.\nThe last 30x error message was:\n' + reason, msg, resp)


class UrlResponse(io.BytesIO):
    """The answer of urlopen: a file-like body with status, reason and headers."""

    def __init__(self, content, url, status, reason, msg):
        io.BytesIO.__init__(self, content)
        self.url = url
        self.status = status
        self.code = status
        self.reason = reason
        self.headers = msg
        self.msg = msg
        self.length = len(content)
        self.version = 11

    def getcode(self):
        return self.status

    def geturl(self):
        return self.url

    def info(self):
        return self.headers

    def getheader(self, name, default=None):
        values = self.headers.get_all(name)
        if not values:
            return default
        return ', '.join(values)

    def getheaders(self):
        return list(self.headers.items())


# --- imports -------------------------------------------------------------------------------

class ImportGuard:
    """First on sys.meta_path: while a script runs, a module not already loaded is not found
    (inside the component there is no filesystem to load it from anyway)."""

    active = False

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if cls.active:
            raise ModuleNotFoundError('No module named %r' % name, name=name)
        return None

    @classmethod
    def invalidate_caches(cls):
        pass


# --- install -------------------------------------------------------------------------------

SANDBOX_BUILTINS = dict(builtins.__dict__)
SANDBOX_BUILTINS['open'] = sandbox_open

_installed = False


def install():
    """Patch the modules scripts reach (once, at build time inside the component)."""
    global _installed
    if _installed:
        return
    _installed = True

    logging.FileHandler = FileHandler
    logging.handlers.BaseRotatingHandler = BaseRotatingHandler
    logging.handlers.RotatingFileHandler = RotatingFileHandler
    logging.handlers.TimedRotatingFileHandler = TimedRotatingFileHandler
    logging.handlers.WatchedFileHandler = WatchedFileHandler
    root = logging.getLogger()
    handler = HostLogHandler()
    handler.setFormatter(logging.Formatter('%(name)s: %(message)s'))
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    socket.create_connection = _unreachable
    socket.create_server = _unreachable
    socket.getaddrinfo = _no_resolver
    socket.gethostbyname = _no_resolver
    socket.gethostbyname_ex = _no_resolver
    socket.gethostbyaddr = _no_resolver
    socket.socket.connect = _unreachable
    socket.socket.connect_ex = _unreachable_ex
    socket.socket.bind = _unreachable

    urllib.request.urlopen = urlopen

    os._exit = _no_exit
    os.abort = _no_exit

    if ImportGuard not in sys.meta_path:
        sys.meta_path.insert(0, ImportGuard)



# Inside the component only scripts run after the build: the first call enters the sandbox
# for good (`reside`). Natively (the tests) it is entered and left around each script.
RESIDENT = sys.platform == 'wasi'
_open_routed = not RESIDENT


def route_open():
    """Every open() is a script's (done at the first call, not at build time, so the build
    itself keeps the real open): route all of them."""
    global _open_routed
    _open_routed = True
    builtins.open = sandbox_open
    io.open = sandbox_open


def reside():
    """Inside the component, from the first call on: print / stderr go to the host log and
    imports are guarded, for good (core.py calls this again when a script undid it)."""
    if not _open_routed:
        route_open()
    sys.stdout = STDOUT
    sys.stderr = STDERR
    ImportGuard.active = True


def enter():
    """Before a script runs: its print / stderr go to the host log, imports are guarded.
    (core.py inlines enter / leave.)"""
    if not _open_routed:
        route_open()
    saved = (sys.stdout, sys.stderr)
    sys.stdout = STDOUT
    sys.stderr = STDERR
    ImportGuard.active = True
    return saved


def leave(saved):
    ImportGuard.active = False
    if STDOUT._buf:
        STDOUT.flush()
    if STDERR._buf:
        STDERR.flush()
    sys.stdout, sys.stderr = saved
