#!/usr/bin/env python3
"""A third-party ESME (python-smpplib) driving smsgate's SMPP server.

Usage: smpplib_esme.py HOST PORT [--user foo] [--password bar] [--burst 200]

Every step prints one JSON line on stdout ({"step": ..., ...}); the Rust test
`tests/smpp_thirdparty.rs` runs this script and checks those lines and the
SMSC simulator. The script itself asserts nothing beyond "got an answer": on an
exception it prints {"step": <step>, "error": ...} and exits 1.

Steps:
  bad_password   bind_transceiver with a wrong password -> error status (ESME_RINVPASWD)
  unknown_sysid  bind_transceiver with an unknown system_id -> error status (ESME_RINVSYSID)
  bind           bind_transceiver -> bind_transceiver_resp
  enquire_link   enquire_link -> enquire_link_resp with the same sequence number
  submit         one submit_sm -> submit_sm_resp and its message_id
  burst          N submit_sm written back to back without reading, then all N responses
                 read: how many were answered, once each, their statuses and message ids
  unbind         unbind -> unbind_resp, then whether the server closed the connection
"""

import argparse
import json
import socket
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)

try:
    import smpplib.client
    import smpplib.consts
    import smpplib.exceptions
    import smpplib.smpp
except ImportError as e:  # the Rust test checks this before running the script
    print(json.dumps({"step": "import", "error": str(e)}), flush=True)
    sys.exit(2)

STEP = "start"


def emit(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)


def text(v):
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return str(v)


def new_client(host, port):
    c = smpplib.client.Client(host, port, timeout=15, allow_unknown_opt_params=True)
    c.connect()
    return c


def read_response(c, want_command, log):
    """Read PDUs until a response named `want_command`; answer the server's own requests."""
    while True:
        pdu = c.read_pdu()
        if pdu.command == "enquire_link":
            resp = smpplib.smpp.make_pdu("enquire_link_resp", client=c)
            resp.sequence = pdu.sequence
            c.send_pdu(resp)
            log.append("enquire_link from server")
            continue
        if pdu.command == "deliver_sm":
            resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=c)
            resp.sequence = pdu.sequence
            c.send_pdu(resp)
            log.append("deliver_sm from server")
            continue
        if pdu.command in (want_command, "generic_nack"):
            return pdu
        log.append("unexpected " + pdu.command)


def refused_bind(host, port, system_id, password):
    c = new_client(host, port)
    status = 0
    try:
        c.bind_transceiver(system_id=system_id, password=password)
    except smpplib.exceptions.PDUError as e:
        status = e.args[1] if len(e.args) > 1 else -1
    # Jasmin (and smsgate) close the connection after a refused bind.
    closed = connection_closed(c)
    c.disconnect()
    return status, closed


def connection_closed(c, wait=5.0):
    """True if the server closes the socket within `wait` seconds (EOF)."""
    sock = c._socket
    deadline = time.time() + wait
    try:
        while time.time() < deadline:
            sock.settimeout(max(0.05, deadline - time.time()))
            try:
                data = sock.recv(4096)
            except socket.timeout:
                return False
            if not data:
                return True
    except OSError:
        return True
    return False


def main():
    global STEP
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--user", default="foo")
    ap.add_argument("--password", default="bar")
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--prefix", default="3361")
    args = ap.parse_args()
    log = []

    STEP = "bad_password"
    status, closed = refused_bind(args.host, args.port, args.user, "wrong-" + args.password)
    emit(step=STEP, status=status, closed=closed)

    STEP = "unknown_sysid"
    status, closed = refused_bind(args.host, args.port, "nosuchuser", "x")
    emit(step=STEP, status=status, closed=closed)

    STEP = "bind"
    c = new_client(args.host, args.port)
    resp = c.bind_transceiver(system_id=args.user, password=args.password)
    emit(step=STEP, status=int(resp.status), command=resp.command,
         system_id=text(getattr(resp, "system_id", None)),
         bound_trx=c.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TRX)

    STEP = "enquire_link"
    req = smpplib.smpp.make_pdu("enquire_link", client=c)
    c.send_pdu(req)
    resp = read_response(c, "enquire_link_resp", log)
    emit(step=STEP, status=int(resp.status), command=resp.command,
         seq_match=resp.sequence == req.sequence)

    STEP = "submit"
    req = c.send_message(
        source_addr_ton=smpplib.consts.SMPP_TON_INTL,
        source_addr="1234",
        dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
        destination_addr=args.prefix + "0000000",
        short_message=b"hello from smpplib",
    )
    resp = read_response(c, "submit_sm_resp", log)
    emit(step=STEP, status=int(resp.status), command=resp.command,
         seq_match=resp.sequence == req.sequence,
         message_id=text(getattr(resp, "message_id", None)))

    STEP = "burst"
    sent = {}
    t0 = time.time()
    for i in range(args.burst):
        req = c.send_message(
            source_addr="1234",
            destination_addr="%s%07d" % (args.prefix, i + 1),
            short_message=("burst %d" % (i + 1)).encode(),
        )
        sent[req.sequence] = i + 1
    t_sent = time.time() - t0
    answers = {}
    statuses = {}
    ids = set()
    unknown = 0
    while sum(answers.values()) + unknown < args.burst:
        resp = read_response(c, "submit_sm_resp", log)
        if resp.sequence not in sent:
            unknown += 1
            continue
        answers[resp.sequence] = answers.get(resp.sequence, 0) + 1
        key = str(int(resp.status))
        statuses[key] = statuses.get(key, 0) + 1
        if int(resp.status) == 0:
            ids.add(text(getattr(resp, "message_id", None)))
    emit(step=STEP, sent=len(sent), answered=len(answers),
         answered_twice=sum(1 for n in answers.values() if n > 1),
         unknown_seq=unknown, missing=len(set(sent) - set(answers)),
         statuses=statuses, distinct_ids=len(ids),
         send_secs=round(t_sent, 3), total_secs=round(time.time() - t0, 3))

    STEP = "unbind"
    req = smpplib.smpp.make_pdu("unbind", client=c)
    c.send_pdu(req)
    resp = read_response(c, "unbind_resp", log)
    closed = connection_closed(c)
    c.disconnect()
    emit(step=STEP, status=int(resp.status), command=resp.command,
         seq_match=resp.sequence == req.sequence, closed=closed)

    STEP = "done"
    emit(step=STEP, ok=True, notes=log)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure as a JSON line
        emit(step=STEP, error="%s: %s" % (type(e).__name__, e))
        sys.exit(1)
