"""Runs the built component under wasmtime-py (`pip install wasmtime`, which ships Wasmtime in
its wheel): a throwaway host for the component tests and a benchmark, not the gateway's.

    python3 tests/wasm_harness.py [WASM]      a smoke run plus per-call timings in the guest
"""

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


# `value` is an untagged variant for wasmtime-py (int / bytes / str do not overlap).
def I(v):
    return v


def O(v):
    return v


def Tx(v):
    return v


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


def routable(door='smpps', params=None, user=True, connector=None, tags=(), locked=(), pdus=1,
             custom_tlvs=()):
    if params is None:
        params = [
            ('service_type', O(b'')), ('source_addr_ton', I(1)), ('source_addr_npi', I(1)),
            ('source_addr', O(b'33600000000')), ('dest_addr_ton', I(1)), ('dest_addr_npi', I(1)),
            ('destination_addr', O(b'33700000000')), ('esm_class', I(0)), ('protocol_id', I(0)),
            ('priority_flag', I(0)), ('registered_delivery', I(0)),
            ('replace_if_present_flag', I(0)), ('data_coding', I(0)), ('sm_default_msg_id', I(0)),
            ('short_message', O(b'hello')),
        ]
    plist = [Obj(name=n, value=v) for n, v in params]
    pdu_list = [Obj(command='submit_sm' if door != 'smppc' else 'deliver_sm', seq_num=i + 1,
                    params=plist, custom_tlvs=[Obj(tag=t, value=v) for t, v in custom_tlvs])
                for i in range(pdus)]
    u = None
    if user and door != 'smppc':
        u = Obj(uid='u1', username='foo', gid='g1', enabled=True,
                mt_credential=[('authorization.http_send', 'True'), ('quota.balance', '10')])
    return Obj(door=door, pdus=pdu_list, user=u, connector=connector, datetime_us=1700000000000000,
               tags=list(tags), locked=list(locked))


# Timed inside the guest (wasmtime-py's own record conversion, in Python over ctypes, would
# drown the numbers): the runtime's work per call, without the canonical-ABI lifting and
# lowering a Rust host pays on top.
GUEST_BENCH = """
import time
from smsgate_runtime import convert, core
r = routable._wit
def t(label, fn, n=400):
    for _ in range(50):
        fn()
    best = 1e9
    for _ in range(7):
        s = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - s) / n)
    extra[label] = '%.1f us' % (best * 1e6)
core.load('b-f1', 'b', "if routable.user.username == 'foo':\\n    result = True\\n")
core.load('b-f2', 'b', "result = routable.pdu.params['source_addr'] == b'33600000000'\\n")
core.load('b-i0', 'b', "pass\\n")
core.load('b-i1', 'b', "routable.pdu.params['source_addr'] = '123456789'\\n")
core.load('b-i2', 'b', "routable.addTag(21401)\\n")
t('filter: routable.user.username', lambda: core.filter('b-f1', r))
t('filter: pdu.params[...]', lambda: core.filter('b-f2', r))
t('intercept: pass', lambda: core.intercept('b-i0', r))
t('intercept: addTag', lambda: core.intercept('b-i2', r))
t('intercept: rewrite source_addr', lambda: core.intercept('b-i1', r))
smpp_status = 0
"""


def main(argv):
    wasm = argv[1] if len(argv) > 1 else DEFAULT_WASM
    rt = Runtime(wasm)
    print('compile %.2f s, instantiate %.1f ms' % (rt.compile_s, rt.instantiate_s * 1e3))
    print('load ok ->', rt.load('s1', '/t/s1.py', "routable.pdu.params['source_addr'] = '123456789'"))
    print('load bad ->', rt.load('bad', '/t/bad.py', "x = 1\ny = (\n"))
    v = rt.intercept('s1', routable())
    print('intercept ->', [(p.name, p.value) for p in v.routable.pdus[0].params][:4])
    rt.load('bench', '/t/bench.py', GUEST_BENCH)
    v = rt.intercept('bench', routable())
    if isinstance(v, str):
        print(v)
        return
    for k, val in v.extra:
        print('%-36s %s (in the guest)' % (k, val))


if __name__ == '__main__':
    main(sys.argv)
