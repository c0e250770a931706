"""requests.models for the smsgate shim: PreparedRequest and Response.

The body of a response is read whole by the host; there is no streaming, no compression
(`Accept-Encoding: identity` is sent) and no cookie jar.
"""

import datetime
import json as complexjson
from urllib.parse import urlencode, urlsplit, urlunsplit

from requests.exceptions import (HTTPError, InvalidHeader, InvalidJSONError, InvalidSchema,
                                 InvalidURL, JSONDecodeError, MissingSchema)
from requests.structures import CaseInsensitiveDict

REDIRECT_STATI = (301, 302, 303, 307, 308)


def _to_key_val_list(value):
    if value is None:
        return []
    if isinstance(value, (str, bytes, bool, int)):
        raise ValueError('cannot encode objects that are not 2-tuples')
    if hasattr(value, 'items'):
        value = value.items()
    return list(value)


def _encode_params(data):
    """Form-encode a dict or a list of 2-tuples as requests does (None values dropped)."""
    if isinstance(data, (str, bytes)):
        return data
    if hasattr(data, 'read'):
        return data
    if hasattr(data, '__iter__'):
        result = []
        for k, vs in _to_key_val_list(data):
            if isinstance(vs, (str, bytes)) or not hasattr(vs, '__iter__'):
                vs = [vs]
            for v in vs:
                if v is not None:
                    result.append((k.encode('utf-8') if isinstance(k, str) else k,
                                   v.encode('utf-8') if isinstance(v, str) else v))
        return urlencode(result, doseq=True)
    return data


class Request:
    """A user-created Request object (prepared by Session.prepare_request)."""

    def __init__(self, method=None, url=None, headers=None, files=None, data=None, params=None,
                 auth=None, cookies=None, hooks=None, json=None):
        self.method = method
        self.url = url
        self.headers = headers if headers is not None else {}
        self.files = files if files is not None else []
        self.data = data if data is not None else []
        self.json = json
        self.params = params if params is not None else {}
        self.auth = auth
        self.cookies = cookies
        self.hooks = hooks

    def __repr__(self):
        return '<Request [%s]>' % (self.method)

    def prepare(self):
        p = PreparedRequest()
        p.prepare(method=self.method, url=self.url, headers=self.headers, files=self.files,
                  data=self.data, json=self.json, params=self.params, auth=self.auth,
                  cookies=self.cookies)
        return p


class PreparedRequest:
    """The request as sent: method, url, headers, body."""

    def __init__(self):
        self.method = None
        self.url = None
        self.headers = None
        self.body = None
        self.hooks = {'response': []}

    def __repr__(self):
        return '<PreparedRequest [%s]>' % (self.method)

    def copy(self):
        p = PreparedRequest()
        p.method = self.method
        p.url = self.url
        p.headers = self.headers.copy() if self.headers is not None else None
        p.body = self.body
        return p

    def prepare(self, method=None, url=None, headers=None, files=None, data=None, params=None,
                auth=None, cookies=None, hooks=None, json=None):
        self.prepare_method(method)
        self.prepare_url(url, params)
        self.prepare_headers(headers)
        self.prepare_cookies(cookies)
        self.prepare_body(data, files, json)
        self.prepare_auth(auth)

    def prepare_method(self, method):
        self.method = method
        if self.method is not None:
            self.method = self.method.upper() if isinstance(self.method, str) else self.method.decode().upper()

    def prepare_url(self, url, params):
        if isinstance(url, bytes):
            url = url.decode('utf8')
        else:
            url = str(url)
        url = url.lstrip()
        if ':' in url and not url.lower().startswith('http'):
            self.url = url
            return
        try:
            scheme, netloc, path, query, fragment = urlsplit(url)
        except ValueError as e:
            raise InvalidURL(*e.args)
        if not scheme:
            raise MissingSchema(
                f'Invalid URL {url!r}: No scheme supplied. Perhaps you meant https://{url}?')
        if not netloc:
            raise InvalidURL(f'Invalid URL {url!r}: No host supplied')
        if not path:
            path = '/'
        if isinstance(params, (str, bytes)):
            enc_params = params.decode('utf-8') if isinstance(params, bytes) else params
        else:
            enc_params = _encode_params(params) if params else ''
        if enc_params:
            query = '%s&%s' % (query, enc_params) if query else enc_params
        self.url = urlunsplit((scheme, netloc, path, query, fragment))

    def prepare_headers(self, headers):
        self.headers = CaseInsensitiveDict()
        if headers:
            for name, value in headers.items():
                if value is None:
                    continue
                if isinstance(name, bytes):
                    name = name.decode('latin1')
                if isinstance(value, bytes):
                    value = value.decode('latin1')
                elif not isinstance(value, str):
                    raise InvalidHeader(
                        'Header part (%r) from (%r, %r) must be of type str or bytes, not %s'
                        % (value, name, value, type(value)))
                if '\n' in value or '\r' in value or '\n' in name or '\r' in name:
                    raise InvalidHeader(
                        'Invalid leading whitespace, reserved character(s), or return character(s) '
                        'in header value: %r' % value)
                self.headers[name] = value

    def prepare_cookies(self, cookies):
        if cookies and hasattr(cookies, 'items') and 'Cookie' not in self.headers:
            self.headers['Cookie'] = '; '.join('%s=%s' % (k, v) for k, v in cookies.items())

    def prepare_body(self, data, files, json=None):
        body = None
        content_type = None
        if not data and json is not None:
            content_type = 'application/json'
            try:
                body = complexjson.dumps(json, allow_nan=False)
            except ValueError as ve:
                raise InvalidJSONError(ve, request=self)
            if not isinstance(body, bytes):
                body = body.encode('utf-8')
        if files:
            raise NotImplementedError('requests: files= (multipart uploads) is not available in smsgate')
        if data:
            if hasattr(data, 'read'):
                body = data.read()
            else:
                body = _encode_params(data)
                if isinstance(data, (str, bytes)) or hasattr(data, 'read'):
                    content_type = None
                else:
                    content_type = 'application/x-www-form-urlencoded'
        if content_type and 'content-type' not in self.headers:
            self.headers['Content-Type'] = content_type
        # Content-Length is left to the gateway's HTTP client.
        self.body = body

    def prepare_auth(self, auth, url=''):
        if auth:
            if isinstance(auth, tuple) and len(auth) == 2:
                from requests.auth import HTTPBasicAuth
                auth = HTTPBasicAuth(*auth)
            r = auth(self)
            self.__dict__.update(r.__dict__)

    def body_bytes(self):
        body = self.body
        if body is None:
            return b''
        if isinstance(body, str):
            return body.encode('utf-8')
        return bytes(body)


