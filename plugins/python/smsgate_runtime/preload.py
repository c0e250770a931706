"""Modules scripts may import. Inside the component only modules loaded at build time exist
(componentize-py snapshots the interpreter after importing the app), so everything Jasmin
scripts commonly use is imported here; any other import raises ModuleNotFoundError."""

import importlib
import sys

MODULES = [
    # what Jasmin's documentation and master inject or use
    're', 'json', 'datetime', 'time', 'hashlib', 'struct', 'string', 'logging', 'logging.handlers',
    'math', 'random', 'base64', 'binascii', 'collections', 'collections.abc', 'urllib',
    'urllib.parse', 'urllib.request', 'urllib.error', 'urllib.response', 'socket', 'uuid',
    'decimal', 'copy', 'traceback', 'enum', 'typing', 'functools', 'itertools', 'pickle', 'os',
    'os.path', 'sys', 'calendar', 'io', 'codecs', 'operator', 'fractions', 'numbers',
    'statistics', 'bisect', 'heapq', 'array', 'hmac', 'secrets', 'ipaddress', 'unicodedata',
    'textwrap', 'difflib', 'html', 'html.parser', 'http', 'http.client', 'email', 'email.utils',
    'email.message', 'email.parser', 'email.header', 'email.mime', 'email.mime.text',
    'email.mime.multipart', 'csv', 'dataclasses', 'contextlib', 'abc', 'types', 'weakref',
    'queue', 'threading', 'locale', 'pprint', 'shlex', 'fnmatch', 'glob', 'pathlib', 'tempfile',
    'zoneinfo', 'errno', 'stat', 'warnings', 'keyword', 'token', 'tokenize',
    'xml', 'xml.etree', 'xml.etree.ElementTree', 'xml.dom', 'xml.dom.minidom', 'zlib', 'gzip',
    'zipfile', 'configparser', 'platform', 'signal', 'select', 'selectors',
    'gettext', 'quopri', 'mimetypes', 'cmath', 'graphlib', 'reprlib',
    'contextvars', 'shutil', 'posixpath', 'ntpath',
    'genericpath', 'linecache', 'gc', 'atexit', 'builtins', 'marshal',
    'http.cookies', 'json.decoder', 'json.encoder',
    # lazily imported by stdlib functions scripts call
    '_strptime', 'encodings', 'encodings.idna', 'encodings.punycode', 'stringprep',
    'encodings.aliases', 'copyreg', '_compat_pickle', 'random', 'locale',
    # the shims
    'requests', 'requests.api', 'requests.auth', 'requests.exceptions', 'requests.models',
    'requests.sessions', 'requests.status_codes', 'requests.structures',
    'smpp', 'smpp.pdu', 'smpp.pdu.constants', 'smpp.pdu.pdu_types', 'smpp.pdu.operations',
    'smpp.pdu.smpp_time', 'smpp.pdu.error', 'smpp.pdu.encoding', 'smpp.pdu.pdu_encoding',
    'jasmin', 'jasmin.routing', 'jasmin.routing.Routables', 'jasmin.routing.jasminApi',
]

LOADED = []
MISSING = []


def _encodings():
    """Every codec module of the stdlib (bytes.decode('cp1252') imports one lazily)."""
    try:
        import encodings
        import pkgutil
        return ['encodings.' + m.name for m in pkgutil.iter_modules(encodings.__path__)]
    except Exception:
        return []


def preload():
    for name in MODULES + _encodings():
        if name in sys.modules:
            LOADED.append(name)
            continue
        try:
            importlib.import_module(name)
            LOADED.append(name)
        except BaseException:
            MISSING.append(name)
