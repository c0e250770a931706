"""smsgate's Python-on-Wasm runtime: runs Jasmin interceptor and EvalPyFilter scripts.

`app.py` exports the WIT world `smsgate:python/runtime`; this package holds the pieces:
`hostio` (the host imports), `sandbox` (files, logging, print, sockets, imports),
`httpshim` (HTTP over the host), `convert` (WIT records <-> Jasmin objects) and `core`
(load, intercept, filter).
"""
