"""A second, independent Yilianyun (v1 + v2) and Lingju server, written from protocol.md and the seed pages only.

It is deliberately strict about what the client sends and deliberately a little different from our own sandbox in what it
answers (string-or-number fields, extra unknown fields, tokens of varying length, Chinese error texts), so the real
`quickauth` CLI is checked against the published protocol rather than against our own reading of it.
Every rule a request breaks is recorded in `Server.violations`; the conformance tests fail on any.
Python 3 standard library only.
"""

import hashlib
import json
import re
import secrets
import string
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
TEN_DIGITS_RE = re.compile(r"^[0-9]{10}$")
SIGN_RE = re.compile(r"^[0-9a-f]{32}$")  # lowercase only: an uppercase md5 is a violation
USERID_RE = re.compile(r"^[A-Za-z0-9]+$")
ORIGIN_ID_RE = re.compile(r"^[A-Za-z0-9]+$")
CN_TZ = timezone(timedelta(hours=8))  # the 20/day quota counts China calendar days

QR_KEY_TTL = 300
ACCESS_TTL = 2592000  # 30 days
REFRESH_TTL = 35 * 86400
REPLAY_WINDOW = 2 * 3600  # an old refresh token returns the previous result for 2 h
DAILY_LIMIT = 20
TIMESTAMP_WINDOW = 60

# Error texts as the Chinese pages give them (the server answers in Chinese only, like the real one).
ERRORS = {
    2: "client_id不存在",
    5: "client_id或client_secret错误",
    11: "sign验证失败",
    12: "缺少必要参数",
    14: "access_token错误",
    18: "access_token过期或错误",
    20: "refresh_token已过期,请重新授权",
    24: "没有可取消的订单",
    27: "请设置scope,权限默认为all",
    29: "client_id,machine_code,qr_key不能为空",
    30: "machine_code,qr_key错误",
    31: "接口不支持自有应用服务模式",
    33: "Uuid不合法",
    34: "非法操作",
    35: "machine_code,msign错误",
    41: "获取或更新access_token的次数,已超过最大限制次数!",
    47: "参数错误",
}

YLY_PATHS = {
    "/oauth/scancodemodel", "/oauth/oauth", "/printer/getprintstatus", "/printer/getversion", "/printer/printinfo",
    "/printer/deleteprinter", "/printer/cancelall", "/print/index",
}
LINGJU_PATHS = {"/httpapi/authorize.do", "/bltapi/authorize.do"}


def md5_sign(client_id, timestamp, secret):
    return hashlib.md5((client_id + timestamp + secret).encode("utf-8")).hexdigest()


def random_token(min_len, max_len, alphabet=string.ascii_letters + string.digits):
    """Random-looking tokens of varying length, so a client that assumes a fixed length breaks here."""
    n = secrets.randbelow(max_len - min_len + 1) + min_len
    return "".join(secrets.choice(alphabet) for _ in range(n))


def random_msign():
    return random_token(12, 12, string.ascii_lowercase + string.digits)


def china_day(unix):
    return datetime.fromtimestamp(unix, CN_TZ).date().isoformat()


