"""The host imports (`smsgate:python/host`), called through the module so tests can fake them."""

import errno
import re

from componentize_py_types import Err
from wit_world.imports import host as _host

Level = _host.Level
LEVEL_DEBUG = Level.DEBUG
LEVEL_INFO = Level.INFO
LEVEL_WARNING = Level.WARNING
LEVEL_ERROR = Level.ERROR
LEVEL_CRITICAL = Level.CRITICAL


_SURROGATE = re.compile('[\ud800-\udfff]')


def clean(s):
    """A str the canonical ABI can carry: lone surrogates (from `surrogateescape` decoding,
    say) would trap the instance when lowered, so each becomes U+FFFD."""
    if s.isascii():
        return s
    try:
        s.encode('utf-8')
        return s
    except UnicodeEncodeError:
        return _SURROGATE.sub('\ufffd', s)


def level_for(levelno):
    if levelno >= 50:
        return LEVEL_CRITICAL
    if levelno >= 40:
        return LEVEL_ERROR
    if levelno >= 30:
        return LEVEL_WARNING
    if levelno >= 20:
        return LEVEL_INFO
    return LEVEL_DEBUG


def log(level, message):
    """A line for the gateway's log; never raises."""
    try:
        _host.log(level, clean(message))
    except Exception:
        pass


_ERRNO_PREFIX = re.compile(r'\[Errno (\d+)\] (.*)', re.S)
# The host speaks Linux errno numbers ("[Errno 13] Permission denied: ..."); this CPython may
# number them differently (WASI: EACCES is 2).
_LINUX_ERRNO = {13: 'EACCES', 27: 'EFBIG', 28: 'ENOSPC', 1: 'EPERM', 2: 'ENOENT', 21: 'EISDIR'}


def append_file(path, data):
    """Append `data` (bytes) to `path`; an OSError (PermissionError when refused) otherwise."""
    try:
        _host.append_file(clean(path), bytes(data))
    except Err as e:
        reason = str(e.value)
        m = _ERRNO_PREFIX.match(reason)
        if m is None:
            raise PermissionError(errno.EACCES, reason) from None
        name = _LINUX_ERRNO.get(int(m.group(1)), 'EACCES')
        raise OSError(getattr(errno, name, errno.EACCES), m.group(2)) from None


class HostHttpError(Exception):
    """A refused or failed `host.http` call: `kind` is `denied`, `timeout`, `connection` or
    `other`, `detail` the host's reason."""

    def __init__(self, message):
        text = str(message)
        kind, sep, detail = text.partition(':')
        kind = kind.strip().lower()
        if not sep or kind not in ('denied', 'timeout', 'connection'):
            kind, detail = 'other', text
        self.kind = kind
        self.detail = detail.strip()
        Exception.__init__(self, text)


def http(method, url, headers, body, timeout_ms):
    """One HTTP exchange through the host: returns (status, reason, headers, body)."""
    req = _host.HttpRequest(
        method=clean(method),
        url=clean(url),
        headers=[(clean(k), clean(v)) for k, v in headers],
        body=bytes(body),
        timeout_ms=timeout_ms,
    )
    try:
        resp = _host.http(req)
    except Err as e:
        raise HostHttpError(e.value) from None
    return resp.status, resp.reason, list(resp.headers), bytes(resp.body)
