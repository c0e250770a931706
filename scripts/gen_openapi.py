#!/usr/bin/env python3
"""Writes docs/openapi.json: the OpenAPI 3 document of every HTTP API of smsgate.

The document is checked in (and served by the gateway at GET /openapi.json on the REST port);
edit this script and run it again rather than editing the JSON by hand.
"""
import json
import pathlib

def obj(props, required=(), additional=False):
    o = {"type": "object", "properties": props}
    if required:
        o["required"] = list(required)
    if not additional:
        o["additionalProperties"] = False
    return o

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
ANY = {}

def json_content(schema):
    return {"application/json": {"schema": schema}}

def resp(desc, schema=None, ctype="application/json"):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {ctype: {"schema": schema}}
    return r

TEXT = {"type": "string"}
jasmin_only = obj({"message": ANY}, ["message"], additional=True)
falcon_err = obj({"title": S, "description": S}, ["title"], additional=True)
# Jasmin answers its own refusals as {"message": ...}, Falcon's as {"title", "description"}.
jasmin_msg = {"anyOf": [jasmin_only, falcon_err]}
basic = [{"basic": []}]

# The /send parameters (spec table 6) as REST JSON (Jasmin turns `_` into `-`).
CALLBACK_URL = ("Client-supplied callback URL, checked against the [callbacks] policy at submission: a refused target (link-local, cloud metadata, the gateway's own listeners or services; loopback and private networks under public-only) is answered 400 `Argument [...] has an invalid value: [<url>]. Callback target refused: <why>.`")

send_params = {
    "to": {"oneOf": [{"type": "string", "pattern": "^\\+?[0-9]+$"}, {"type": "integer", "minimum": 0}]},
    "from": S,
    "coding": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14]},
    "priority": {"type": "integer", "enum": [0, 1, 2, 3]},
    "sdt": S,
    "validity-period": {"type": "integer", "minimum": 0},
    "dlr": {"type": "string", "enum": ["yes", "no"]},
    "dlr-url": {"type": "string", "format": "uri", "description": CALLBACK_URL},
    "dlr-level": {"type": "integer", "enum": [1, 2, 3]},
    "dlr-method": {"type": "string", "enum": ["GET", "POST"]},
    "tags": S,
    "content": {"type": "string", "minLength": 1},
    "hex_content": {"type": "string", "pattern": "^([0-9a-fA-F]{2})+$"},
    "transliterate": {"type": "string", "enum": ["yes", "no"]},
}
batch_msg = dict(send_params)
batch_msg["to"] = {"oneOf": [send_params["to"], {"type": "array", "items": send_params["to"], "minItems": 1}]}

jasmin_errors = {
    "400": resp("Invalid parameters (Jasmin's `Error \"...\"` text in `message`)", jasmin_msg),
    "401": resp("No Basic auth", falcon_err),
    "403": resp("Authentication or authorization failure", jasmin_msg),
    "412": resp("Unparseable JSON, no route; for sendbatch also failed authentication and an unparseable schedule_at (Jasmin's Falcon errors)", jasmin_msg),
    "413": resp("Body larger than [rest-api] max_body_bytes", falcon_err),
}

retarus_job = obj({
    "options": obj({
        "src": S, "encoding": {"type": "string", "enum": ["standard", "utf-16"]},
        "billcode": S, "statusRequested": B, "flash": B, "customerRef": S,
        "validityMin": {"type": "integer", "minimum": 1, "maximum": 10080},
        "maxParts": {"type": "integer", "minimum": 1, "maximum": 255},
        "invalidCharacters": {"type": "string", "enum": ["REFUSE", "REPLACE", "TRANSLITERATE"]},
        "qos": {"type": "string", "enum": ["EXPRESS", "NORMAL"]},
        "jobPeriod": {"type": "string", "format": "date-time"},
        "duplicateDetection": B,
        "blackoutPeriods": {"type": "array", "items": S},
    }),
    "messages": {"type": "array", "items": obj({
        "text": S,
        "recipients": {"type": "array", "items": obj({
            "dst": S, "customerRef": S, "blackoutPeriods": {"type": "array", "items": S}
        }, ["dst"])},
    }, ["text", "recipients"])},
}, ["messages"])

job_report = obj({
    "jobId": S, "src": S, "encoding": S, "billcode": S, "statusRequested": B, "flash": B,
    "validityMin": I, "customerRef": S, "qos": S, "receiptTs": S, "finishedTs": S,
    "recipientIds": {"type": "array", "items": S},
}, ["jobId", "receiptTs", "recipientIds"], additional=True)
recipient_report = obj({
    "smsId": S, "dst": S, "processStatus": {"type": "string", "enum": ["OPEN", "DONE"]},
    "status": S, "customerRef": S, "reason": S, "sentTs": S, "finishedTs": S,
}, ["smsId", "dst", "processStatus"], additional=True)
no_content = lambda d: {"description": d}

