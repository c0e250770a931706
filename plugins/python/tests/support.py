"""Test support: the runtime imported natively (CPython of the machine) with the Python
bindings componentize-py generates for the world, and a fake host behind them."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN = os.path.dirname(HERE)

_bindings = os.environ.get('SMSGATE_PY_BINDINGS')
if not _bindings:
    _bindings = tempfile.mkdtemp(prefix='smsgate-py-bindings-')
    atexit.register(shutil.rmtree, _bindings, True)
    subprocess.run(['bash', os.path.join(PLUGIN, 'build.sh'), '--bindings', _bindings], check=True)

for p in (os.path.join(PLUGIN, 'shims'), PLUGIN, _bindings):
    if p not in sys.path:
        sys.path.insert(0, p)
# The shims must win over packages of the machine (a real `requests`).
for name in [m for m in sys.modules if m == 'requests' or m.startswith('requests.')]:
    del sys.modules[name]

from componentize_py_types import Err  # noqa: E402
from wit_world.imports import host as _host  # noqa: E402
from wit_world.imports import types as T  # noqa: E402


class FakeHost:
    def __init__(self):
        self.reset()

    def reset(self):
        self.logs = []
        self.files = []
        self.requests = []
        self.granted_prefix = '/var/log/jasmin/'
        self.http_handler = None

    def log(self, level, message):
        self.logs.append((level.name.lower(), message))

    def append_file(self, path, data):
        assert isinstance(data, bytes)
        if not path.startswith(self.granted_prefix):
            # as the gateway words it (plugin-host/src/python/files.rs)
            raise Err("[Errno 13] Permission denied: '%s' (scripts may only append to files under %s)"
                      % (path, self.granted_prefix))
        self.files.append((path, data))

    def http(self, req):
        self.requests.append(req)
        if self.http_handler is None:
            raise Err('denied: no host is granted to this script')
        return self.http_handler(req)


HOST = FakeHost()
_host.log = HOST.log
_host.append_file = HOST.append_file
_host.http = HOST.http

import app  # noqa: E402

RUNTIME = app.WitWorld()

def I(v):
    """An integer param value as the host's JSON carries it."""
    return v


def O(v):
    """Octets: {"b": one char U+0000-U+00FF per byte}."""
    return {'b': bytes(v).decode('latin-1')}


def X(v):
    """Text (a str a script assigned): {"t": ...}."""
    return {'t': v}


def params_json(pairs):
    """`pdu.params` as the host sends it: JSON `[[name, value], ...]`."""
    return json.dumps([[k, v] for k, v in pairs])


def mandatory(**overrides):
    """The 15 mandatory submit_sm/deliver_sm params as the host sends them (JSON; absent time
    strings are left out), then `overrides` (None: left out)."""
    params = {
        'service_type': O(b''), 'source_addr_ton': I(1), 'source_addr_npi': I(1),
        'source_addr': O(b'33600000001'), 'dest_addr_ton': I(1), 'dest_addr_npi': I(1),
        'destination_addr': O(b'33700000002'), 'esm_class': I(0), 'protocol_id': I(0),
        'priority_flag': I(0), 'registered_delivery': I(0), 'replace_if_present_flag': I(0),
        'data_coding': I(0), 'sm_default_msg_id': I(0), 'short_message': O(b'hello world'),
    }
    for k, v in overrides.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return params_json(params.items())


DEFAULT_CREDENTIAL = {
    'authorization.http_send': 'True', 'authorization.http_bulk': 'False',
    'value_filter.source_address': '^33.*', 'value_filter.content': '.*',
    'default_value.source_address': 'None', 'quota.balance': '10.5',
    'quota.submit_sm_count': '100', 'quota.http_throughput': 'None',
}


def user(username='foo', credential=None):
    """The user record: the credential a JSON object (dict or list of pairs given)."""
    if credential is None:
        credential = DEFAULT_CREDENTIAL
    return T.User('u1', username, 'g1', True, json.dumps(dict(credential)))


def routable(door=T.Door.SMPPS, pdus=None, username='foo', connector=None, tags=(), locked=(),
             datetime_us=1700000000123456, **overrides):
    if pdus is None:
        command = 'deliver_sm' if door is T.Door.SMPPC else 'submit_sm'
        pdus = [T.Pdu(command, None if door is T.Door.HTTP else 1, mandatory(**overrides), [])]
    u = None
    if door is not T.Door.SMPPC and username is not None:
        u = user(username)
    if door is T.Door.SMPPC and connector is None:
        connector = 'abc'
    return T.Routable(door, pdus, u, connector, datetime_us, list(tags), list(locked))


def load(source, id=None, name='/opt/jasmin-scripts/test.py'):
    """Load `source`; returns the id (raises Err with Python's message)."""
    id = id or 'id-%x' % (hash(source) & 0xffffffffffff)
    RUNTIME.load(id, name, source)
    return id


class Outcome:
    """A verdict beside the routable it was given: the verdict's fields, and `routable`, the
    given one with the verdict's changes applied (as the host applies them)."""

    def __init__(self, verdict, given):
        self.verdict = verdict
        self.given = given

    def __getattr__(self, name):
        return getattr(self.verdict, name)

    @property
    def routable(self):
        v, r = self.verdict, self.given
        return T.Routable(r.door, r.pdus if v.pdus is None else v.pdus, r.user, r.connector,
                          r.datetime_us, r.tags if v.tags is None else v.tags,
                          r.locked if v.locked is None else v.locked)


def run_intercept(id, r):
    return Outcome(RUNTIME.intercept(id, r), r)


def intercept(source, r=None, **kw):
    return run_intercept(load(source), r or routable(**kw))


def filter(source, r=None, **kw):
    return RUNTIME.filter(load(source), r or routable(**kw))


def raised(fn, *args):
    """The failure of a call (Err's value)."""
    try:
        fn(*args)
    except Err as e:
        return e.value
    raise AssertionError('the call did not fail')


def params_of(pdu):
    """name -> JSON value of a PDU record's params (raises on a duplicate name)."""
    pairs = json.loads(pdu.params)
    out = dict(pairs)
    assert len(out) == len(pairs), pdu.params
    return out


def param_names(pdu):
    return [k for k, _ in json.loads(pdu.params)]
