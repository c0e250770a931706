# Derived from Jasmin 0.11.1 jasmin/routing/jasminApi.py (Apache License 2.0, jookies/jasmin),
# trimmed to the objects a script receives: users, groups, credentials, connectors.
"""
A set of objects used by Jasmin to manage users, groups and connectors in memory (no database storage)
"""

import re


class jasminApiInvalidParamError(Exception):
    """Raised when trying to instanciate a jasminApi object with invalid parameter
    """


class jasminApiCredentialError(Exception):
    """Raised for ant Credential-related error
    """


class jasminApiGeneric:
    pass


class CredentialGeneric(jasminApiGeneric):
    """A generic credential object"""
    authorizations = {}
    value_filters = {}
    defaults = {}
    quotas = {}
    quotas_updated = False

    def setAuthorization(self, key, value):
        if key not in self.authorizations:
            raise jasminApiCredentialError('%s is not a valid Authorization' % key)
        if not isinstance(value, bool):
            raise jasminApiCredentialError('%s is not a boolean value: %s' % (key, value))

        self.authorizations[key] = value

    def getAuthorization(self, key):
        if key not in self.authorizations:
            raise jasminApiCredentialError('%s is not a valid Authorization' % key)

        return self.authorizations[key]

    def setValueFilter(self, key, value):
        if key not in self.value_filters:
            raise jasminApiCredentialError('%s is not a valid Filter' % key)

        try:
            self.value_filters[key] = re.compile(value)
        except TypeError:
            raise jasminApiCredentialError('%s is not a regex pattern: %s' % (key, value))

    def getValueFilter(self, key):
        if key not in self.value_filters:
            raise jasminApiCredentialError('%s is not a valid Filter' % key)

        return self.value_filters[key]

    def setDefaultValue(self, key, value):
        if key not in self.defaults:
            raise jasminApiCredentialError('%s is not a valid Default value' % key)

        self.defaults[key] = value

    def getDefaultValue(self, key):
        if key not in self.defaults:
            raise jasminApiCredentialError('%s is not a valid Default value' % key)

        return self.defaults[key]

    def setQuota(self, key, value):
        if key not in self.quotas:
            raise jasminApiCredentialError('%s is not a valid Quata key' % key)

        self.quotas[key] = value

    def updateQuota(self, key, difference):
        if key not in self.quotas:
            raise jasminApiCredentialError('%s is not a valid Quota key' % key)
        if not isinstance(difference, float) and not isinstance(difference, int):
            raise jasminApiCredentialError(
                'Incorrect type for value (%s), must be int or float' % difference)
        if isinstance(self.quotas[key], int) and isinstance(difference, float):
            raise jasminApiCredentialError('Type mismatch, cannot update an int with a float value')

        # If quota is unlimited then initialize it to zero before update
        if self.quotas[key] is None:
            self.quotas[key] = 0

        self.quotas[key] += difference
        self.quotas_updated = True

    def getQuota(self, key):
        if key not in self.quotas:
            raise jasminApiCredentialError('%s is not a valid Quota key' % key)

        return self.quotas[key]


class MtMessagingCredential(CredentialGeneric):
    """Credential set for sending MT Messages through"""

    def __init__(self, default_authorizations=True):
        if not isinstance(default_authorizations, bool):
            default_authorizations = False

        self.authorizations = {
            'http_send': default_authorizations,
            'http_bulk': False,
            'http_balance': default_authorizations,
            'http_rate': default_authorizations,
            'smpps_send': default_authorizations,
            'http_long_content': default_authorizations,
            'set_dlr_level': default_authorizations,
            'http_set_dlr_method': default_authorizations,
            'set_source_address': default_authorizations,
            'set_priority': default_authorizations,
            'set_validity_period': default_authorizations,
            'set_hex_content': default_authorizations,
            'set_schedule_delivery_time': default_authorizations,
        }

        self.value_filters = {
            'destination_address': re.compile(b'.*'),
            'source_address': re.compile(b'.*'),
            'priority': re.compile(b'^[0-3]$'),
            'validity_period': re.compile(rb'^\d+$'),
            'content': re.compile(b'.*'),
        }

        self.defaults = {'source_address': None, }

        self.quotas = {
            'balance': None,
            'early_decrement_balance_percent': None,
            'submit_sm_count': None,
            'http_throughput': None,
            'smpps_throughput': None,
        }


