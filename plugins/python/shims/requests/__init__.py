"""A `requests` for smsgate's Python runtime: the same API as requests 2.32 for what Jasmin
scripts do (get/post/..., params, data, json, headers, auth, timeout, Session, Response),
sent through the gateway (`host.http`), which only reaches the hosts granted to the script.
No TLS settings (`verify`, `cert` are accepted and ignored: the gateway verifies), no
streaming, no multipart uploads, no cookie jar."""

import types as _types

from requests import exceptions, status_codes
from requests.api import delete, get, head, options, patch, post, put, request
from requests.exceptions import (ConnectionError, ConnectTimeout, FileModeWarning, HTTPError,
                                 JSONDecodeError, ReadTimeout, RequestException, Timeout,
                                 TooManyRedirects, URLRequired)
from requests.models import PreparedRequest, Request, Response
from requests.sessions import Session, session
from requests.status_codes import codes
from requests.auth import HTTPBasicAuth
from requests.structures import CaseInsensitiveDict

__title__ = 'requests'
__version__ = '2.32.3'


class _InsecureRequestWarning(Warning):
    pass


# `requests.packages.urllib3.disable_warnings()` is a common line in scripts: accept it.
packages = _types.SimpleNamespace(urllib3=_types.SimpleNamespace(
    disable_warnings=lambda *a, **k: None,
    exceptions=_types.SimpleNamespace(InsecureRequestWarning=_InsecureRequestWarning),
))