class Server:
    """State + rules. `start()` binds 127.0.0.1 on a free port; tests change state directly (same process)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.apps = {}  # client_id -> {"secret", "open": bool}
        self.client_sign_secrets = {}  # client_id -> set of secrets a CLI was given (for telling bad signs from bad secrets)
        self.printers = {}  # machine_code -> {"msign", "qr_keys": {key: issued_unix}}
        self.access = {}  # access_token -> {"client_id", "machine_code", "expires", "revoked"}
        self.refresh = {}  # refresh_token -> {"client_id", "machine_code", "issued", "used_at", "result"}
        self.issued = {}  # machine_code -> [(access_token, refresh_token)] in issue order
        self.grants = {}  # (machine_code, china day) -> count
        self.used_ids = set()
        self.requests = []  # every request: dict(method, path, version, params, headers, ...)
        self.violations = []
        self.faults = []  # {"path": suffix, "mode": "drop_reply"|"error", "code": n, "count": n or None}
        self.lingju_apps = {}  # appkey -> {"authcode": str or None}
        self.lingju_registered = set()  # (appkey, userid) pre-provisioned for bltapi
        self.lingju_tokens = {}  # userid -> [token]
        self.all_secrets = set()  # every secret / token this server made or was told about, for the hygiene scan
        self.reply_counter = 0
        self.print_jobs = []
        self.httpd = None

    # ---- setup helpers used by tests ----
    def add_app(self, open_app=True):
        client_id = str(1000000000 + secrets.randbelow(8999999999))
        secret = random_token(32, 32, string.ascii_lowercase + string.digits)
        with self.lock:
            self.apps[client_id] = {"secret": secret, "open": open_app}
            self.client_sign_secrets.setdefault(client_id, set()).add(secret)
            self.all_secrets.add(secret)
        return client_id, secret

    def expect_wrong_secret(self, client_id, wrong_secret):
        """A CLI profile was deliberately given a wrong secret: its sign is well-formed, just not ours (-> error 11)."""
        with self.lock:
            self.client_sign_secrets.setdefault(client_id, set()).add(wrong_secret)
            self.all_secrets.add(wrong_secret)

    def add_printer(self):
        mc = "4004" + "".join(secrets.choice(string.digits) for _ in range(6))
        with self.lock:
            while mc in self.printers:
                mc = "4004" + "".join(secrets.choice(string.digits) for _ in range(6))
            msign = random_msign()
            self.printers[mc] = {"msign": msign, "qr_keys": {}}
            self.all_secrets.add(msign)
        return mc, msign

    def mint_qr_key(self, machine_code, age=0):
        key = random_token(16, 24, string.ascii_lowercase + string.digits)
        with self.lock:
            self.printers[machine_code]["qr_keys"][key] = int(time.time()) - age
            self.all_secrets.add(key)
        return key

    def add_lingju_app(self, with_authcode):
        appkey = random_token(24, 32)
        authcode = random_token(12, 20) if with_authcode else None
        with self.lock:
            self.lingju_apps[appkey] = {"authcode": authcode}
            self.all_secrets.add(appkey)
            if authcode:
                self.all_secrets.add(authcode)
        return appkey, authcode

    def register_lingju_user(self, appkey, userid):
        with self.lock:
            self.lingju_registered.add((appkey, userid))

    def add_fault(self, path_suffix, mode, code=None, count=1):
        with self.lock:
            self.faults.append({"path": path_suffix, "mode": mode, "code": code, "count": count})

    def clear_faults(self):
        with self.lock:
            self.faults.clear()

    def set_grant_count(self, machine_code, count):
        with self.lock:
            self.grants[(machine_code, china_day(time.time()))] = count

    def expire_access_tokens(self, machine_code):
        with self.lock:
            for rec in self.access.values():
                if rec["machine_code"] == machine_code:
                    rec["expires"] = time.time() - 1

    def age_refresh_use(self, refresh_token, seconds):
        """Move the moment an old refresh token was used back in time (tests of the 2 h replay window)."""
        with self.lock:
            rec = self.refresh[refresh_token]
            if rec["used_at"] is not None:
                rec["used_at"] -= seconds

    def latest(self, machine_code):
        with self.lock:
            return self.issued.get(machine_code, [])[-1] if self.issued.get(machine_code) else None

    def violation(self, req, what):
        with self.lock:
            self.violations.append(f"{req['method']} {req['raw_path']}: {what}")

    def start(self):
        server = self

        class Handler(_Handler):
            state = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # ---- token issue ----
    def _issue(self, client_id, machine_code, now):
        at = random_token(28, 48, string.ascii_lowercase + string.digits)
        rt = random_token(30, 56)
        self.access[at] = {"client_id": client_id, "machine_code": machine_code, "expires": now + ACCESS_TTL,
                           "revoked": False}
        self.refresh[rt] = {"client_id": client_id, "machine_code": machine_code, "issued": now, "used_at": None,
                            "result": None}
        self.issued.setdefault(machine_code, []).append((at, rt))
        self.all_secrets.update((at, rt))
        return at, rt

    def _count_grant(self, machine_code, now):
        key = (machine_code, china_day(now))
        if self.grants.get(key, 0) >= DAILY_LIMIT:
            return False
        self.grants[key] = self.grants.get(key, 0) + 1
        return True

    def _token_body(self, version, client_id, machine_code, at, rt, with_mc):
        self.reply_counter += 1
        if version == "v1":
            # The v1 pages show expires_in both as a string and as a number: give both, alternating.
            expires = str(ACCESS_TTL) if self.reply_counter % 2 else ACCESS_TTL
            body = {"access_token": at, "refresh_token": rt, "expires_in": expires, "scope": "all"}
            if with_mc:
                body["machine_code"] = machine_code
        else:
            body = {"access_token": at, "refresh_token": rt, "expires_in": ACCESS_TTL,
                    "refresh_expires_in": REFRESH_TTL, "client_id": client_id, "machine_code": machine_code,
                    "scope": "all"}
        body["x_grant_serial"] = self.reply_counter  # unknown field: must be ignored
        return body

    # ---- endpoint logic; returns (error_code, body) ----
    def handle_yly(self, req, version, path, p):
        now = time.time()
        client_id = p.get("client_id", "")
        if client_id not in self.apps:
            return 2, None
        app = self.apps[client_id]
        if p.get("sign") != md5_sign(client_id, p.get("timestamp", ""), app["secret"]):
            return 11, None
        if path == "/oauth/scancodemodel":
            if not app["open"]:
                return 31, None
            if p.get("scope") is None:
                return 27, None
            mc = p.get("machine_code", "")
            has_qr, has_msign = "qr_key" in p, "msign" in p
            if not mc or not (has_qr or has_msign):
                return 29, None
            printer = self.printers.get(mc)
            if has_qr:
                issued = printer["qr_keys"].get(p["qr_key"]) if printer else None
                if issued is None or now - issued > QR_KEY_TTL:
                    return 30, None
            elif printer is None or p["msign"] != printer["msign"]:
                return 35, None
            if not self._count_grant(mc, now):
                return 41, None
            at, rt = self._issue(client_id, mc, now)
            return 0, self._token_body(version, client_id, mc, at, rt, with_mc=False)
        if path == "/oauth/oauth":
            if p.get("scope") is None:
                return 27, None
            if p.get("grant_type") != "refresh_token":
                return 47, None  # code flow is not exercised by this server
            rt = p.get("refresh_token", "")
            rec = self.refresh.get(rt)
            if rec is None or rec["client_id"] != client_id:
                return 20, None
            if rec["used_at"] is not None:
                # Documented: the old refresh token within 2 h gives back the previous result.
                if now - rec["used_at"] <= REPLAY_WINDOW and rec["result"]:
                    req["replayed"] = True
                    at2, rt2 = rec["result"]
                    return 0, self._token_body(version, client_id, rec["machine_code"], at2, rt2, with_mc=True)
                return 20, None
            if now - rec["issued"] > REFRESH_TTL:
                return 20, None
            if not self._count_grant(rec["machine_code"], now):
                return 41, None
            at2, rt2 = self._issue(client_id, rec["machine_code"], now)
            rec["used_at"] = now
            rec["result"] = (at2, rt2)
            return 0, self._token_body(version, client_id, rec["machine_code"], at2, rt2, with_mc=True)
        # printer calls
        at = p.get("access_token", "")
        mc = p.get("machine_code", "")
        rec = self.access.get(at)
        if rec is None or rec["revoked"] or rec["client_id"] != client_id:
            return 14, None
        if rec["expires"] < now:
            return 18, None
        if rec["machine_code"] != mc:
            return 34, None
        if path == "/printer/getprintstatus":
            return 0, ({"state": "1"} if version == "v1" else {"machine_code": mc, "state": 1})
        if path == "/printer/getversion":
            return 0, {"hardware": "a7", "software": "K4-WAD"}
        if path == "/printer/printinfo":
            return 0, {"version": "K4-WAD", "print_width": "58mm"}
        if path == "/print/index":
            origin = p.get("origin_id", "")
            limit = 32 if version == "v1" else 64
            if "content" not in p or not origin:
                return 12, None
            if not ORIGIN_ID_RE.match(origin) or len(origin) > limit:
                self.violation(req, f"origin_id {origin!r} is not 1..{limit} letters/digits")
                return 47, None
            job = 100000000 + len(self.print_jobs)
            self.print_jobs.append({"machine_code": mc, "content": p["content"], "origin_id": origin})
            return 0, ({"id": str(job), "origin_id": origin} if version == "v1" else {"id": job, "origin_id": origin})
        if path == "/printer/deleteprinter":
            for r in self.access.values():
                if r["machine_code"] == mc and r["client_id"] == client_id:
                    r["revoked"] = True
            return 0, None
        if path == "/printer/cancelall":
            return 24, None
        return 47, None

    def handle_lingju(self, req, path, p):
        appkey = p.get("appkey", "")
        app = self.lingju_apps.get(appkey)
        if app is None:
            return 6, "appkey无效", None
        userid = p.get("userid", "")
        if not USERID_RE.match(userid):
            self.violation(req, f"userid {userid!r} is not [A-Za-z0-9]+")
            return 8, "参数错误", None
        if path == "/httpapi/authorize.do":
            if app["authcode"] is not None and p.get("authcode") != app["authcode"]:
                return 11, "授权码无效", None
        elif (appkey, userid) not in self.lingju_registered:
            return 16, "终端未激活", None
        tok = random_token(32, 40, "0123456789abcdef")
        self.lingju_tokens.setdefault(userid, []).append(tok)
        self.all_secrets.add(tok)
        return 0, "success", {"accessToken": tok, "expires": 87, "update": int(time.time() * 1000),
                              "x_quota_left": 99}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # the Server, set by a subclass in Server.start

    def log_message(self, *args):  # quiet: the suite prints its own lines
        pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def _send_json(self, obj, content_type="application/json; charset=utf-8"):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        st = self.state
        raw_path = self.path
        parsed = urllib.parse.urlsplit(raw_path)
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length else b""
        req = {"method": self.command, "raw_path": raw_path, "path": parsed.path, "headers": dict(self.headers.items()),
               "body": body, "time": time.time()}
        with st.lock:
            st.requests.append(req)
            self._dispatch(st, req, parsed, body, length)

    def _dispatch(self, st, req, parsed, body, length):
        path = parsed.path
        version = "v1"
        if path.startswith("/v2/"):
            version, path = "v2", path[3:]
        req["version"] = version
        is_yly = path in YLY_PATHS
        is_lingju = path in LINGJU_PATHS and version == "v1"
        if not (is_yly or is_lingju):
            st.violation(req, "unknown path")
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._check_no_secret_anywhere(st, req, body, lingju=is_lingju)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            st.violation(req, "body is not UTF-8")
            text = ""
        form = urllib.parse.parse_qs(text, keep_blank_values=True)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if is_lingju:
            # Lingju: GET with a query string or POST with a form are both documented.
            if self.command == "POST":
                self._check_form_content_type(st, req, body, length)
                merged = {**query, **form}
            elif self.command == "GET":
                merged = query
            else:
                st.violation(req, f"method {self.command} (GET or POST expected)")
                merged = query
            p = self._single_values(st, req, merged)
            req["params"] = p
            status, desc, data = st.handle_lingju(req, path, p)
            req["reply_code"] = status
            self._send_json({"status": status, "description": desc, "data": data, "x_server": "conformance"},
                            content_type="application/json;charset=UTF-8")
            return
        # Yilianyun
        if self.command != "POST":
            st.violation(req, f"method {self.command} (POST expected)")
        self._check_form_content_type(st, req, body, length)
        if parsed.query:
            st.violation(req, "parameters in the query string (form body expected)")
        p = self._single_values(st, req, form)
        req["params"] = p
        req["client_id"] = p.get("client_id")
        code = self._check_common(st, req, path, p)
        if code is None:
            fault = self._take_fault(st, path)
            if fault and fault["mode"] == "error":
                code, result = fault["code"], None
            else:
                code, result = st.handle_yly(req, version, path, p)
                if fault and fault["mode"] == "drop_reply":
                    # The server did the work (a refresh is consumed), then the reply is lost on the way.
                    req["dropped"] = True
                    req["reply_code"] = code
                    self.close_connection = True
                    return
        else:
            result = None
        req["reply_code"] = code
        self._send_yly(st, version, code, result, p.get("id"))

    def _take_fault(self, st, path):
        for f in st.faults:
            if path.endswith(f["path"]) and (f["count"] is None or f["count"] > 0):
                if f["count"] is not None:
                    f["count"] -= 1
                return f
        return None

    def _send_yly(self, st, version, code, result, req_id):
        desc = "success" if code == 0 else ERRORS.get(code, "错误")
        if version == "v1":
            reply = {"error": str(code), "error_description": desc}
            if code == 0:
                reply["body"] = result if result is not None else ""
        else:
            reply = {"error": code, "error_description": desc, "timestamp": int(time.time())}
            if code == 0:
                reply["body"] = result if result is not None else {}
        if req_id:
            reply["id"] = req_id
        reply["x_trace_id"] = uuid.uuid4().hex  # unknown field
        self._send_json(reply)

    def _check_form_content_type(self, st, req, body, length):
        ctype = self.headers.get("Content-Type", "")
        mime = ctype.split(";")[0].strip().lower()
        if mime != "application/x-www-form-urlencoded":
            st.violation(req, f"Content-Type {ctype!r} (application/x-www-form-urlencoded expected)")
        if length is None and self.command == "POST":
            st.violation(req, "POST without Content-Length")

    def _single_values(self, st, req, multi):
        p = {}
        for k, vs in multi.items():
            if len(vs) != 1:
                st.violation(req, f"parameter {k!r} sent {len(vs)} times")
            p[k] = vs[0]
        return p

    def _check_common(self, st, req, path, p):
        """The rules every Yilianyun request must follow. Returns an error code to answer with, or None."""
        needed = ["client_id", "sign", "id", "timestamp"]
        if path == "/oauth/scancodemodel":
            needed += ["machine_code", "scope"]
        elif path == "/oauth/oauth":
            needed += ["grant_type", "scope"]
            if p.get("grant_type") == "refresh_token":
                needed.append("refresh_token")
        else:
            needed += ["access_token", "machine_code"]
        if path == "/print/index":
            needed += ["content", "origin_id"]
        missing = [k for k in needed if not p.get(k)]
        if missing:
            st.violation(req, f"missing parameter(s) {missing}")
            return 27 if missing == ["scope"] else 12
        ts = p["timestamp"]
        if not TEN_DIGITS_RE.match(ts):
            st.violation(req, f"timestamp {ts!r} is not 10 digits")
            return 47
        if abs(int(ts) - req["time"]) > TIMESTAMP_WINDOW:
            st.violation(req, f"timestamp {ts} is {int(ts) - int(req['time'])} s off the server clock")
            return 47
        rid = p["id"]
        if not UUID4_RE.match(rid):
            st.violation(req, f"id {rid!r} is not a UUID4")
            return 33
        if rid.lower() in st.used_ids:
            st.violation(req, f"id {rid} reused")
            return 33
        st.used_ids.add(rid.lower())
        sign = p["sign"]
        if not SIGN_RE.match(sign):
            st.violation(req, f"sign {sign!r} is not 32 lowercase hex")
            return 11
        cid = p["client_id"]
        if cid in st.apps:
            candidates = st.client_sign_secrets.get(cid, set())
            if not any(md5_sign(cid, ts, s) == sign for s in candidates):
                st.violation(req, "sign is not md5(client_id + timestamp + secret) of the secret the profile holds")
                return 11
        if "scope" in p and p["scope"] != "all":
            st.violation(req, f"scope {p['scope']!r} (all expected)")
            return 15
        if path == "/oauth/scancodemodel" and ("qr_key" in p) == ("msign" in p):
            st.violation(req, "qr_key and msign: exactly one expected")
            return 29
        allowed = set(needed) | {"qr_key", "msign", "scope", "refresh_token", "code", "idempotence", "grant_type"}
        extra = set(p) - allowed
        if extra:
            st.violation(req, f"unexpected parameter(s) {sorted(extra)}")
        return None

    def _check_no_secret_anywhere(self, st, req, body, lingju):
        """No client secret may travel anywhere: path, query, headers or body, raw or url-encoded."""
        secrets_to_hide = set()
        for cid, app in st.apps.items():
            secrets_to_hide.add(app["secret"])
            secrets_to_hide.update(st.client_sign_secrets.get(cid, set()))
        if not lingju:
            for appkey, app in st.lingju_apps.items():  # Lingju credentials have no business at Yilianyun either
                secrets_to_hide.add(appkey)
                if app["authcode"]:
                    secrets_to_hide.add(app["authcode"])
        haystacks = [req["raw_path"], urllib.parse.unquote_plus(req["raw_path"]), body.decode("utf-8", "replace"),
                     urllib.parse.unquote_plus(body.decode("utf-8", "replace"))]
        haystacks += [f"{k}: {v}" for k, v in req["headers"].items()]
        for s in secrets_to_hide:
            if any(s in h for h in haystacks):
                st.violation(req, "a client secret (or foreign credential) is in the request")
