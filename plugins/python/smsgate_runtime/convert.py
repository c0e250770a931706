"""WIT records <-> the objects Jasmin hands scripts (`RoutableSubmitSm`, `SubmitSM`, ...).

Per call, only what a script touches is built: `routable.pdu` (then `pdu.nextPdu`),
`pdu.params` (the host's JSON, parsed then), `pdu.custom_tlvs`, `routable.user`,
`routable.connector`, `routable.datetime`, the tags and locks and `user.mt_credential` (JSON
too) are lazy attributes, made on first access from the WIT record kept in the object.
Going back, the host's record is returned, updated in place only where the script changed
something: a PDU whose params were not written keeps the very JSON string the host sent, and
one that was gets the host's pairs with only the names written (or objects changed in
place) encoded again.

Types follow Jasmin 0.11.1 (smpp.pdu decoding for the SMPP doors; `data_coding` an int for
the HTTP API): enums for TON/NPI/priority/replace-if-present and enum TLVs, EsmClass,
RegisteredDelivery, DataCoding objects, datetime / SMPPRelativeTime for time strings,
CallbackNum / Subaddress for those TLVs, bytes for octet strings, int for numbers.
"""

from datetime import datetime, timedelta, timezone
from enum import Enum
import json
import re

from wit_world.imports import types as T

from smsgate_runtime import glue, hostio

glue.install()  # before T.Door's members are taken below
from smpp.pdu import constants as C
from smpp.pdu import pdu_types as P
from smpp.pdu import smpp_time
from smpp.pdu import operations as O
from jasmin.routing import Routables as R
from jasmin.routing import jasminApi as A

CustomTlv = T.CustomTlv
Pdu = T.Pdu
Door = T.Door

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1


class ConversionError(ValueError):
    """A value a script left that cannot go back to the gateway (Jasmin would fail to encode
    it later)."""


# --- enum fields ---------------------------------------------------------------------------

def _by_value(enum_cls, name_map):
    return {v: getattr(enum_cls, n) for n, v in name_map.items() if v >= 0 and hasattr(enum_cls, n)}


# field -> (enum class, smpp.pdu name map: name -> SMPP value), as pdu_encoding's encoders.
ENUM_FIELDS = {
    'source_addr_ton': (P.AddrTon, C.addr_ton_name_map),
    'source_addr_npi': (P.AddrNpi, C.addr_npi_name_map),
    'dest_addr_ton': (P.AddrTon, C.addr_ton_name_map),
    'dest_addr_npi': (P.AddrNpi, C.addr_npi_name_map),
    'esme_addr_ton': (P.AddrTon, C.addr_ton_name_map),
    'esme_addr_npi': (P.AddrNpi, C.addr_npi_name_map),
    'addr_ton': (P.AddrTon, C.addr_ton_name_map),
    'addr_npi': (P.AddrNpi, C.addr_npi_name_map),
    'priority_flag': (P.PriorityFlag, C.priority_flag_name_map),
    'replace_if_present_flag': (P.ReplaceIfPresentFlag, C.replace_if_present_flap_name_map),
    'dest_addr_subunit': (P.AddrSubunit, C.addr_subunit_name_map),
    'source_addr_subunit': (P.AddrSubunit, C.addr_subunit_name_map),
    'dest_network_type': (P.NetworkType, C.network_type_name_map),
    'source_network_type': (P.NetworkType, C.network_type_name_map),
    'dest_bearer_type': (P.BearerType, C.bearer_type_name_map),
    'source_bearer_type': (P.BearerType, C.bearer_type_name_map),
    'payload_type': (P.PayloadType, C.payload_type_name_map),
    'privacy_indicator': (P.PrivacyIndicator, C.privacy_indicator_name_map),
    'language_indicator': (P.LanguageIndicator, C.language_indicator_name_map),
    'display_time': (P.DisplayTime, C.display_time_name_map),
    'ms_availability_status': (P.MsAvailabilityStatus, C.ms_availability_status_name_map),
    'delivery_failure_reason': (P.DeliveryFailureReason, C.delivery_failure_reason_name_map),
    'more_messages_to_send': (P.MoreMessagesToSend, C.more_messages_to_send_name_map),
    'message_state': (P.MessageState, C.message_state_name_map),
    'dest_flag': (P.DestFlag, C.dest_flag_name_map),
}
ENUM_NAME_MAPS = {field: name_map for field, (_, name_map) in ENUM_FIELDS.items()}

# Any smpp.pdu enum member -> its SMPP value (for an enum put in a field of another kind).
_ENUM_SMPP_VALUE = {}
for _cls, _map in [
        (P.AddrTon, C.addr_ton_name_map), (P.AddrNpi, C.addr_npi_name_map),
        (P.PriorityFlag, C.priority_flag_name_map),
        (P.ReplaceIfPresentFlag, C.replace_if_present_flap_name_map),
        (P.AddrSubunit, C.addr_subunit_name_map), (P.NetworkType, C.network_type_name_map),
        (P.BearerType, C.bearer_type_name_map), (P.PayloadType, C.payload_type_name_map),
        (P.PrivacyIndicator, C.privacy_indicator_name_map),
        (P.LanguageIndicator, C.language_indicator_name_map),
        (P.DisplayTime, C.display_time_name_map),
        (P.MsAvailabilityStatus, C.ms_availability_status_name_map),
        (P.DeliveryFailureReason, C.delivery_failure_reason_name_map),
        (P.MoreMessagesToSend, C.more_messages_to_send_name_map),
        (P.MessageState, C.message_state_name_map), (P.DestFlag, C.dest_flag_name_map),
        (P.CommandStatus, C.command_status_name_map), (P.CommandId, C.command_id_name_map),
        (P.Tag, C.tag_name_map),
        (P.EsmClassMode, C.esm_class_mode_name_map), (P.EsmClassType, C.esm_class_type_name_map),
        (P.EsmClassGsmFeatures, C.esm_class_gsm_features_name_map),
        (P.RegisteredDeliveryReceipt, C.registered_delivery_receipt_name_map),
        (P.RegisteredDeliverySmeOriginatedAcks, C.registered_delivery_sme_originated_acks_name_map),
        (P.DataCodingDefault, C.data_coding_default_name_map),
        (P.DataCodingGsmMsgCoding, C.data_coding_gsm_message_coding_name_map),
        (P.DataCodingGsmMsgClass, C.data_coding_gsm_message_class_name_map),
        (P.CallbackNumDigitModeIndicator, C.callback_num_digit_mode_indicator_name_map),
        (P.SubaddressTypeTag, C.subaddress_type_tag_name_map)]:
    for _name, _value in _map.items():
        if hasattr(_cls, _name):
            _ENUM_SMPP_VALUE[getattr(_cls, _name)] = _value

