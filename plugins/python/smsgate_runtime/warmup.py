"""Build-time warm-up: run the whole pipeline once (no host call) so every lazily imported
module and cache is in the snapshot, and a broken runtime fails the build, not a message."""

import json
import linecache
import sys

from wit_world.imports import types as T

from smsgate_runtime import core, sandbox

_SCRIPT = '''
from smpp.pdu.pdu_types import AddrTon, AddrNpi, RegisteredDelivery, RegisteredDeliveryReceipt
p = routable.pdu.params
p['source_addr'] = '123456789'
p['source_addr_ton'] = AddrTon.ALPHANUMERIC
routable.lockPduParam('source_addr_ton')
p['registered_delivery'] = RegisteredDelivery(RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED)
routable.addTag(21401)
assert routable.hasTag('21401')
routable.removeTag(21401)
routable.addCustomTlv(0x1402, 'OctetString', hashlib.sha256(b'x').hexdigest())
s = json.dumps({'to': p['destination_addr'].decode(), 'at': str(routable.datetime)})
u = routable.user
u.mt_credential.getQuota('balance')
routable.pdu.nextPdu.params['short_message'].decode('utf-16-be', 'replace')
assert 'nope' not in p and p.get('schedule_delivery_time') is not None
q = routable.pdu.nextPdu.params
assert len(dict(q)) == len(q) == 20 and repr(q)
del q['message_payload']
q['dest_port'] = 1
datetime.datetime.strptime('2024-01-02', '%Y-%m-%d')
re.match(r'^\\+?33', p['destination_addr'].decode())
'''

_FILTER = '''
if routable.user.username == 'foo' and routable.pdu.params['data_coding'] is not None:
    result = True
'''

_FAILING = '''
def f():
    return undefined_name
routable.pdu.params['short_message'].nosuchattr
'''


def _routable(door=T.Door.SMPPS):
    b = lambda v: {'b': v.decode('latin-1')}  # noqa: E731
    params = json.dumps([
        ['service_type', b(b'')], ['source_addr_ton', 1], ['source_addr_npi', 1],
        ['source_addr', b(b'33600000000')], ['dest_addr_ton', 1], ['dest_addr_npi', 1],
        ['destination_addr', b(b'33700000000')], ['esm_class', 0x43], ['protocol_id', 0],
        ['priority_flag', 0], ['schedule_delivery_time', b(b'240102030405000+')],
        ['validity_period', b(b'000001000000000R')], ['registered_delivery', 1],
        ['replace_if_present_flag', 0], ['data_coding', 8], ['sm_default_msg_id', 0],
        ['short_message', b('h\u00e9llo'.encode('utf-16-be'))], ['sar_msg_ref_num', 7],
        ['callback_num', b(b'\x01\x01\x01123')], ['message_payload', {'t': 'x'}],
    ])
    pdus = [T.Pdu('submit_sm', 1, params, [T.CustomTlv(0x1400, b'abc')]),
            T.Pdu('submit_sm', 2, params, [])]
    user = T.User('u1', 'foo', 'g1', True, json.dumps({
        'authorization.http_send': 'True', 'value_filter.source_address': '^33.*',
        'default_value.source_address': 'None', 'quota.balance': '10.5',
        'quota.submit_sm_count': 'None'}))
    return T.Routable(door, pdus, user, None, 1700000000000000, ['1'], [])


def run():
    saved_routed = sandbox._open_routed
    sandbox._open_routed = True  # keep the real open() for the rest of the build
    # and the real streams, without the import guard (core enters the sandbox for good inside
    # the component: sandbox.reside())
    saved_streams = (sys.stdout, sys.stderr, sandbox.ImportGuard.active)
    try:
        for door in (T.Door.SMPPS, T.Door.HTTP):
            for sid, src, fn in (('warm-i', _SCRIPT, core.intercept), ('warm-f', _FILTER, core.filter)):
                if core.load(sid, '<warm-up>', src) is not None:
                    raise RuntimeError('warm-up script does not compile')
                fn(sid, _routable(door))
        core.load('warm-x', '<warm-up-x>', _FAILING)
        try:
            core.intercept('warm-x', _routable())
        except Exception as e:  # Err(failure.raised): formats a traceback
            if 'AttributeError' not in str(e.value.value):
                raise RuntimeError('warm-up: unexpected failure %r' % (e,))
        else:
            raise RuntimeError('warm-up: the failing script did not fail')
        core.load('warm-s', '<warm-up-s>', 'x = (')
        core.describe(NameError('x'))
    finally:
        sandbox._open_routed = saved_routed
        sys.stdout, sys.stderr, sandbox.ImportGuard.active = saved_streams
        for sid in ('warm-i', 'warm-f', 'warm-x', 'warm-s'):
            core.SCRIPTS.pop(sid, None)
        for name in ('<warm-up>', '<warm-up-x>', '<warm-up-s>'):
            linecache.cache.pop(name, None)
