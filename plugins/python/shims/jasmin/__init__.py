"""The parts of Jasmin SMS gateway (Apache License 2.0, jookies/jasmin) that interceptor and
EvalPyFilter scripts see: `jasmin.routing.Routables` and `jasmin.routing.jasminApi`, trimmed to
what exists inside smsgate's Python runtime."""
