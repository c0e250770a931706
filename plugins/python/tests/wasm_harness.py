"""Runs the built component under wasmtime-py (`pip install wasmtime`, which ships Wasmtime in
its wheel): a throwaway host for the component tests and a benchmark, not the gateway's.

    python3 tests/wasm_harness.py [WASM]      a smoke run plus per-call timings in the guest
"""

import json
import os
import sys
import time

import wasmtime
from wasmtime import component as wc

DEFAULT_WASM = os.path.join(
    os.environ.get('CARGO_TARGET_DIR') or os.path.expanduser('~/.cache/smsgate-target'),
    'wasm-plugins', 'smsgate-python.wasm')


class Obj(wc.Record):
    """A record for wasmtime-py (attributes = fields)."""

    def __init__(self, **kw):
        self.__dict__.update({k.replace('_', '-'): v for k, v in kw.items()})


# Param values as the host's JSON carries them (`pdu.params` is a JSON string).
def I(v):
    return v


def O(v):
    return {'b': bytes(v).decode('latin-1')}


def Tx(v):
    return {'t': v}


class Host:
    """Records what the component asked of the host."""

    def __init__(self):
        self.logs = []
        self.files = []
        self.http_requests = []
        self.http_answer = None  # callable(req) -> Variant('ok'|'err', ...)
        self.refuse_prefix = None

    def log(self, store, level, message):
        self.logs.append((level, message))

    def append_file(self, store, path, data):
        if self.refuse_prefix is None or path.startswith(self.refuse_prefix):
            self.files.append((path, bytes(data)))
            return None
        return 'path not granted: %s' % path

    def http(self, store, req):
        self.http_requests.append(req)
        if self.http_answer is None:
            return 'denied: no host granted'
        return self.http_answer(req)


class Runtime:
    def __init__(self, wasm=DEFAULT_WASM, engine=None, component=None):
        self.engine = engine or wasmtime.Engine()
        t = time.perf_counter()
        self.component = component or wc.Component.from_file(self.engine, wasm)
        self.compile_s = time.perf_counter() - t
        self.host = Host()
        self.linker = wc.Linker(self.engine)
        self.linker.add_wasip2()
        with self.linker.root() as root:
            with root.add_instance('smsgate:python/host@0.1.0') as h:
                h.add_func('log', self.host.log)
                h.add_func('append-file', self.host.append_file)
                h.add_func('http', self.host.http)
        self.store = wasmtime.Store(self.engine)
        self.store.set_wasi(wasmtime.WasiConfig())
        t = time.perf_counter()
        self.instance = self.linker.instantiate(self.store, self.component)
        self.instantiate_s = time.perf_counter() - t
        self._load = self.instance.get_func(self.store, 'load')
        self._intercept = self.instance.get_func(self.store, 'intercept')
        self._filter = self.instance.get_func(self.store, 'filter')

    def _call(self, f, *args):
        r = f(self.store, *args)
        f.post_return(self.store)
        return r

    def load(self, id, name, source):
        return self._call(self._load, id, name, source)

    def intercept(self, id, r):
        return self._call(self._intercept, id, r)

    def filter(self, id, r):
        return self._call(self._filter, id, r)


DEFAULT_PARAMS = [
    ('service_type', O(b'')), ('source_addr_ton', I(1)), ('source_addr_npi', I(1)),
    ('source_addr', O(b'33600000000')), ('dest_addr_ton', I(1)), ('dest_addr_npi', I(1)),
    ('destination_addr', O(b'33700000000')), ('esm_class', I(0)), ('protocol_id', I(0)),
    ('priority_flag', I(0)), ('registered_delivery', I(0)),
    ('replace_if_present_flag', I(0)), ('data_coding', I(0)), ('sm_default_msg_id', I(0)),
    ('short_message', O(b'hello')),
]
DEFAULT_CREDENTIAL = {'authorization.http_send': 'True', 'quota.balance': '10'}


def routable(door='smpps', params=None, user=True, connector=None, tags=(), locked=(), pdus=1,
             custom_tlvs=(), credential=None):
    params_json = json.dumps([[n, v] for n, v in (DEFAULT_PARAMS if params is None else params)])
    pdu_list = [Obj(command='submit_sm' if door != 'smppc' else 'deliver_sm', seq_num=i + 1,
                    params=params_json, custom_tlvs=[Obj(tag=t, value=v) for t, v in custom_tlvs])
                for i in range(pdus)]
    u = None
    if user and door != 'smppc':
        u = Obj(uid='u1', username='foo', gid='g1', enabled=True,
                mt_credential=json.dumps(DEFAULT_CREDENTIAL if credential is None else credential))
    return Obj(door=door, pdus=pdu_list, user=u, connector=connector, datetime_us=1700000000000000,
               tags=list(tags), locked=list(locked))


def params_of(pdu):
    """name -> JSON value of a PDU record the component answered."""
    return dict(json.loads(pdu.params))


