"""load / intercept / filter: Jasmin's interceptor.py and EvalPyFilter.match, over WIT."""

import datetime
import hashlib
import json
import linecache
import math
import re
import struct
import sys
import traceback

from componentize_py_types import Err
from wit_world.imports import types as T

from smpp.pdu import constants as _C
from smsgate_runtime import convert, sandbox

_Failure_NotLoaded = T.Failure_NotLoaded
_Failure_Raised = T.Failure_Raised
_Verdict = T.Verdict

# id -> code object
SCRIPTS = {}
_SCRIPTS_get = SCRIPTS.get

# An interceptor's namespace, copied per call: Jasmin master injects these modules.
_INTERCEPT_BASE = {
    '__builtins__': sandbox.SANDBOX_BUILTINS,
    'hashlib': hashlib,
    're': re,
    'json': json,
    'datetime': datetime,
    'math': math,
    'struct': struct,
    'routable': None,
    'smpp_status': None,
    'http_status': None,
    'extra': None,
}
_BUILTINS = sandbox.SANDBOX_BUILTINS

_sys = sys
_STDOUT = sandbox.STDOUT
_STDERR = sandbox.STDERR
_Guard = sandbox.ImportGuard
_from_routable = convert.from_routable
_new = object.__new__
_RoutableSubmitSm = convert._RoutableSubmitSm
_RoutableDeliverSm = convert._RoutableDeliverSm
_SMPPC = T.Door.SMPPC
_HTTP = T.Door.HTTP
_DECODE_SMPP = convert.DECODE_SMPP
_DECODE_HTTP = convert.DECODE_HTTP
# Inside the component the sandbox stays entered between calls (sandbox.reside()).
_RESIDENT = sandbox.RESIDENT

# Command statuses SMPP 3.4 (smpp.pdu's constants) knows.
KNOWN_STATUSES = frozenset(k for k in _C.command_status_value_map if k >= 0)

_S64_MIN = -(1 << 63)
_S64_MAX = (1 << 63) - 1
_THIS_FILE = __file__


def load(id, name, source):
    """Compile `source`; None, or Python's message for the error."""
    if id in SCRIPTS:
        return None
    try:
        code = compile(source, name, 'exec', dont_inherit=True)
    except BaseException as e:  # SyntaxError, ValueError (NUL bytes), RecursionError, ...
        return convert._clean('%s: %s' % (type(e).__name__, e))
    SCRIPTS[id] = code
    # Tracebacks show the script's lines (there is no file to read them from).
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    return None


def describe(e):
    """'Type: message' then the traceback, without the runtime's own frames on top."""
    try:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == _THIS_FILE:
            tb = tb.tb_next
        t = type(e)
        name = t.__qualname__
        if t.__module__ not in ('builtins', '__main__'):
            name = '%s.%s' % (t.__module__, name)
        message = str(e)
        head = '%s: %s' % (name, message) if message else name
        body = ''.join(traceback.format_exception(type(e), e, tb))
        return convert._clean(head + '\n' + body)
    except BaseException:
        try:
            return convert._clean('%s: %s' % (type(e).__name__, e))
        except BaseException:
            return type(e).__name__


def intercept(id, r):
    """A verdict (Jasmin's coercions applied) or raises Err(failure)."""
    code = _SCRIPTS_get(id)
    if code is None:
        raise Err(_Failure_NotLoaded())
    try:
        glo = _INTERCEPT_BASE.copy()
        # convert.to_routable(r), inlined
        rt = _new(_RoutableDeliverSm if r.door is _SMPPC else _RoutableSubmitSm)
        rt.__dict__ = {'_wit': r, '_decode': _DECODE_HTTP if r.door is _HTTP else _DECODE_SMPP}
        glo['routable'] = rt
        glo['extra'] = {}
        if _RESIDENT:
            if not _Guard.active:
                sandbox.reside()
            try:
                exec(code, glo)
            finally:
                if _STDOUT._buf or _STDERR._buf or _sys.stdout is not _STDOUT or _sys.stderr is not _STDERR:
                    _resident_reset()
        else:
            _run(code, glo, glo)
        if glo['smpp_status'] is None and glo['http_status'] is None:
            pdus, tags, locked = _from_routable(glo['routable'], r)
            return _Verdict(pdus, tags, locked, None, False, None, [])
        return _answer(glo)
    except BaseException as e:
        failure = describe(e)
    raise Err(_Failure_Raised(failure))


def _run(code, glo, loc):
    """exec with the sandbox entered (outside the component: per call)."""
    saved = sandbox.enter()
    try:
        exec(code, glo, loc)
    finally:
        sandbox.leave(saved)


def _resident_reset():
    """After a script inside the component: its partial lines to the log, and the streams back
    if it replaced them."""
    if _STDOUT._buf:
        _STDOUT.flush()
    if _STDERR._buf:
        _STDERR.flush()
    sandbox.reside()


def _answer(glo):
    """Both statuses set (after interceptor.py's coercions): the routable's changes dropped."""
    smpp_status = glo['smpp_status']
    http_status = glo['http_status']
    # interceptor.py: if one status is set, both must be.
    if smpp_status is None or not isinstance(smpp_status, int) or not _S64_MIN <= smpp_status <= _S64_MAX:
        smpp_status = 255  # ESME_RUNKNOWNERR
    elif http_status is None or not isinstance(http_status, int) or not _S64_MIN <= http_status <= _S64_MAX:
        http_status = 520  # Unknown Error
    if not isinstance(http_status, int) or not _S64_MIN <= http_status <= _S64_MAX:
        # Jasmin passes a non-int http_status on (only smpp_status was coerced); it cannot
        # cross WIT, so it is answered as 520 too.
        http_status = 520
    extra = glo['extra']
    items = extra.items() if hasattr(extra, 'items') else ()
    clean = convert._clean
    pairs = [(clean(str(k)), clean(str(v))) for k, v in items]
    smpp_status = int(smpp_status)
    return _Verdict(None, None, None, smpp_status, smpp_status in KNOWN_STATUSES, int(http_status), pairs)


def filter(id, r):
    """True when the script left `result` exactly True; raises Err(failure)."""
    code = _SCRIPTS_get(id)
    if code is None:
        raise Err(_Failure_NotLoaded())
    try:
        # convert.to_routable(r), inlined
        rt = _new(_RoutableDeliverSm if r.door is _SMPPC else _RoutableSubmitSm)
        rt.__dict__ = {'_wit': r, '_decode': _DECODE_HTTP if r.door is _HTTP else _DECODE_SMPP}
        loc = {'routable': rt, 'result': False}
        # Filters.py: eval(node, {}, glo)
        if _RESIDENT:
            if not _Guard.active:
                sandbox.reside()
            try:
                exec(code, {'__builtins__': _BUILTINS}, loc)
            finally:
                if _STDOUT._buf or _STDERR._buf or _sys.stdout is not _STDOUT or _sys.stderr is not _STDERR:
                    _resident_reset()
        else:
            _run(code, {'__builtins__': _BUILTINS}, loc)
        return loc['result'] is True
    except BaseException as e:
        failure = describe(e)
    raise Err(_Failure_Raised(failure))