# --- composite fields: int -> object (tables of the 256 values) ----------------------------

_ESM_MODE = {v: getattr(P.EsmClassMode, n) for n, v in C.esm_class_mode_name_map.items()}
_ESM_TYPE = {v: getattr(P.EsmClassType, n) for n, v in C.esm_class_type_name_map.items()}
_ESM_FEATURES = [(v, getattr(P.EsmClassGsmFeatures, n))
                 for n, v in C.esm_class_gsm_features_name_map.items()]
_ESM_MODE_VALUE = {m: v for v, m in _ESM_MODE.items()}
_ESM_TYPE_VALUE = {m: v for v, m in _ESM_TYPE.items()}
_ESM_FEATURE_VALUE = {m: v for v, m in _ESM_FEATURES}


def _esm_table():
    table = []
    for i in range(256):
        mode = _ESM_MODE.get(i & 0x03)
        typ = _ESM_TYPE.get(i & 0x3c)
        if mode is None or typ is None:
            table.append(None)
            continue
        table.append((mode, typ, tuple(f for v, f in _ESM_FEATURES if v & i & 0xc0)))
    return table


_ESM = _esm_table()
_new_tuple = tuple.__new__
_EsmClass = P.EsmClass
_RegisteredDelivery = P.RegisteredDelivery


def esm_class_from_int(v):
    entry = _ESM[v] if 0 <= v < 256 else None
    if entry is None:
        return v
    return _new_tuple(_EsmClass, (entry[0], entry[1], set(entry[2])))


# Enum members hash in Python (Enum.__hash__), so the encoders look members up by id():
# they are singletons that live as long as the interpreter.
_ESM_MODE_ID = {id(m): v for v, m in _ESM_MODE.items()}
_ESM_TYPE_ID = {id(m): v for v, m in _ESM_TYPE.items()}
_ESM_FEATURE_ID = {id(m): v for v, m in _ESM_FEATURES}


def esm_class_to_int(esm):
    mode = _ESM_MODE_ID.get(id(esm[0]))
    typ = _ESM_TYPE_ID.get(id(esm[1]))
    if mode is not None and typ is not None:
        value = mode | typ
        for f in esm[2]:
            fv = _ESM_FEATURE_ID.get(id(f))
            if fv is None:
                break
            value |= fv
        else:
            return value
    # As pdu_encoding.EsmClassEncoder: by the members' names.
    value = C.esm_class_mode_name_map[esm.mode.name] | C.esm_class_type_name_map[esm.type.name]
    for f in esm.gsmFeatures:
        value |= C.esm_class_gsm_features_name_map[f.name]
    return value


_RD_RECEIPT = {v: getattr(P.RegisteredDeliveryReceipt, n)
               for n, v in C.registered_delivery_receipt_name_map.items()}
_RD_ACKS = [(v, getattr(P.RegisteredDeliverySmeOriginatedAcks, n))
            for n, v in C.registered_delivery_sme_originated_acks_name_map.items()]
_RD_RECEIPT_VALUE = {m: v for v, m in _RD_RECEIPT.items()}
_RD_ACK_VALUE = {m: v for v, m in _RD_ACKS}


def _rd_table():
    table = []
    for i in range(256):
        receipt = _RD_RECEIPT.get(i & 0x03)
        if receipt is None:
            table.append(None)
            continue
        table.append((receipt, tuple(a for v, a in _RD_ACKS if v & i & 0x0c), bool(i & 0x10)))
    return table


_RD = _rd_table()


def registered_delivery_from_int(v):
    entry = _RD[v] if 0 <= v < 256 else None
    if entry is None:
        return v
    return _new_tuple(_RegisteredDelivery, (entry[0], set(entry[1]), entry[2]))


_RD_RECEIPT_ID = {id(m): v for v, m in _RD_RECEIPT.items()}
_RD_ACK_ID = {id(m): v for v, m in _RD_ACKS}


def registered_delivery_to_int(rd):
    value = _RD_RECEIPT_ID.get(id(rd[0]))
    if value is not None:
        for a in rd[1]:
            av = _RD_ACK_ID.get(id(a))
            if av is None:
                value = None
                break
            value |= av
    if value is None:
        value = C.registered_delivery_receipt_name_map[rd.receipt.name]
        for a in rd.smeOriginatedAcks:
            value |= C.registered_delivery_sme_originated_acks_name_map[a.name]
    if rd[2]:
        value |= 0x10
    return value


def _dc_table():
    """data_coding byte -> (scheme, schemeData), as pdu_encoding.DataCodingEncoder decodes."""
    table = []
    gsm_coding = {v: getattr(P.DataCodingGsmMsgCoding, n)
                  for n, v in C.data_coding_gsm_message_coding_name_map.items()}
    gsm_class = {v: getattr(P.DataCodingGsmMsgClass, n)
                 for n, v in C.data_coding_gsm_message_class_name_map.items()}
    for i in range(256):
        scheme_val = i & 0xf0
        if scheme_val in C.data_coding_scheme_value_map:
            scheme = getattr(P.DataCodingScheme, C.data_coding_scheme_value_map[scheme_val])
            data = P.DataCodingGsmMsg(gsm_coding[i & 0x04], gsm_class[i & 0x03])
        elif i in C.data_coding_default_value_map:
            scheme = P.DataCodingScheme.DEFAULT
            data = getattr(P.DataCodingDefault, C.data_coding_default_value_map[i])
        else:
            scheme = P.DataCodingScheme.RAW
            data = i
        table.append((scheme, data))
    return table


_DC = _dc_table()
_DataCoding = P.DataCoding


def data_coding_from_int(v):
    if not 0 <= v < 256:
        return v
    scheme, data = _DC[v]
    dc = object.__new__(_DataCoding)
    dc.scheme = scheme
    dc.schemeData = data
    return dc


_DC_RAW = P.DataCodingScheme.RAW
_DC_DEFAULT = P.DataCodingScheme.DEFAULT
_DC_GSM = P.DataCodingScheme.GSM_MESSAGE_CLASS
_DC_DEFAULT_ID = {id(getattr(P.DataCodingDefault, n)): v for n, v in C.data_coding_default_name_map.items()}
_DC_CODING_ID = {id(getattr(P.DataCodingGsmMsgCoding, n)): v
                 for n, v in C.data_coding_gsm_message_coding_name_map.items()}
