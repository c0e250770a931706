"""requests.sessions for the smsgate shim: every request goes through the gateway
(`host.http`), which lets a script reach only the hosts it was granted."""

import time
import datetime
from urllib.parse import urljoin, urlsplit

from requests import exceptions as exc
from requests.models import PreparedRequest, Request, Response, get_encoding_from_headers, REDIRECT_STATI
from requests.structures import CaseInsensitiveDict
from smsgate_runtime import hostio

DEFAULT_REDIRECT_LIMIT = 30
__version__ = '2.32.3'


def default_headers():
    return CaseInsensitiveDict({
        'User-Agent': 'python-requests/%s' % __version__,
        'Accept-Encoding': 'identity',
        'Accept': '*/*',
    })


def _timeout_ms(timeout):
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        try:
            connect, read = timeout
        except ValueError:
            raise ValueError(
                'Invalid timeout %s. Pass a (connect, read) timeout tuple, or a single float to '
                'set both timeouts to the same value.' % (timeout,))
        parts = [t for t in (connect, read) if t is not None]
        if not parts:
            return None
        total = sum(float(t) for t in parts)
    else:
        total = float(timeout)
    if total < 0:
        raise ValueError('Attempted to set connect timeout to %s, but the timeout cannot be set '
                         'to a value less than or equal to 0.' % timeout)
    return max(1, int(total * 1000))


def merge_setting(request_setting, session_setting):
    if session_setting is None:
        return request_setting
    if request_setting is None:
        return session_setting
    if not (hasattr(session_setting, 'items') and hasattr(request_setting, 'items')):
        return request_setting
    merged = CaseInsensitiveDict(session_setting) if isinstance(session_setting, CaseInsensitiveDict) \
        else dict(session_setting)
    merged.update(request_setting)
    for k in [k for k, v in merged.items() if v is None]:
        del merged[k]
    return merged


def send_prepared(prep, timeout=None, allow_redirects=True, max_redirects=DEFAULT_REDIRECT_LIMIT):
    """Send `prep` through the host, following redirects as requests does."""
    if prep.url is None:
        raise exc.URLRequired()
    scheme = urlsplit(prep.url).scheme.lower()
    if scheme not in ('http', 'https'):
        raise exc.InvalidSchema("No connection adapters were found for %r" % prep.url)
    timeout_ms = _timeout_ms(timeout)
    history = []
    while True:
        start = time.monotonic()
        try:
            status, reason, headers, body = hostio.http(
                prep.method, prep.url, list(prep.headers.items()), prep.body_bytes(), timeout_ms)
        except hostio.HostHttpError as e:
            if e.kind == 'timeout':
                raise exc.ReadTimeout(str(e), request=prep)
            raise exc.ConnectionError(str(e), request=prep)
        resp = Response()
        resp.status_code = status
        resp.reason = reason
        resp.headers = CaseInsensitiveDict()
        for k, v in headers:
            if k in resp.headers:
                resp.headers[k] = resp.headers[k] + ', ' + v
            else:
                resp.headers[k] = v
        resp._content = body
        resp.encoding = get_encoding_from_headers(resp.headers)
        resp.url = prep.url
        resp.request = prep
        resp.elapsed = datetime.timedelta(seconds=time.monotonic() - start)
        if not (allow_redirects and resp.is_redirect):
            resp.history = history
            return resp
        history.append(resp)
        if len(history) > max_redirects:
            raise exc.TooManyRedirects('Exceeded %s redirects.' % max_redirects, response=resp)
        location = resp.headers['location']
        if isinstance(location, bytes):
            location = location.decode('latin1')
        if location.startswith('//'):
            location = '%s:%s' % (urlsplit(resp.url).scheme, location)
        new_url = urljoin(resp.url, location)
        new = prep.copy()
        new.url = new_url
        method = prep.method
        if status == 303 and method != 'HEAD':
            method = 'GET'
        if status == 302 and method != 'HEAD':
            method = 'GET'
        if status == 301 and method == 'POST':
            method = 'GET'
        new.method = method
        if status not in (307, 308):
            for h in ('Content-Length', 'Content-Type', 'Transfer-Encoding'):
                new.headers.pop(h, None)
            new.body = None
        if urlsplit(new_url).hostname != urlsplit(prep.url).hostname:
            new.headers.pop('Authorization', None)
        prep = new


class Session:
    """A Requests session (headers, auth and params applied to each request)."""

    __attrs__ = ['headers', 'cookies', 'auth', 'proxies', 'hooks', 'params', 'verify', 'cert',
                 'adapters', 'stream', 'trust_env', 'max_redirects']

    def __init__(self):
        self.headers = default_headers()
        self.auth = None
        self.proxies = {}
        self.hooks = {'response': []}
        self.params = {}
        self.stream = False
        self.verify = True
        self.cert = None
        self.max_redirects = DEFAULT_REDIRECT_LIMIT
        self.trust_env = True
        self.cookies = {}
        self.adapters = {}

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def prepare_request(self, request):
        cookies = dict(self.cookies)
        if request.cookies:
            cookies.update(request.cookies)
        auth = request.auth
        if self.auth and not auth:
            auth = self.auth
        p = PreparedRequest()
        p.prepare(
            method=request.method.upper(),
            url=request.url,
            files=request.files,
            data=request.data,
            json=request.json,
            headers=merge_setting(request.headers, self.headers),
            params=merge_setting(request.params, self.params),
            auth=auth,
            cookies=cookies,
        )
        return p

    def request(self, method, url, params=None, data=None, headers=None, cookies=None, files=None,
                auth=None, timeout=None, allow_redirects=True, proxies=None, hooks=None,
                stream=None, verify=None, cert=None, json=None):
        req = Request(method=method.upper() if isinstance(method, str) else method, url=url,
                      headers=headers, files=files, data=data or {}, json=json,
                      params=params or {}, auth=auth, cookies=cookies, hooks=hooks)
        prep = self.prepare_request(req)
        return self.send(prep, timeout=timeout, allow_redirects=allow_redirects)

    def send(self, request, **kwargs):
        return send_prepared(request, timeout=kwargs.get('timeout'),
                             allow_redirects=kwargs.get('allow_redirects', True),
                             max_redirects=self.max_redirects)

    def get(self, url, **kwargs):
        kwargs.setdefault('allow_redirects', True)
        return self.request('GET', url, **kwargs)

    def options(self, url, **kwargs):
        kwargs.setdefault('allow_redirects', True)
        return self.request('OPTIONS', url, **kwargs)

    def head(self, url, **kwargs):
        kwargs.setdefault('allow_redirects', False)
        return self.request('HEAD', url, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request('POST', url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request('PUT', url, data=data, **kwargs)

    def patch(self, url, data=None, **kwargs):
        return self.request('PATCH', url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        return self.request('DELETE', url, **kwargs)

    def mount(self, prefix, adapter):
        self.adapters[prefix] = adapter

    def close(self):
        pass


def session():
    return Session()