class Response:
    """The Response object, which contains a server's response to an HTTP request."""

    __attrs__ = ['_content', 'status_code', 'headers', 'url', 'history', 'encoding', 'reason',
                 'cookies', 'elapsed', 'request']

    def __init__(self):
        self._content = b''
        self._content_consumed = True
        self.status_code = None
        self.headers = CaseInsensitiveDict()
        self.raw = None
        self.url = None
        self.encoding = None
        self.history = []
        self.reason = None
        self.cookies = {}
        self.elapsed = datetime.timedelta(0)
        self.request = None
        self.connection = None

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __repr__(self):
        return '<Response [%s]>' % (self.status_code)

    def __bool__(self):
        return self.ok

    def __nonzero__(self):
        return self.ok

    def __iter__(self):
        return self.iter_content(128)

    @property
    def ok(self):
        try:
            self.raise_for_status()
        except HTTPError:
            return False
        return True

    @property
    def is_redirect(self):
        return 'location' in self.headers and self.status_code in REDIRECT_STATI

    @property
    def is_permanent_redirect(self):
        return 'location' in self.headers and self.status_code in (301, 308)

    @property
    def next(self):
        return None

    @property
    def apparent_encoding(self):
        return 'utf-8'

    def iter_content(self, chunk_size=1, decode_unicode=False):
        data = self._content
        step = chunk_size or len(data) or 1
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            if decode_unicode:
                chunk = chunk.decode(self.encoding or 'utf-8', errors='replace')
            yield chunk

    def iter_lines(self, chunk_size=512, decode_unicode=False, delimiter=None):
        content = self.text if decode_unicode else self._content
        lines = content.split(delimiter) if delimiter else content.splitlines()
        yield from lines

    @property
    def content(self):
        return self._content

    @property
    def text(self):
        if not self._content:
            return ''
        encoding = self.encoding
        if encoding is None:
            encoding = self.apparent_encoding
        try:
            return str(self._content, encoding, errors='replace')
        except (LookupError, TypeError):
            return str(self._content, errors='replace')

    def json(self, **kwargs):
        try:
            return complexjson.loads(self.text, **kwargs)
        except complexjson.JSONDecodeError as e:
            raise JSONDecodeError(e.msg, e.doc, e.pos)

    @property
    def links(self):
        return {}

    def raise_for_status(self):
        http_error_msg = ''
        reason = self.reason
        if isinstance(reason, bytes):
            try:
                reason = reason.decode('utf-8')
            except UnicodeDecodeError:
                reason = reason.decode('iso-8859-1')
        if 400 <= self.status_code < 500:
            http_error_msg = '%s Client Error: %s for url: %s' % (self.status_code, reason, self.url)
        elif 500 <= self.status_code < 600:
            http_error_msg = '%s Server Error: %s for url: %s' % (self.status_code, reason, self.url)
        if http_error_msg:
            raise HTTPError(http_error_msg, response=self)

    def close(self):
        pass


def get_encoding_from_headers(headers):
    """The charset of Content-Type, ISO-8859-1 for other text/*, utf-8 for JSON."""
    content_type = headers.get('content-type')
    if not content_type:
        return None
    parts = content_type.split(';')
    ctype = parts[0].strip().lower()
    for param in parts[1:]:
        key, _, value = param.strip().partition('=')
        if key.strip().lower() == 'charset':
            return value.strip().strip('\'"')
    if 'text' in ctype:
        return 'ISO-8859-1'
    if 'application/json' in ctype:
        return 'utf-8'
    return None