_DC_CLASS_ID = {id(getattr(P.DataCodingGsmMsgClass, n)): v
                for n, v in C.data_coding_gsm_message_class_name_map.items()}


def data_coding_to_int(dc):
    """pdu_encoding.DataCodingEncoder._encodeAsInt."""
    scheme = dc.scheme
    data = dc.schemeData
    if scheme is _DC_RAW:
        return int(data)
    if scheme is _DC_DEFAULT:
        value = _DC_DEFAULT_ID.get(id(data))
        if value is not None:
            return value
    elif scheme is _DC_GSM:
        coding = _DC_CODING_ID.get(id(data[0]))
        klass = _DC_CLASS_ID.get(id(data[1]))
        if coding is not None and klass is not None:
            return 0xf0 | coding | klass
    # by names, as smpp.pdu does
    if scheme.name == 'RAW':
        return int(data)
    if scheme.name == 'DEFAULT':
        return C.data_coding_default_name_map[data.name]
    if scheme.name != 'GSM_MESSAGE_CLASS':
        raise ValueError('Unknown data coding scheme %s' % scheme)
    return (C.data_coding_scheme_name_map[scheme.name]
            | C.data_coding_gsm_message_coding_name_map[data.msgCoding.name]
            | C.data_coding_gsm_message_class_name_map[data.msgClass.name])


def time_from_octets(v):
    if not v:
        return None
    try:
        return smpp_time.parse(v)
    except Exception:
        return v


_CB_MODE = _by_value(P.CallbackNumDigitModeIndicator, C.callback_num_digit_mode_indicator_name_map)
_TON = _by_value(P.AddrTon, C.addr_ton_name_map)
_NPI = _by_value(P.AddrNpi, C.addr_npi_name_map)
_SUBADDR = _by_value(P.SubaddressTypeTag, C.subaddress_type_tag_name_map)


def callback_num_from_octets(v):
    if len(v) < 3 or v[0] not in _CB_MODE or v[1] not in _TON or v[2] not in _NPI:
        return v
    return P.CallbackNum(_CB_MODE[v[0]], _TON[v[1]], _NPI[v[2]], v[3:])


def callback_num_to_octets(cb):
    return bytes((C.callback_num_digit_mode_indicator_name_map[cb.digitModeIndicator.name],
                  C.addr_ton_name_map[cb.ton.name], C.addr_npi_name_map[cb.npi.name])) \
        + _octets(cb.digits or b'')


def subaddress_from_octets(v):
    if len(v) < 2:
        return v
    return P.Subaddress(_SUBADDR.get(v[0], 'RESERVED'), v[1:])


def subaddress_to_octets(sa):
    tag = sa.typeTag
    tag_name = tag if isinstance(tag, str) else tag.name
    tag_value = C.subaddress_type_tag_name_map.get(tag_name, 0)
    return bytes((tag_value,)) + _octets(sa.value)


def _octets(v):
    if isinstance(v, str):
        return v.encode()
    return bytes(v)


def _same_esm(v, raw):
    features = _ESM[raw][2]
    return not v[2] if not features else v[2] == set(features)


def _same_rd(v, raw):
    acks = _RD[raw][1]
    return not v[1] if not acks else v[1] == set(acks)


def _same_dc(v, raw):
    scheme, data = _DC[raw]
    return v.scheme is scheme and (v.schemeData is data or v.schemeData == data)


# Mutable objects: still the one made from the host's value, and not changed in place.
_SAME_AS_SENT = {_EsmClass: _same_esm, _RegisteredDelivery: _same_rd, _DataCoding: _same_dc}


# --- the per-door decoding tables ----------------------------------------------------------
# name -> (kind, table-or-function): kind 0 an enum field (a dict: SMPP value -> member, an
# unknown value stays an int), 1 int -> EsmClass / RegisteredDelivery / DataCoding (mutable:
# noted, to be compared going back), 2 octets -> object (time strings, CallbackNum,
# Subaddress; an undecodable value stays bytes), 3 an EmptyEncoder TLV (present: None).

_K_ENUM, _K_INT_OBJECT, _K_OCTETS_OBJECT, _K_EMPTY = 0, 1, 2, 3


def _decoders(int_objects):
    table = {field: (_K_ENUM, _by_value(cls, name_map))
             for field, (cls, name_map) in ENUM_FIELDS.items()}
    for name, fn in int_objects.items():
        table[name] = (_K_INT_OBJECT, fn)
    for name in ('schedule_delivery_time', 'validity_period', 'final_date'):
        table[name] = (_K_OCTETS_OBJECT, time_from_octets)
    table['callback_num'] = (_K_OCTETS_OBJECT, callback_num_from_octets)
    table['source_subaddress'] = (_K_OCTETS_OBJECT, subaddress_from_octets)
    table['dest_subaddress'] = (_K_OCTETS_OBJECT, subaddress_from_octets)
    table['alert_on_message_delivery'] = (_K_EMPTY, None)
    return table


# The SMPP doors: data_coding decoded as smpp.pdu does.
DECODE_SMPP = _decoders({'esm_class': esm_class_from_int,
                         'registered_delivery': registered_delivery_from_int,
                         'data_coding': data_coding_from_int})
# Jasmin's HTTP API builds its PDUs with `data_coding=int(coding)`.
DECODE_HTTP = _decoders({'esm_class': esm_class_from_int,
                         'registered_delivery': registered_delivery_from_int})

# Every PDU a script gets is a submit_sm or a deliver_sm: both have these mandatory params
# (an absent one is None, as smpp.pdu's PDU.__init__ makes it).
MANDATORY = tuple(O.SubmitSM.mandatoryParams)
_MANDATORY_SET = frozenset(MANDATORY)

# Parameters whose presence alone is the value (EmptyEncoder): None, yet sent back.
_EMPTY_FIELDS = frozenset(['alert_on_message_delivery'])

# The names a PDU may carry back: smpp.pdu's mandatory parameters and TLV names (a name Jasmin
# does not know is dropped when it encodes the PDU, so it is dropped here).
KNOWN_PARAMS = frozenset(
    [p for cls in O.PDUS.values() for p in cls.mandatoryParams]
    + [n for n in C.tag_name_map if n != 'vendor_specific_bypass'])

_ENUM_CLASSES = frozenset(type(m) for m in _ENUM_SMPP_VALUE)
_ENUM_SMPP_VALUE_ID = {id(m): v for m, v in _ENUM_SMPP_VALUE.items()}


