"""The built component itself (CPython 3.14 on wasm32-wasip2), under wasmtime-py.

Skipped unless `import wasmtime` works (`pip install wasmtime`: Wasmtime ships in the wheel)
and the component exists ($SMSGATE_PY_WASM, or build.sh's default output). Compiling the
component takes several seconds; the instance is shared by the tests.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import wasmtime  # noqa: F401
    import wasm_harness as h
except ImportError:  # pragma: no cover
    h = None

WASM = os.environ.get('SMSGATE_PY_WASM') or (h.DEFAULT_WASM if h else '')
RT = None


def setUpModule():
    global RT
    if h is None:
        raise unittest.SkipTest('wasmtime (pip install wasmtime) is not installed')
    if not os.path.exists(WASM):
        raise unittest.SkipTest('%s is not built (plugins/python/build.sh)' % WASM)
    RT = h.Runtime(WASM)


class Component(unittest.TestCase):
    def setUp(self):
        RT.host.__init__()

    def intercept(self, source, **kw):
        RT.load('c-%x' % (hash(source) & 0xffffffff), '/opt/s.py', source)
        return RT.intercept('c-%x' % (hash(source) & 0xffffffff), h.routable(**kw))

    def filter(self, source, **kw):
        RT.load('c-%x' % (hash(source) & 0xffffffff), '/opt/s.py', source)
        return RT.filter('c-%x' % (hash(source) & 0xffffffff), h.routable(**kw))

    def test_load_errors(self):
        self.assertIsNone(RT.load('ok', '/opt/ok.py', 'x = 1'))
        self.assertEqual(RT.load('bad', '/opt/ton.py',
                                 "from smpp.pdu.pdu_types import AddrTon\n"
                                 "routable.pdu.params['source_addr_ton'] = AddrTon.ALPHANUMERIC;;\n"),
                         'SyntaxError: invalid syntax (ton.py, line 2)')
        self.assertIsNone(RT.intercept('never-loaded', h.routable()))  # failure.not-loaded

    def test_coercions(self):
        for source, expected in [('smpp_status = 0', (0, True, 520)),
                                 ('smpp_status = 10', (10, True, 520)),
                                 ('http_status = 404', (255, True, 404)),
                                 ('smpp_status = 0x500', (0x500, False, 520))]:
            v = self.intercept(source)
            self.assertEqual((getattr(v, 'smpp-status'), getattr(v, 'smpp-status-known'),
                              getattr(v, 'http-status')), expected, source)

    def test_raised(self):
        f = self.intercept("import json\njson.dumps({'n': routable.pdu.params['destination_addr']})")
        self.assertIsInstance(f, str)
        self.assertTrue(f.startswith('TypeError: Object of type bytes is not JSON serializable\nTraceback'), f)

    def test_override_source(self):
        v = self.intercept("routable.pdu.params['source_addr'] = '123456789'\nroutable.addTag(21401)")
        params = h.params_of(v.pdus[0])
        self.assertEqual(params['source_addr'], {'t': '123456789'})
        self.assertEqual(params['destination_addr'], {'b': '33700000000'})
        self.assertEqual((v.tags, v.locked), (['21401'], None))

    def test_json_params(self):
        every_byte = bytes(range(256))
        params = [(n, v) for n, v in h.DEFAULT_PARAMS if n != 'short_message'] + [
            ('short_message', h.O(every_byte)), ('message_payload', h.Tx('héllo ✓😀'))]
        self.assertTrue(self.filter("p = routable.pdu.params\n"
                                    "result = p['short_message'] == bytes(range(256)) and "
                                    "p['message_payload'] == 'héllo ✓😀' and p['validity_period'] is None",
                                    params=params))
        v = self.intercept("p = routable.pdu.params\n"
                           "p['short_message'] = p['short_message'][::-1]\n"
                           "p['destination_addr'] = 'é😀'\n"
                           "p['dest_port'] = 5\n"
                           "assert len(p) == 19 and list(p)[0] == 'service_type'\n"   # all decoded
                           "del p['protocol_id']\n", params=params)
        out = h.params_of(v.pdus[0])
        self.assertEqual(out['short_message']['b'].encode('latin-1'), every_byte[::-1])
        self.assertEqual(out['destination_addr'], {'t': 'é😀'})
        self.assertEqual(out['message_payload'], {'t': 'héllo ✓😀'})
        self.assertNotIn('protocol_id', out)
        # untouched: only the tags cross back
        r = h.routable(params=params)
        RT.load('c-tag', '/opt/s.py', 'routable.addTag(1)')
        v = RT.intercept('c-tag', r)
        self.assertEqual((v.pdus, v.tags, v.locked), (None, ['1'], None))
        self.assertTrue(self.filter("c = routable.user.mt_credential\n"
                                    "result = c.getAuthorization('http_send') and c.getQuota('balance') == 10"))

    def test_doors(self):
        for door, cls in (('http', 'RoutableSubmitSm'), ('smpps', 'RoutableSubmitSm'), ('smppc', 'RoutableDeliverSm')):
            self.assertTrue(self.filter("result = type(routable).__name__ == %r" % cls, door=door), door)
            v = self.intercept('routable.addTag(1)', door=door)
            self.assertEqual((v.pdus, v.tags), (None, ['1']), door)
        self.assertTrue(self.filter("result = type(routable.pdu.params['data_coding']) is int", door='http'))
        self.assertTrue(self.filter("result = type(routable.pdu.params['data_coding']) is not int"))

    def test_filter(self):
        self.assertTrue(self.filter("result = routable.user.username == 'foo'"))
        self.assertFalse(self.filter("result = 'yes'"))
        self.assertTrue(self.filter("result = routable.connector.cid == 'abc'", door='smppc', connector='abc'))

    def test_sandbox(self):
        self.intercept("print('hi')\nimport logging\nlogging.getLogger('x').warning('w')\n"
                       "open('/var/log/jasmin/a.log', 'a').write('line\\n')")
        self.assertEqual([(str(l), m) for l, m in RT.host.logs][:2][0][1], 'hi')
        self.assertIn('x: w', [m for _, m in RT.host.logs])
        self.assertEqual(RT.host.files, [('/var/log/jasmin/a.log', b''), ('/var/log/jasmin/a.log', b'line\n')])
        f = self.intercept("open('/etc/passwd').read()")
        self.assertTrue(f.startswith("FileNotFoundError: [Errno 44] No such file or directory: '/etc/passwd'"), f)
        f = self.intercept("import requests\nrequests.get('https://example.com/')")
        self.assertTrue(f.startswith('requests.exceptions.ConnectionError: denied:'), f)
        f = self.intercept('import MySQLdb')
        self.assertTrue(f.startswith("ModuleNotFoundError: No module named 'MySQLdb'"), f)
        v = self.intercept("import socket\ntry:\n    socket.create_connection(('10.0.0.1', 3422))\n"
                           "except OSError:\n    smpp_status = 254\n")
        self.assertEqual(getattr(v, 'smpp-status'), 254)

    def test_imports(self):
        v = self.intercept("import re, json, datetime, time, hashlib, struct, string, logging, logging.handlers, "
                           "math, random, base64, binascii, collections, urllib.parse, urllib.request, "
                           "urllib.error, socket, encodings.idna, uuid, decimal, copy, traceback, enum, "
                           "typing, functools, itertools, pickle, os, sys, calendar, io, codecs, requests\n"
                           "'é'.encode('idna'); b'\\xe9'.decode('cp1252'); time.strptime('2024', '%Y')\n"
                           "datetime.datetime.utcnow(); uuid.uuid4(); random.random()\n"
                           "extra['now'] = datetime.datetime.now().year > 2000\nsmpp_status = 0")
        self.assertEqual(v.extra, [('now', 'True')])

    def test_exit_does_not_kill_the_instance(self):
        for source in ('import sys\nsys.exit(1)', 'import os\nos._exit(1)', 'raise KeyboardInterrupt',
                       'def f(n):\n    return f(n + 1)\nf(0)'):
            f = self.intercept(source)
            self.assertIsInstance(f, str, source)
        self.assertTrue(self.filter('result = True'))


if __name__ == '__main__':
    unittest.main()