class SmppsCredential(CredentialGeneric):
    """Credential set for SMPP Server connection"""

    def __init__(self, default_authorizations=True):
        if not isinstance(default_authorizations, bool):
            default_authorizations = False

        self.authorizations = {'bind': default_authorizations, }

        self.quotas = {'max_bindings': None}


class Group(jasminApiGeneric):
    """Every user must have a group"""

    def __init__(self, gid):
        # Validate gid
        regex = re.compile(r'^[A-Za-z0-9_-]{1,16}$')
        if regex.match(str(gid)) == None:
            raise jasminApiInvalidParamError('Group gid syntax is invalid')

        self.gid = gid
        self.enabled = True

    def disable(self):
        self.enabled = False

    def enable(self):
        self.enabled = True

    def __str__(self):
        return str(self.gid)


class CnxStatus(jasminApiGeneric):
    """Connection status information holder (always zero in smsgate: the gateway keeps the
    real counters)"""

    def __init__(self):
        self.smpps = {
            'bind_count': 0,
            'unbind_count': 0,
            'bound_connections_count': {
                'bind_receiver': 0,
                'bind_transceiver': 0,
                'bind_transmitter': 0,
            },
            'submit_sm_request_count': 0,
            'last_activity_at': 0,
            'qos_last_submit_sm_at': 0,
            'submit_sm_count': 0,
            'deliver_sm_count': 0,
            'data_sm_count': 0,
            'elink_count': 0,
            'throttling_error_count': 0,
            'other_submit_error_count': 0,
        }

        self.httpapi = {
            'connects_count': 0,
            'last_activity_at': 0,
            'submit_sm_request_count': 0,
            'balance_request_count': 0,
            'rate_request_count': 0,
            'qos_last_submit_sm_at': 0,
        }


class User(jasminApiGeneric):
    """Jasmin user"""

    def __init__(self, uid, group, username, password,
                 mt_credential=None, smpps_credential=None, password_crypted=False):
        # Validate uid
        regex = re.compile(r'^[A-Za-z0-9_-]{1,16}$')
        if regex.match(str(uid)) is None:
            raise jasminApiInvalidParamError('User uid syntax is invalid')

        self.uid = uid
        self.group = group
        self.enabled = True

        regex = re.compile(r'^[A-Za-z0-9_-]{1,15}$')
        if username is not None and regex.match(username) is None:
            raise jasminApiInvalidParamError('User username syntax is invalid')
        self.username = username

        # smsgate: the password never reaches scripts
        self.password = None

        self.mt_credential = mt_credential
        if self.mt_credential is None:
            self.mt_credential = MtMessagingCredential()
        self.smpps_credential = smpps_credential
        if self.smpps_credential is None:
            self.smpps_credential = SmppsCredential()

    def getCnxStatus(self):
        return CnxStatus()

    def disable(self):
        self.enabled = False

    def enable(self):
        self.enabled = True

    def __str__(self):
        return self.username


class Connector(jasminApiGeneric):
    """
    This is a generic connector, it's used through its implementations
    """

    _type = 'generic'
    _str = 'Generic Connector'
    _repr = '<Generic Connector>'

    def __init__(self, cid):
        self.cid = cid
        self._str = '%s Connector' % self._type
        self._repr = '<%s Connector>' % self._type

    def __repr__(self):
        return self._repr

    def __str__(self):
        return self._str


class SmppClientConnector(Connector):
    """This is a SMPP Client connector"""

    _type = 'smppc'


class SmppServerSystemIdConnector(Connector):
    """This is a SMPP Server connector mapped to a system_id"""

    _type = 'smpps'

    def __init__(self, system_id):
        Connector.__init__(self, system_id)

        self.system_id = system_id