def _encode_enum(name, v):
    names = ENUM_NAME_MAPS.get(name)
    if names is not None:
        # IntegerWrapperEncoder: the member's name in this field's map.
        value = names.get(v._name_)
        if value is None:
            raise ConversionError('Unknown %s name %s' % (name, v._name_))
        return value
    value = _ENUM_SMPP_VALUE_ID.get(id(v))
    if value is None:
        raise ConversionError('%s: cannot send %r' % (name, v))
    return value


def _b(v):
    return {'b': v.decode('latin-1')}


def encode_value(name, v):
    """A Python value of `pdu.params[name]` -> its JSON value (an int, {"b": octets as
    U+0000-U+00FF} or {"t": text}); None: leave the param out."""
    cls = v.__class__
    if cls is bytes:
        names = ENUM_NAME_MAPS.get(name)
        if names is not None:
            # IntegerWrapperEncoder takes a name as bytes too.
            key = v.decode('latin-1')
            if key in names:
                return names[key]
        return {'b': v.decode('latin-1')}
    if cls is str:
        names = ENUM_NAME_MAPS.get(name)
        if names is not None and v in names:
            return names[v]
        return {'t': _clean(v)}
    if cls is int or cls is bool:
        if S64_MIN <= v <= S64_MAX:
            return int(v)
        raise ConversionError('Value %d of %s does not fit 64 bits' % (v, name))
    if cls in _ENUM_CLASSES:
        return _encode_enum(name, v)
    if cls is _EsmClass:
        return esm_class_to_int(v)
    if cls is _RegisteredDelivery:
        return registered_delivery_to_int(v)
    if cls is _DataCoding:
        return data_coding_to_int(v)
    if v is None:
        if name in _EMPTY_FIELDS:
            return {'b': ''}
        return None
    if isinstance(v, Enum):
        return _encode_enum(name, v)
    if isinstance(v, _EsmClass):
        return esm_class_to_int(v)
    if isinstance(v, _RegisteredDelivery):
        return registered_delivery_to_int(v)
    if isinstance(v, _DataCoding):
        return data_coding_to_int(v)
    if isinstance(v, (datetime, smpp_time.SMPPRelativeTime)):
        return _b(smpp_time.unparse(v))
    if isinstance(v, P.CallbackNum):
        return _b(callback_num_to_octets(v))
    if isinstance(v, P.Subaddress):
        return _b(subaddress_to_octets(v))
    if isinstance(v, (bytes, bytearray, memoryview)):
        return encode_value(name, bytes(v))
    if isinstance(v, str):
        return encode_value(name, str(v))
    if isinstance(v, int):
        return encode_value(name, int(v))
    raise ConversionError('%s: a %s value cannot be sent (%r)' % (name, type(v).__name__, v))


_clean = hostio.clean


# --- lazy attributes -----------------------------------------------------------------------

class _Lazy:
    """A non-data descriptor: built on first access from the object's `_wit` record, then an
    ordinary instance attribute (assignable, deletable)."""

    __slots__ = ('name', 'build')

    def __init__(self, name, build):
        self.name = name
        self.build = build

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        d = obj.__dict__
        if '_wit' not in d:
            raise AttributeError('%r object has no attribute %r' % (type(obj).__name__, self.name))
        value = self.build(obj, d)
        d[self.name] = value
        return value


_ALL = frozenset()  # ParamDict.touched: "anything may have changed"