# Timed inside the guest (wasmtime-py's own record conversion, in Python over ctypes, would
# drown the numbers): the runtime's work per call, without the canonical-ABI lifting and
# lowering a Rust host pays on top.
# The scripts timed: (a) and (b) filters, (c) the interceptor rewriting the sender.
SCRIPTS = [
    ('filter', 'f-user', 'filter: routable.user.username', "if routable.user.username == 'foo':\n    result = True\n"),
    ('filter', 'f-dest', "filter: pdu.params['destination_addr']",
     "result = routable.pdu.params['destination_addr'] == b'33700000000'\n"),
    ('filter', 'f-true', 'filter: result = True', "result = True\n"),
    ('intercept', 'i-pass', 'intercept: pass', "pass\n"),
    ('intercept', 'i-tag', 'intercept: addTag', "routable.addTag(21401)\n"),
    ('intercept', 'i-src', "intercept: params['source_addr'] = ...",
     "routable.pdu.params['source_addr'] = '123456789'\n"),
]

# Timed inside the guest (wasmtime-py's own record conversion, in Python over ctypes, would
# drown the numbers): the runtime's work per call (core.filter / core.intercept on the record
# already lifted), without the canonical-ABI lifting and lowering of the export.
GUEST_BENCH = """
import time
from smsgate_runtime import core
r = routable._wit
wp = r.pdus[0]
p0 = wp.params
def t(label, kind, sid, n=400):
    fn = core.filter if kind == 'filter' else core.intercept
    def call():
        fn(sid, r)
        # an interceptor updates the host's PDU records in place: undo it
        wp.params = p0
    for _ in range(50):
        call()
    best = 1e9
    for _ in range(7):
        s = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - s) / n)
    extra[label] = '%.1f' % (best * 1e6)
for kind, sid, label, source in SCRIPTS:
    core.load(sid, sid, source)
    t(label, kind, sid)
smpp_status = 0
"""


def _time_calls(fn, n=200, rounds=5):
    for _ in range(20):
        fn()
    samples = []
    for _ in range(rounds):
        s = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - s) / n)
    samples.sort()
    return samples[0], samples[len(samples) // 2]


def bench(wasm=DEFAULT_WASM, fuel=False):
    """{label: (guest us, whole call best us, whole call median us, fuel per call or None)}."""
    rt = Runtime(wasm)
    out = {}
    v = rt.intercept('bench', routable()) if rt.load(
        'bench', '/t/bench.py', 'SCRIPTS = %r\n' % (SCRIPTS,) + GUEST_BENCH) is None else None
    guest = dict(v.extra) if v is not None and not isinstance(v, str) else {}
    r = routable()
    for kind, sid, label, source in SCRIPTS:
        rt.load(sid, sid, source)
        f = rt.filter if kind == 'filter' else rt.intercept
        best, median = _time_calls(lambda: f(sid, r))
        out[label] = [float(guest.get(label, 'nan')), best * 1e6, median * 1e6, None]
    if fuel:
        # Guest instructions (fuel) per export call: the lifting, the runtime, the lowering.
        cfg = wasmtime.Config()
        cfg.consume_fuel = True
        engine = wasmtime.Engine(cfg)
        store_cls = wasmtime.Store

        def fueled_store(e):
            st = store_cls(e)
            st.set_fuel(10 ** 15)
            return st
        wasmtime.Store = fueled_store
        try:
            frt = Runtime(wasm, engine=engine)
        finally:
            wasmtime.Store = store_cls
        for kind, sid, label, source in SCRIPTS:
            frt.load(sid, sid, source)
            f = frt.filter if kind == 'filter' else frt.intercept
            f(sid, r)
            before = frt.store.get_fuel()
            for _ in range(50):
                f(sid, r)
            out[label][3] = (before - frt.store.get_fuel()) / 50
    return rt, out


def main(argv):
    fuel = '--fuel' in argv
    args = [a for a in argv[1:] if a != '--fuel']
    wasm = args[0] if args else DEFAULT_WASM
    rt = Runtime(wasm)
    print('compile %.2f s, instantiate %.1f ms' % (rt.compile_s, rt.instantiate_s * 1e3))
    print('load ok ->', rt.load('s1', '/t/s1.py', "routable.pdu.params['source_addr'] = '123456789'"))
    print('load bad ->', rt.load('bad', '/t/bad.py', "x = 1\ny = (\n"))
    v = rt.intercept('s1', routable())
    print('intercept ->', v.pdus[0].params[:120])
    _, results = bench(wasm, fuel)
    print('%-40s %9s %22s%s' % ('per call (us)', 'in guest', 'wasmtime-py best/med',
                                '   guest fuel/call' if fuel else ''))
    for label, (guest, best, median, f) in results.items():
        print('%-40s %9.1f %10.1f /%9.1f%s' % (label, guest, best, median,
                                                '   %12.0f' % f if f is not None else ''))


if __name__ == '__main__':
    main(sys.argv)