doc = {
    "openapi": "3.0.3",
    "info": {
        "title": "smsgate HTTP APIs",
        "version": "0.1.0",
        "description": "Jasmin's REST API (and Direct7's), smstools-http-api and retarus' SMS jobs API on the REST listener ([rest-api], port 8080), and Jasmin's HTTP API on port 1401 (documented under /send etc. of that port; see README).",
    },
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
    "paths": {
        "/ping": {"get": {
            "summary": "Liveness (Jasmin)",
            "responses": {"200": resp("PONG", obj({"data": {"type": "string", "enum": ["Jasmin/PONG"]}}, ["data"]))},
        }},
        "/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": resp("OpenAPI document", {"type": "object"})},
        }},
        "/secure/send": {"post": {
            "summary": "Send one message (Jasmin /send parameters as JSON)",
            "security": basic,
            "requestBody": {"required": True, "content": json_content(obj(send_params, ["to"]))},
            "responses": dict({"200": resp("Queued: Success \"<id>", obj({"data": S}, ["data"]))}, **jasmin_errors,
                              **{"500": resp("Queue unavailable", jasmin_msg)}),
        }},
        "/secure/sendbatch": {"post": {
            "summary": "Send a batch: one durable job, expanded as it sends",
            "security": basic,
            "requestBody": {"required": True, "content": json_content(obj({
                "messages": {"type": "array", "items": obj(batch_msg, ["to"])},
                "globals": obj(send_params),
                "batch_config": obj({
                    "callback_url": {"type": "string", "format": "uri", "description": CALLBACK_URL},
                    "errback_url": {"type": "string", "format": "uri", "description": CALLBACK_URL},
                    "schedule_at": {"type": "string", "description": "YYYY-MM-DD HH:MM:SS (local time) or <N>s"},
                }),
            }, ["messages"]))},
            "responses": dict({"200": resp("Accepted", obj({"data": obj({"batchId": S, "messageCount": I}, ["batchId", "messageCount"])}, ["data"]))},
                              **jasmin_errors, **{"500": resp("Store unavailable", jasmin_msg)}),
        }},
        "/secure/batch/{batchId}": {"get": {
            "summary": "A batch's progress (smsgate extension)",
            "security": basic,
            "parameters": [{"name": "batchId", "in": "path", "required": True, "schema": S}],
            "responses": {
                "200": resp("Progress", obj({"data": obj({"batchId": S, "status": {"type": "string", "enum": ["queued", "scheduled", "running", "done"]}, "messageCount": I, "sent": I, "failed": I})}, ["data"])),
                "401": resp("No Basic auth", falcon_err),
                "403": resp("Authentication failure", jasmin_msg),
                "404": resp("Unknown batch (or another user's)", jasmin_msg),
            },
        }},
        "/secure/balance": {"get": {
            "summary": "Balance and sms count",
            "security": basic,
            "responses": {
                "200": resp("Balance", obj({"data": obj({"balance": ANY, "sms_count": ANY})}, ["data"])),
                "400": resp("Invalid parameters", jasmin_msg),
                "401": resp("No Basic auth", falcon_err),
                "403": resp("Authentication failure", jasmin_msg),
            },
        }},
        "/secure/rate": {"get": {
            "summary": "Route check and rate",
            "security": basic,
            "parameters": [
                {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "pattern": "^\\+?[0-9]+$"}},
                {"name": "from", "in": "query", "schema": S},
                {"name": "coding", "in": "query", "schema": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14]}},
                {"name": "content", "in": "query", "schema": S},
            ],
            "responses": {
                "200": resp("Rate", obj({"data": obj({"unit_rate": {"type": "number"}, "submit_sm_count": I})}, ["data"])),
                "400": resp("Invalid parameters", jasmin_msg),
                "401": resp("No Basic auth", falcon_err),
                "403": resp("Authentication failure", jasmin_msg),
                "412": resp("No route", jasmin_msg),
            },
        }},
        "/api/v1.0/sms/outgoing": {"post": {
            "summary": "smstools-http-api: send a text to numbers",
            "security": basic,
            "requestBody": {"required": True, "content": json_content(obj({
                "mobiles": {"type": "array", "items": {"type": "string", "pattern": "^\\+?[0-9]{1,20}$"}, "minItems": 1},
                "text": {"type": "string", "minLength": 1},
            }, ["mobiles", "text"]))},
            "responses": {
                "201": resp("Created", obj({"message_id": {"type": "object", "additionalProperties": S}, "parts_count": I, "sent_text": S}, ["message_id", "parts_count", "sent_text"])),
                "400": resp("Bad input, or refused (route, balance, content)", obj({"error": S}, ["error"], additional=True)),
                "401": resp("Authentication failed", obj({"error": S}, ["error"])),
                "403": resp("A number outside the user's mobile_perms", obj({"error": S}, ["error"])),
                "413": resp("Body too large", obj({"error": S}, ["error"])),
            },
        }},
        "/api/v1.0/sms/sent/{message_id}": {"get": {
            "summary": "smstools-http-api: a sent message",
            "security": basic,
            "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}],
            "responses": {
                "200": resp("Sent", obj({"From": S, "To": S, "Sent": S, "message_id": S}, ["From", "To", "Sent", "message_id"])),
                "401": resp("Authentication failed", obj({"error": S}, ["error"])),
                "404": resp("Not found (or not sent yet)", obj({"error": S}, ["error"])),
            },
        }},
        "/rest/v1/jobs": {
            "post": {
                "summary": "retarus: create a job",
                "security": basic,
                "requestBody": {"required": True, "content": json_content(retarus_job)},
                "responses": {
                    "201": resp("Job created", obj({"jobId": S}, ["jobId"])),
                    "400": no_content("Invalid JobRequest data (qos, encoding, ...)"),
                    "401": no_content("Authentication failed"),
                    "409": no_content("Duplicate job (duplicateDetection)"),
                    "413": no_content("Body larger than [rest-api] max_body_bytes"),
                    "422": no_content("Invalid JobRequest data (invalid chars, no messages, ...)"),
                    "429": no_content("Too many requests in the last 10 seconds"),
                },
            },
            "get": {
                "summary": "retarus: job ids of a period",
                "security": basic,
                "parameters": [
                    {"name": "fromTs", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "toTs", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "jobIdsOnly", "in": "query", "schema": {"type": "boolean", "default": True}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "open", "in": "query", "schema": B},
                ],
                "responses": {
                    "200": resp("Job ids", {"type": "array", "items": obj({"jobId": S}, ["jobId"])}),
                    "400": no_content("Invalid request parameter"),
                    "401": no_content("Authentication failed"),
                },
            },
        },
        "/rest/v1/jobs/{jobId}": {"get": {
            "summary": "retarus: job report",
            "security": basic,
            "parameters": [{"name": "jobId", "in": "path", "required": True, "schema": S}],
            "responses": {
                "200": resp("Job report", job_report),
                "400": no_content("No job id"),
                "401": no_content("Authentication failed"),
                "404": no_content("Unknown job"),
            },
        }},
        "/rest/v1/sms": {"get": {
            "summary": "retarus: recipient reports of a job",
            "security": basic,
            "parameters": [{"name": "jobId", "in": "query", "required": True, "schema": S}],
            "responses": {
                "200": resp("Recipient reports", {"type": "array", "items": recipient_report}),
                "400": no_content("No job id"),
                "401": no_content("Authentication failed"),
                "404": no_content("Unknown job"),
            },
        }},
        "/rest/v1/version": {"get": {
            "summary": "retarus: version",
            "responses": {"200": resp("Version", obj({
                "buildNumber": I, "buildTimestamp": S, "majorVersion": I, "minorVersion": I,
                "versionInfo": S, "message": S}))},
        }},
    },
}

