"""Build-time warm-up: run the whole pipeline once (no host call) so every lazily imported
module and cache is in the snapshot, and a broken runtime fails the build, not a message."""

import linecache

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
    I, O = T.Value_Int, T.Value_Octets
    params = [
        T.Param('service_type', O(b'')), T.Param('source_addr_ton', I(1)),
        T.Param('source_addr_npi', I(1)), T.Param('source_addr', O(b'33600000000')),
        T.Param('dest_addr_ton', I(1)), T.Param('dest_addr_npi', I(1)),
        T.Param('destination_addr', O(b'33700000000')), T.Param('esm_class', I(0x43)),
        T.Param('protocol_id', I(0)), T.Param('priority_flag', I(0)),
        T.Param('schedule_delivery_time', O(b'240102030405000+')),
        T.Param('validity_period', O(b'000001000000000R')),
        T.Param('registered_delivery', I(1)), T.Param('replace_if_present_flag', I(0)),
        T.Param('data_coding', I(8)), T.Param('sm_default_msg_id', I(0)),
        T.Param('short_message', O('héllo'.encode('utf-16-be'))),
        T.Param('sar_msg_ref_num', I(7)), T.Param('callback_num', O(b'\x01\x01\x01123')),
    ]
    pdu = T.Pdu('submit_sm', 1, params, [T.CustomTlv(0x1400, b'abc')])
    user = T.User('u1', 'foo', 'g1', True, [
        ('authorization.http_send', 'True'), ('value_filter.source_address', '^33.*'),
        ('default_value.source_address', 'None'), ('quota.balance', '10.5'),
        ('quota.submit_sm_count', 'None')])
    return T.Routable(door, [pdu, pdu], user, None, 1700000000000000, ['1'], [])


def run():
    saved_routed = sandbox._open_routed
    sandbox._open_routed = True  # keep the real open() for the rest of the build
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
        for sid in ('warm-i', 'warm-f', 'warm-x', 'warm-s'):
            core.SCRIPTS.pop(sid, None)
        for name in ('<warm-up>', '<warm-up-x>', '<warm-up-s>'):
            linecache.cache.pop(name, None)