class ParamDict(dict):
    """`pdu.params`: a dict that notes the names written through it, so that going back only
    those are encoded again (the others keep the host's JSON text)."""

    # touched: the names written (None: none, _ALL: any); _mutable: [(name, object, the
    # host's int)] for the EsmClass / RegisteredDelivery / DataCoding objects made; _src: the
    # host's JSON text; _decoders: the door's decoding table.
    __slots__ = ('touched', '_mutable', '_src', '_decoders')

    def __setitem__(self, key, value):
        t = self.touched
        if t is None:
            self.touched = {key}
        elif t is not _ALL:
            t.add(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        t = self.touched
        if t is None:
            self.touched = {key}
        elif t is not _ALL:
            t.add(key)

    def pop(self, key, *default):
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = dict.__getitem__(self, key)
        del self[key]
        return value

    def setdefault(self, key, default=None):
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return default

    def popitem(self):
        self.touched = _ALL
        return dict.popitem(self)

    def clear(self):
        self.touched = _ALL
        dict.clear(self)

    def update(self, *args, **kwargs):
        self.touched = _ALL
        dict.update(self, *args, **kwargs)

    def __ior__(self, other):
        self.touched = _ALL
        return dict.__ior__(self, other)

    def __reduce_ex__(self, protocol):
        return (dict, (dict(self),))

    def __copy__(self):
        return dict(self)

    def __deepcopy__(self, memo):
        import copy
        return copy.deepcopy(dict(self), memo)


class LazyParams(ParamDict):
    """`pdu.params` until a script needs all of it: reading a name (`p[name]`, `p.get(name)`,
    `name in p`) decodes that one param from the host's JSON text; anything else (iterating,
    len, repr, comparing, copying, deleting, ...) first decodes them all, and the dict
    becomes a plain ParamDict. Writing a name needs nothing decoded."""

    __slots__ = ()

    def __missing__(self, key):
        # (_fetch, inlined: the hot path of a script reading pdu.params[name])
        tok = _TOKENS.get(key)
        if tok is not None:
            s = self._src
            i = s.rfind(tok[0])
            if i >= 0:
                i += tok[1]
                try:
                    if s[i] == ' ':
                        i += 1
                    v = _scan_once(s, i)[0]
                except (IndexError, StopIteration):
                    v = _MISSING
                if v is not _MISSING:
                    if v.__class__ is _dict:
                        t = v.get('b')
                        v = t.encode('latin-1') if t is not None else v['t']
                    dec = self._decoders.get(key)
                    if dec is not None:
                        v = _decode_typed(key, v, dec, self)
                    _dict_setitem(self, key, v)
                    return v
        v = _load_one(self, key)
        if v is _MISSING:
            raise KeyError(key)
        return v

    def __contains__(self, key):
        return _dict_contains(self, key) or _fetch(self, key) is not _MISSING

    def get(self, key, default=None):
        v = _dict_get(self, key, _MISSING)
        if v is _MISSING:
            v = _fetch(self, key)
            if v is _MISSING:
                return default
        return v

    __hash__ = None


def _materializing(method):
    """`method` of the params dict, called once every param is decoded."""
    def call(self, *args, **kwargs):
        _materialize(self)
        return method(self, *args, **kwargs)
    call.__name__ = method.__name__
    return call


# Anything but reading one name needs the whole dict (ParamDict's own methods where it has
# them: they note what a script wrote).
for _name in ('__iter__', '__reversed__', '__len__', 'keys', 'values', 'items', '__repr__',
              '__eq__', '__ne__', '__or__', '__ror__', '__sizeof__', 'copy', '__delitem__', 'pop',
              'setdefault', 'popitem', 'clear', 'update', '__ior__', '__reduce_ex__', '__copy__',
              '__deepcopy__'):
    setattr(LazyParams, _name, _materializing(getattr(ParamDict, _name)))


_MISSING = object()
_dict = dict
_int = int
_bytes = bytes
_str = str
_loads = json.loads
_dumps = json.dumps
_scan_once = json.decoder.JSONDecoder().scan_once  # the C scanner: one value at an offset
_dict_get = dict.get
_dict_setitem = dict.__setitem__
_dict_contains = dict.__contains__
_encode_str = json.encoder.encode_basestring_ascii
_WS = ' \t\n\r'
# name -> ('["name",', its length): how a pair starts in the host's JSON (compact or
# json.dumps's spacing); `["` is never inside a JSON string (a quote there is escaped).
_TOKENS = {name: ('["%s",' % name, len(name) + 4) for name in KNOWN_PARAMS}


def _locate(s, name):
    """Where the host's JSON text `s` (`[[name, value], ...]`) has the pair of `name` (the
    last one, as a dict keeps the last): (pair start, value start, value end, JSON value),
    or None. `"name"` right after a `[` can only be a pair's name: inside a JSON string a
    quote is always escaped."""
    token = '"' + name + '"'
    end = len(s)
    while True:
        i = s.rfind(token, 0, end)
        if i < 0:
            return None
        j = i - 1
        while j >= 0 and s[j] in _WS:
            j -= 1
        if j >= 0 and s[j] == '[':
            k = i + len(token)
            n = len(s)
            while k < n and s[k] in _WS:
                k += 1
            if k < n and s[k] == ',':
                k += 1
                while k < n and s[k] in _WS:
                    k += 1
                try:
                    value, vend = _scan_once(s, k)
                except StopIteration:
                    raise ValueError('pdu.params: no JSON value at offset %d' % k) from None
                return j, k, vend, value
        end = i


def _decode_typed(name, v, dec, params):
    """A value (octets already bytes) of a param with a decoder -> Jasmin's type."""
    kind, f = dec
    if kind == 0:  # enum: SMPP value -> member (an unknown value stays an int)
        if v.__class__ is _int:
            v = f.get(v, v)
    elif kind == 1:  # int -> EsmClass / RegisteredDelivery / DataCoding
        if v.__class__ is _int:
            w = f(v)
            if w.__class__ is not _int:
                mutable = params._mutable
                if mutable is None:
                    params._mutable = [(name, w, v)]
                else:
                    mutable.append((name, w, v))
            v = w
    elif kind == 2:  # octets -> time, CallbackNum, Subaddress
        if v.__class__ is _bytes:
            v = f(v)
    else:  # EmptyEncoder
        v = None
    return v


def _decode(name, v, params):
    """The host's JSON value of param `name` -> Jasmin's type."""
    if v.__class__ is _dict:
        t = v.get('b')
        v = t.encode('latin-1') if t is not None else v['t']
    dec = params._decoders.get(name)
    if dec is not None:
        v = _decode_typed(name, v, dec, params)
    return v


def _plain_name(key):
    return key.__class__ is _str and key.isascii() and key.isidentifier()


def _fetch(params, key):
    """LazyParams: decode `key` from the host's JSON into the dict; _MISSING if absent."""
    tok = _TOKENS.get(key) if key.__class__ is _str else None
    if tok is not None:
        s = params._src
        i = s.rfind(tok[0])
        if i >= 0:
            i += tok[1]
            try:
                if s[i] == ' ':
                    i += 1
                v = _scan_once(s, i)[0]
            except (IndexError, StopIteration):
                return _load_one(params, key)
            v = _decode(key, v, params)
            _dict_setitem(params, key, v)
            return v
    return _load_one(params, key)


def _load_one(params, key):
    """_fetch's general case: any spacing, a name smpp.pdu does not know, an absent one."""
    if not _plain_name(key):
        _materialize(params)
        return _dict_get(params, key, _MISSING)
    loc = _locate(params._src, key)
    if loc is None:
        if key in _MANDATORY_SET:  # absent mandatory params are there, None
            _dict_setitem(params, key, None)
            return None
        return _MISSING
    v = _decode(key, loc[3], params)
    _dict_setitem(params, key, v)
    return v


def _materialize(params):
    """LazyParams -> ParamDict: every param decoded, in PDU order (then the mandatory ones
    the host left out, None, then names only the script set)."""
    if params.__class__ is not LazyParams:
        return
    s = params._src
    pairs = _loads(s) if s else []
    have = _dict(_dict.items(params))  # decoded already, or set by the script (C-level view)
    raw = {}
    for name, v in pairs:
        if name in have:
            raw[name] = have.pop(name)
        else:
            raw[name] = _decode(name, v, params)
    if not raw.keys() >= _MANDATORY_SET:
        for name in MANDATORY:
            if name not in raw and name not in have:
                raw[name] = None
    if have:
        raw.update(have)
    _dict.clear(params)
    _dict.update(params, raw)
    params.__class__ = ParamDict


class _ParamsAttr:
    """`PDU.params` (a non-data descriptor): a LazyParams over the host's JSON text, made on
    first access, then an ordinary instance attribute."""

    __slots__ = ()

    def __get__(self, pdu, owner=None):
        if pdu is None:
            return self
        d = pdu.__dict__
        wp = d.get('_wit')
        if wp is None:
            raise AttributeError('%r object has no attribute %r' % (type(pdu).__name__, 'params'))
        p = LazyParams()
        p.touched = None
        p._mutable = None
        p._src = wp.params
        p._decoders = d['_decode']
        d['params'] = p
        return p


def _build_custom_tlvs(pdu, d):
    tlvs = [(t.tag, len(t.value), 'OctetString', t.value) for t in d['_wit'].custom_tlvs]
    d['_orig_tlvs'] = list(tlvs)
    return tlvs


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def _build_datetime(rt, d):
    # Jasmin's `datetime.now()`: naive local time; inside the component local time is UTC.
    dt = _EPOCH + timedelta(microseconds=d['_wit'].datetime_us)
    d['_dt0'] = dt
    return dt


def _build_connector(rt, d):
    cid = d['_wit'].connector
    c = object.__new__(A.Connector)
    c.__dict__.update(cid=cid, _str='generic Connector', _repr='<generic Connector>')
    return c


_Group = A.Group
_User = A.User
_new = object.__new__


class _UserAttr:
    """`RoutableSubmitSm.user`, made on first access (as _Lazy, without its indirection)."""

    __slots__ = ()

    def __get__(self, rt, owner=None):
        if rt is None:
            return self
        d = rt.__dict__
        r = d.get('_wit')
        if r is None:
            raise AttributeError('%r object has no attribute %r' % (type(rt).__name__, 'user'))
        wu = r.user
        if wu is None:
            u = None
        else:
            u = _new(_User)  # (its group, credentials: lazy too)
            u.__dict__ = {'uid': wu.uid, 'enabled': wu.enabled, 'username': wu.username,
                          'password': None, '_wit': wu}
        d['user'] = u
        return u


def _build_group(user, d):
    g = _new(_Group)
    g.__dict__ = {'gid': d['_wit'].gid, 'enabled': True}
    return g


def _parse_quota(v):
    if v in ('None', 'ND', ''):
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


# jCli's names of the MT credential keys -> Jasmin's (usersm.MtMessagingCredentialKeyMap):
# scripts call getAuthorization('set_source_address'), getValueFilter('source_address'), ...
_CREDENTIAL_KEYS = {
    'authorization': {'dlr_level': 'set_dlr_level', 'http_dlr_method': 'http_set_dlr_method',
                      'src_addr': 'set_source_address', 'priority': 'set_priority',
                      'validity_period': 'set_validity_period',
                      'schedule_delivery_time': 'set_schedule_delivery_time',
                      'hex_content': 'set_hex_content'},
    'value_filter': {'dst_addr': 'destination_address', 'src_addr': 'source_address'},
    'default_value': {'src_addr': 'source_address'},
    'quota': {'early_percent': 'early_decrement_balance_percent', 'sms_count': 'submit_sm_count'},
}
_CREDENTIAL_SECTIONS = {'authorization': 'authorization', 'authorizations': 'authorization',
                        'value_filter': 'value_filter', 'valuefilter': 'value_filter',
                        'value_filters': 'value_filter', 'default_value': 'default_value',
                        'defaultvalue': 'default_value', 'defaults': 'default_value',
                        'quota': 'quota', 'quotas': 'quota'}


def _build_mt_credential(user, d):
    """Jasmin's MtMessagingCredential (its defaults), then what the host sent: a JSON object
    of sections of keys (the gateway's configuration), or of flattened `section.key` keys."""
    c = A.MtMessagingCredential()
    s = d['_wit'].mt_credential
    items = _loads(s) if s else ()
    if items.__class__ is _dict:
        items = items.items()
    for key, value in items:
        if value.__class__ is _dict:
            for name, v in value.items():
                _put_credential(c, key, name, v)
        else:
            section, _, name = key.partition('.')
            _put_credential(c, section, name, value)
    return c


def _put_credential(c, section, name, value):
    if value.__class__ is not str:
        value = 'None' if value is None else str(value)
    section = _CREDENTIAL_SECTIONS.get(section.lower())
    if section is None:
        return
    name = _CREDENTIAL_KEYS[section].get(name, name)
    if section == 'authorization':
        c.authorizations[name] = value.strip().lower() in ('true', '1', 'yes')
    elif section == 'value_filter':
        try:
            c.value_filters[name] = re.compile(value.encode())
        except (re.error, UnicodeEncodeError):
            c.value_filters[name] = None
    elif section == 'default_value':
        c.defaults[name] = None if value in ('None', '') else value
    else:
        c.quotas[name] = _parse_quota(value)


def _build_smpps_credential(user, d):
    return A.SmppsCredential()


# --- WIT -> Python -------------------------------------------------------------------------

_PDU_CLASSES = {cls.commandId.name: cls for cls in O.PDUS.values() if cls.commandId is not None}
_COMMAND_IDS = {name: cls.commandId for name, cls in _PDU_CLASSES.items()}
_ROK = P.CommandStatus.ESME_ROK
_SubmitSM = O.SubmitSM
_DeliverSM = O.DeliverSM
_RoutableSubmitSm = R.RoutableSubmitSm
_RoutableDeliverSm = R.RoutableDeliverSm
_DOOR_SMPPC = Door.SMPPC
_DOOR_HTTP = Door.HTTP


class _PduAttr:
    """`routable.pdu`, then `pdu.nextPdu`... (plain attributes, the last part has none, as
    in Jasmin): one object per part of the host's, made on first access of routable.pdu, its
    params and TLVs made when read."""

    __slots__ = ()

    def __get__(self, rt, owner=None):
        if rt is None:
            return self
        d = rt.__dict__
        r = d.get('_wit')
        if r is None:
            raise AttributeError('%r object has no attribute %r' % (type(rt).__name__, 'pdu'))
        decode = d['_decode']
        wps = r.pdus
        if not wps:
            d['pdu'] = None
            return None
        wp = wps[0]
        cls = _PDU_CLASSES.get(wp.command)
        if cls is None:
            cls = _DeliverSM if rt.__class__ is _RoutableDeliverSm else _SubmitSM
        first = _new(cls)
        first.__dict__ = {'id': cls.commandId, 'seqNum': wp.seq_num, 'status': _ROK,
                          '_wit': wp, '_decode': decode}
        if len(wps) > 1:
            prev = first
            for wp in wps[1:]:
                cls = _PDU_CLASSES.get(wp.command)
                if cls is None:
                    cls = _DeliverSM if rt.__class__ is _RoutableDeliverSm else _SubmitSM
                pdu = _new(cls)
                pdu.__dict__ = {'id': cls.commandId, 'seqNum': wp.seq_num, 'status': _ROK,
                                '_wit': wp, '_decode': decode}
                prev.__dict__['nextPdu'] = pdu
                prev = pdu
        d['pdu'] = first
        return first


def _build_tags(rt, d):
    return list(d['_wit'].tags)


def _build_pdu_locks(rt, d):
    return list(d['_wit'].locked)


P.PDU.params = _ParamsAttr()
P.PDU.custom_tlvs = _Lazy('custom_tlvs', _build_custom_tlvs)
R.Routable.pdu = _PduAttr()
R.Routable._tags = _Lazy('_tags', _build_tags)
R.Routable.datetime = _Lazy('datetime', _build_datetime)
R.RoutableSubmitSm._pdu_locks = _Lazy('_pdu_locks', _build_pdu_locks)
R.RoutableSubmitSm.user = _UserAttr()
R.RoutableDeliverSm.connector = _Lazy('connector', _build_connector)
A.User.group = _Lazy('group', _build_group)
A.User.mt_credential = _Lazy('mt_credential', _build_mt_credential)
A.User.smpps_credential = _Lazy('smpps_credential', _build_smpps_credential)


def to_routable(r):
    """The `routable` a script gets for the WIT record `r`: everything in it (the PDUs, their
    params, the user, tags, ...) is made from `r` when the script first reads it."""
    rt = _new(_RoutableDeliverSm if r.door is _DOOR_SMPPC else _RoutableSubmitSm)
    rt.__dict__ = {'_wit': r, '_decode': DECODE_HTTP if r.door is _DOOR_HTTP else DECODE_SMPP}
    return rt


# --- Python -> WIT -------------------------------------------------------------------------

_SAME = object()  # _param_out: encodes as the host's value


def _param_out(name, v, ov):
    """The JSON value of `pdu.params[name] = v` given `ov`, the host's (or _MISSING): _SAME
    when it encodes the same, None when the param is to be left out."""
    if v is None and name not in _EMPTY_FIELDS:
        return None
    if name.__class__ is not str:
        raise ConversionError('pdu.params keys must be str, not %s (%r)' % (type(name).__name__, name))
    if ov is _MISSING and name not in KNOWN_PARAMS:
        return None
    try:
        value = encode_value(name, v)
    except ConversionError:
        raise
    except Exception as e:
        raise ConversionError('%s: %s: %s' % (name, type(e).__name__, e)) from None
    if value is None:
        return None
    if value.__class__ is ov.__class__ and value == ov:
        return _SAME
    return value


def _json_value(q):
    """A JSON value from encode_value, as text (as json.dumps writes it)."""
    if q.__class__ is _int:
        return _int.__repr__(q)
    t = q.get('b')
    if t is not None:
        return '{"b": ' + _encode_str(t) + '}'
    return '{"t": ' + _encode_str(q['t']) + '}'


def _find(s, name):
    """(value start, value end, JSON value) of the pair of `name` in the host's JSON text `s`
    (the last one, as a dict keeps the last), or None."""
    tok = _TOKENS.get(name) if name.__class__ is _str else None
    if tok is not None:
        i = s.rfind(tok[0])
        if i >= 0:
            i += tok[1]
            try:
                if s[i] == ' ':
                    i += 1
                v, end = _scan_once(s, i)
                return i, end, v
            except (IndexError, StopIteration):
                pass
    if not _plain_name(name):
        return None
    loc = _locate(s, name)
    return None if loc is None else loc[1:]


def _params_out(params, s0):
    """This PDU's own `pdu.params` -> the JSON text: `s0` (the host's) itself when nothing
    encodes differently; else `s0` with only the values of the names written through the dict
    (and of the objects changed in place) replaced, new names appended."""
    touched = params.touched
    mutable = params._mutable
    if touched is None and mutable is None:
        return s0
    if touched is _ALL:  # cleared / updated: the dict was materialized, it is every param
        return _params_json(params, _loads(s0) if s0 else [])
    edits = [] if touched is None else [(name, _dict_get(params, name, _MISSING)) for name in touched]
    if mutable is not None:
        for name, w, raw in mutable:
            if (touched is None or name not in touched) and not _SAME_AS_SENT[w.__class__](w, raw):
                edits.append((name, w))
    splices = []
    appends = None
    for name, v in edits:
        loc = _find(s0, name)
        q = None if v is _MISSING else _param_out(name, v, _MISSING if loc is None else loc[2])
        if q is _SAME:
            continue
        if q is None:
            if loc is not None:  # a param left out: the whole text again
                return _params_rebuild(s0, edits)
            continue
        if loc is None:
            if appends is None:
                appends = [(name, q)]
            else:
                appends.append((name, q))
        else:
            splices.append((loc[0], loc[1], q))
    if not splices and appends is None:
        return s0
    out = s0
    if splices:
        if len(splices) > 1:
            splices.sort(key=_first, reverse=True)
        for start, end, q in splices:
            out = out[:start] + _json_value(q) + out[end:]
    if appends is not None:
        new = ', '.join(['[' + _encode_str(name) + ', ' + _json_value(q) + ']' for name, q in appends])
        k = out.rfind(']')
        if k < 0:  # no params at all (an empty text)
            return '[' + new + ']'
        j = k - 1
        while j >= 0 and out[j] in _WS:
            j -= 1
        out = out[:j + 1] + (new if j >= 0 and out[j] == '[' else ', ' + new) + out[j + 1:]
    return out


def _first(t):
    return t[0]


def _params_rebuild(s0, edits):
    """The host's pairs with `edits` ((name, value or _MISSING)) applied, as JSON text."""
    jout = _dict(_loads(s0) if s0 else [])
    for name, v in edits:
        q = None if v is _MISSING else _param_out(name, v, jout.get(name, _MISSING))
        if q is _SAME:
            continue
        if q is None:
            jout.pop(name, None)
        else:
            jout[name] = q
    return _dumps([*jout.items()])


def _params_json(params, pairs):
    """A whole params dict (the script's own, or materialized and cleared / updated) -> the
    JSON text, the names the host sent first, in its order."""
    jout = _dict(pairs)  # name -> JSON value, in PDU order
    names = list(params)
    names.extend([p[0] for p in pairs if p[0] not in params])
    get = params.get
    for name in names:
        v = get(name, _MISSING)
        ov = jout.get(name, _MISSING)
        q = None if v is _MISSING else _param_out(name, v, ov)
        if q is _SAME:
            continue
        if q is None:
            if ov is not _MISSING:
                del jout[name]
            continue
        jout[name] = q
    return _dumps([*jout.items()])


def _tlv_out(tlv):
    """pdu_encoding.PDUEncoder.encodeRawParams for one (tag, length, type, value)."""
    if len(tlv) != 4:
        return None
    tag, length, value_type, value = tlv
    if value_type == 'Int1':
        encoded = int(value).to_bytes(1, 'big')
    elif value_type == 'Int2':
        encoded = int(value).to_bytes(2, 'big')
    elif value_type == 'Int4':
        encoded = int(value).to_bytes(4, 'big')
    elif value_type == 'Int8':
        encoded = int(value).to_bytes(8, 'big')
    elif value_type == 'OctetString':
        if isinstance(value, int):
            encoded = bytes([value])
        elif isinstance(value, str):
            encoded = value.encode()
        else:
            encoded = bytes(value)
    elif value_type == 'COctetString':
        encoded = (value.encode('ascii') if isinstance(value, str) else bytes(value)) + b'\0'
    else:
        return None
    if length is not None and len(encoded) < length:
        encoded += b'\0' * (length - len(encoded))
    if not (isinstance(tag, int) and 0 <= tag <= 0xFFFF):
        raise ConversionError('custom TLV tag %r is not a 16-bit number' % (tag,))
    return CustomTlv(tag, encoded)


def _tlvs_out(tlvs, orig, wit_tlvs):
    if orig is not None and tlvs == orig:
        return wit_tlvs
    out = []
    for tlv in tlvs:
        try:
            t = _tlv_out(tlv)
        except ConversionError:
            raise
        except Exception as e:
            raise ConversionError('custom TLV %r: %s: %s' % (tlv, type(e).__name__, e)) from None
        if t is not None:
            out.append(t)
    return out


def _own_pdu_out(d, wp):
    """Update `wp`, the host's record of a PDU object (its __dict__ `d`), in place where the
    script changed something (params, TLVs, seqNum, id): did it?"""
    changed = False
    params = d.get('params')
    if params is not None:
        s0 = wp.params
        if (params.__class__ is LazyParams or params.__class__ is ParamDict) and params._src is s0:
            if params.touched is not None or params._mutable is not None:
                out = _params_out(params, s0)
                if out is not s0:
                    wp.params = out
                    changed = True
        else:  # a dict the script put there
            if not isinstance(params, dict):
                raise ConversionError('pdu.params must be a dict, not %s' % type(params).__name__)
            _materialize(params)
            out = _params_json(params, _loads(s0) if s0 else [])
            if out != s0:
                wp.params = out
                changed = True
    tlvs = d.get('custom_tlvs')
    if tlvs is not None:
        out_tlvs = _tlvs_out(tlvs, d.get('_orig_tlvs'), wp.custom_tlvs)
        if out_tlvs is not wp.custom_tlvs:
            wp.custom_tlvs = out_tlvs
            changed = True
    seq = d.get('seqNum')
    if seq is not wp.seq_num and seq != wp.seq_num:
        if seq is not None and not (isinstance(seq, int) and 0 <= seq <= 0xFFFFFFFF):
            raise ConversionError('pdu.seqNum %r is not a 32-bit number' % (seq,))
        wp.seq_num = seq
        changed = True
    cid = d.get('id')
    if cid is None or cid is not _COMMAND_IDS.get(wp.command):
        command = getattr(cid, 'name', None) or str(cid)
        if command != wp.command:
            wp.command = command
            changed = True
    return changed


def _new_pdu_out(pdu):
    """A new WIT record for a PDU the script made (SubmitSM(...))."""
    seq = getattr(pdu, 'seqNum', None)
    if seq is not None and not (isinstance(seq, int) and 0 <= seq <= 0xFFFFFFFF):
        raise ConversionError('pdu.seqNum %r is not a 32-bit number' % (seq,))
    cid = getattr(pdu, 'id', None)
    command = getattr(cid, 'name', None) or str(cid)
    params = getattr(pdu, 'params', None)
    if not isinstance(params, dict):
        raise ConversionError('pdu.params must be a dict, not %s' % type(params).__name__)
    tlvs = getattr(pdu, 'custom_tlvs', None) or []
    _materialize(params)
    return Pdu(command, seq, _params_json(params, []), _tlvs_out(tlvs, None, None))


def _pdus_out(pdu, wps):
    """The PDU chain from `pdu` -> WIT records (the host's, updated in place, and new ones);
    None when it is `wps`, the host's list, with no record changed."""
    out = None  # made only when the chain is not `wps`
    changed = False
    i = 0
    n = len(wps)
    while pdu is not None:
        d = getattr(pdu, '__dict__', None)
        wp = d.get('_wit') if d is not None else None
        if wp is None:
            wp = _new_pdu_out(pdu)
        elif _own_pdu_out(d, wp):
            changed = True
        if out is None:
            if i >= n or wps[i] is not wp:
                out = wps[:i]
                out.append(wp)
        else:
            out.append(wp)
        i += 1
        if i > _MAX_PDUS:
            raise ConversionError('more than %d PDUs in pdu.nextPdu (a cycle?)' % _MAX_PDUS)
        pdu = d.get('nextPdu') if d is not None else getattr(pdu, 'nextPdu', None)
    if out is None:
        if i == n:
            return wps if changed else None
        return wps[:i]
    return out


def _datetime_us(dt):
    if not isinstance(dt, datetime):
        raise ConversionError('routable.datetime must be a datetime, not %s' % type(dt).__name__)
    if dt.tzinfo is None or dt.utcoffset() is None:
        return (dt - _EPOCH) // _US
    return (dt - _EPOCH_UTC) // _US


_MAX_PDUS = 1024


def _strings(values):
    return [t if t.__class__ is str and t.isascii() else _clean(str(t)) for t in values]


def from_routable(rt, r):
    """What the script changed in `rt`, its `routable` made of the WIT record `r`: (PDUs, tags,
    locks), each None when it is as the host sent it. Only that crosses back to the host."""
    d = getattr(rt, '__dict__', None)
    own = d is not None and d.get('_wit') is r
    if not own and (d is None or not hasattr(rt, 'pdu')):
        raise ConversionError('routable must be a Jasmin routable, not %s' % type(rt).__name__)
    pdus = tags = locked = None
    if 'pdu' in d:
        pdus = _pdus_out(d['pdu'], r.pdus)
    if '_tags' in d or not own:
        tags = _strings(getattr(rt, '_tags', None) or ())
        if tags == r.tags:
            tags = None
    if '_pdu_locks' in d:
        locked = _strings(d['_pdu_locks'])
        if locked == r.locked:
            locked = None
    if 'datetime' in d:
        # Nothing downstream reads it (as in Jasmin), but a value that is not a date is the
        # script's error all the same.
        dt = d['datetime']
        if dt is not d.get('_dt0'):
            datetime_us = _datetime_us(dt)
            if not (S64_MIN <= datetime_us <= S64_MAX):
                raise ConversionError('routable.datetime is out of range')
    return pdus, tags, locked