# Jasmin's HTTP API on its own port (1401): path-level servers.
http_server = [{"url": "http://127.0.0.1:1401"}]
cred = [
    {"name": "username", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 16}},
    {"name": "password", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 16}},
]
def q(name, schema, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema}
to_q = q("to", {"type": "string", "pattern": "^\\+?[0-9]+$"}, True)
text_err = lambda d: resp(d, TEXT, "text/plain")
json_any = lambda d: resp(d, ANY)
doc["paths"]["/send"] = {"servers": http_server, "get": {
    "summary": "Jasmin HTTP API (port 1401): send (spec table 6)",
    "parameters": [to_q] + cred + [
        q("from", S), q("coding", send_params["coding"]), q("priority", send_params["priority"]),
        q("validity-period", {"type": "integer", "minimum": 0}), q("dlr", send_params["dlr"]),
        q("dlr-url", S), q("dlr-level", send_params["dlr-level"]), q("dlr-method", send_params["dlr-method"]),
        q("tags", S), q("content", {"type": "string", "minLength": 1}),
        q("hex-content", send_params["hex_content"]), q("transliterate", send_params["transliterate"]),
    ],
    "responses": {
        "200": text_err('Success "<id>"'),
        "400": text_err('Error "..." (invalid argument, or a refused dlr-url: `Error "Argument [dlr-url] has an invalid value: [<url>]. Callback target refused: <why>."`)'),
        "403": text_err("Authentication, authorization, charging or throughput failure"),
        "412": text_err("No route found"),
        "500": text_err("Queue unavailable"),
    },
}}
doc["paths"]["/balance"] = {"servers": http_server, "get": {
    "summary": "Jasmin HTTP API (port 1401): balance",
    "parameters": cred,
    "responses": {"200": json_any("Balance"), "400": json_any("Invalid argument"), "403": json_any("Authentication failure")},
}}
doc["paths"]["/rate"] = {"servers": http_server, "get": {
    "summary": "Jasmin HTTP API (port 1401): rate",
    "parameters": [to_q] + cred + [q("content", {"type": "string", "minLength": 1}), q("coding", send_params["coding"])],
    "responses": {"200": json_any("Rate"), "400": json_any("Invalid argument"), "403": json_any("Authentication failure"), "412": json_any("No route found")},
}}

out = pathlib.Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
out.write_text(json.dumps(doc, indent=2) + "\n")
print(f"wrote {out}")
