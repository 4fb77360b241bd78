"""Conformance: the real `quickauth` CLI against an independent, strict Python implementation of the published protocol.

Run through scripts/conformance.sh (real gnome-keyring in a private D-Bus session, temp HOME, temp data dirs).
Every request the CLI sends is validated by yly_server.py; any recorded violation fails the test that caused it and the
final check. The last test greps the data dirs, HOME and every captured stdout/stderr (except explicit --reveal output)
for every secret and token involved.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yly_server import Server  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
QA = os.environ.get("QUICKAUTH_BIN") or os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"),
                                                     "debug", "quickauth")
CJK = re.compile(r"[\u4e00-\u9fff]")

SERVER = None
SUITE_DIR = None
CAPTURED = []  # (label, text) of every stdout/stderr except explicit --reveal stdout
REVEALED = []  # values seen through --reveal (they are secrets: must not show up anywhere else)


def setUpModule():
    global SERVER, SUITE_DIR
    if os.environ.get("QUICKAUTH_IN_KEYRING_SESSION") != "1":
        raise unittest.SkipTest("needs the real keyring session: run scripts/conformance.sh")
    if not os.access(QA, os.X_OK):
        raise RuntimeError(f"no quickauth binary at {QA} (set QUICKAUTH_BIN or build quickauth-cli)")
    SERVER = Server().start()
    # Under HOME so the final scan covers it (with-keyring.sh gives us a throwaway HOME).
    SUITE_DIR = tempfile.mkdtemp(prefix="conformance-", dir=os.environ["HOME"])


def tearDownModule():
    if SERVER:
        ledger = os.environ.get("QUICKAUTH_SECRET_LEDGER")
        if ledger:  # hand our values to scripts/hygiene-check.sh too (the ledger lives outside HOME)
            with open(ledger, "a", encoding="utf-8") as f:
                for v in sorted(SERVER.all_secrets):
                    f.write(v + "\n")
        SERVER.stop()
    if SUITE_DIR and os.environ.get("CONFORMANCE_KEEP") != "1":
        shutil.rmtree(SUITE_DIR, ignore_errors=True)


def redact(text):
    """Failure messages end up in CI logs: never print a secret there, even when the CLI leaked one."""
    text = str(text)
    for v in sorted(SERVER.all_secrets | set(REVEALED), key=len, reverse=True):
        if len(v) >= 6:
            text = text.replace(v, f"<secret:{len(v)}>")
    return text


def fingerprint(pair):
    import hashlib
    return [hashlib.sha256(v.encode()).hexdigest()[:8] if v else None for v in (pair or ())]


class Conformance(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix=self._testMethodName[:20] + "-", dir=SUITE_DIR)
        self.violations_before = len(SERVER.violations)
        self.requests_before = len(SERVER.requests)
        SERVER.clear_faults()

    def tearDown(self):
        SERVER.clear_faults()
        new = SERVER.violations[self.violations_before:]
        if new:
            raise AssertionError(redact("protocol violations by the CLI:\n  " + "\n  ".join(new)))

    # ---- helpers ----
    def qa(self, *args, stdin=None, reveal=False, timeout=60):
        env = dict(os.environ, QUICKAUTH_DATA_DIR=self.data_dir, QUICKAUTH_LOG="debug", RUST_LOG="debug",
                   NO_COLOR="1")
        r = subprocess.run([QA, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
        label = f"{self._testMethodName}: quickauth {' '.join(args)}"
        if not reveal:
            CAPTURED.append((label + " [stdout]", r.stdout))
        CAPTURED.append((label + " [stderr]", r.stderr))
        return r

    def ok(self, *args, **kw):
        r = self.qa(*args, **kw)
        self.assertEqual(r.returncode, 0, redact(f"quickauth {' '.join(args)} failed:\n{r.stderr[-3000:]}"))
        return r

    def new_requests(self):
        return SERVER.requests[self.requests_before:]

    def add_yly_profile(self, name, api, secret_override=None):
        client_id, secret = SERVER.add_app()
        given = secret_override or secret
        if secret_override:
            SERVER.expect_wrong_secret(client_id, secret_override)
        r = self.ok("profile", "add", name, "--provider", "yilianyun", "--client-id", client_id, "--api", api,
                    "--base-url", SERVER.base_url, "--json", stdin=given + "\n")
        self.assertNotIn(given, r.stdout)
        return client_id, secret

    def assertTokens(self, got, want, msg=""):
        """Compare token pairs without ever printing them (fingerprints only)."""
        if tuple(got) != tuple(want):
            self.fail(f"{msg} stored {fingerprint(got)} != expected {fingerprint(want)} (sha256 prefixes)")

    def reveal(self, device_id):
        r = self.ok("token", device_id, "--reveal", "--yes", "--json", reveal=True)
        d = json.loads(r.stdout)
        REVEALED.extend([d["access_token"], d["refresh_token"]])
        return d["access_token"], d["refresh_token"]

    def authorize_qr(self, profile):
        mc, _ = SERVER.add_printer()
        qk = SERVER.mint_qr_key(mc)
        r = self.ok("authorize", "--profile", profile, "--machine-code", mc, "--qr-key", qk, "--json")
        self.assertEqual(json.loads(r.stdout)["id"], mc)
        return mc

    def error_report(self, stderr):
        for line in reversed(stderr.splitlines()):
            line = line.strip()
            if line.startswith("{") and "message_zh" in line:
                return json.loads(line)
        self.fail(redact(f"no ErrorReport JSON on stderr:\n{stderr[-2000:]}"))

    def assert_clear_error(self, args, code, keywords, stdin=None):
        """exit 1; --json gives the ErrorReport with the code; the human form has Chinese and English and says what to do."""
        r = self.qa(*args, "--json", stdin=stdin)
        self.assertEqual(r.returncode, 1, f"expected exit 1 for code {code}, got {r.returncode}\n{r.stderr[-2000:]}")
        rep = self.error_report(r.stderr)
        self.assertEqual(rep.get("code"), code, redact(rep))
        self.assertTrue(CJK.search(rep["message_zh"]), redact(rep))
        self.assertTrue(re.search(r"[A-Za-z]{4,}", rep["message_en"]), redact(rep))
        r2 = self.qa(*args, stdin=stdin)
        self.assertEqual(r2.returncode, 1)
        human = r2.stderr
        self.assertTrue(CJK.search(human) and re.search(r"\b(Error|error)\b", human), redact(human[-1500:]))
        self.assertTrue(any(k.lower() in human.lower() for k in keywords),
                        redact(f"message for code {code} names none of {keywords}:\n{human[-1500:]}"))
        return rep

    # ---- scenarios ----
    def test_00_server_catches_bad_requests(self):
        """The validator must be able to fail: hand-made bad requests are each recorded as a violation."""
        import hashlib
        import urllib.request
        import uuid as uuidlib
        client_id, secret = SERVER.add_app()
        mc, msign = SERVER.add_printer()

        def good(**over):
            ts = str(int(time.time()))
            p = {"client_id": client_id, "machine_code": mc, "msign": msign, "scope": "all", "timestamp": ts,
                 "id": str(uuidlib.uuid4()), "sign": hashlib.md5((client_id + ts + secret).encode()).hexdigest()}
            p.update(over)
            return {k: v for k, v in p.items() if v is not None}

        def send(params, ctype="application/x-www-form-urlencoded", path="/oauth/scancodemodel", extra_headers=None):
            import urllib.parse
            data = urllib.parse.urlencode(params).encode()
            req = urllib.request.Request(SERVER.base_url + path, data=data, method="POST",
                                         headers={"Content-Type": ctype, **(extra_headers or {})})
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read().decode())

        reused = str(uuidlib.uuid4())
        ts_old = str(int(time.time()) - 120)
        cases = {
            "json content type": lambda: send(good(), ctype="application/json"),
            "uppercase sign": lambda: send(good(sign=good()["sign"].upper())),
            "wrong sign": lambda: send(good(sign="0" * 32)),
            "not a uuid4": lambda: send(good(id="1234")),
            "reused uuid": lambda: (send(good(id=reused)), send(good(id=reused))),
            "13-digit timestamp": lambda: send(good(timestamp=str(int(time.time() * 1000)))),
            "stale timestamp": lambda: send(good(timestamp=ts_old, sign=hashlib.md5(
                (client_id + ts_old + secret).encode()).hexdigest())),
            "no scope": lambda: send(good(scope=None)),
            "qr_key and msign": lambda: send(good(qr_key="abc")),
            "secret in body": lambda: send(good(client_secret=secret)),
            "secret in header": lambda: send(good(), extra_headers={"X-Debug": secret}),
        }
        for name, fn in cases.items():
            with self.subTest(case=name):
                before = len(SERVER.violations)
                fn()
                self.assertGreater(len(SERVER.violations), before, f"{name}: not flagged")
        before = len(SERVER.violations)
        reply = send(good())
        self.assertEqual((reply["error"], len(SERVER.violations)), ("0", before), "a good request must pass")
        self.assertIsInstance(reply["body"]["access_token"], str)
        # these were our own deliberate violations, not the CLI's
        del SERVER.violations[self.violations_before:]
        for q in self.new_requests():
            q["selftest"] = True

    def test_01_profile_add_v1_and_v2_paths(self):
        cid1, _ = self.add_yly_profile("yv1", "v1")
        cid2, _ = self.add_yly_profile("yv2", "v2")
        r = self.ok("profile", "list", "--json")
        names = {p["name"]: p for p in json.loads(r.stdout)}
        self.assertEqual(names["yv1"]["api_version"], "v1")
        self.assertEqual(names["yv2"]["api_version"], "v2")
        mc1 = self.authorize_qr("yv1")
        mc2 = self.authorize_qr("yv2")
        self.ok("status", mc1)
        self.ok("status", mc2)
        reqs = self.new_requests()
        v1 = [q for q in reqs if q.get("client_id") == cid1]
        v2 = [q for q in reqs if q.get("client_id") == cid2]
        self.assertTrue(v1 and v2)
        self.assertTrue(all(q["version"] == "v1" and not q["path"].startswith("/v2") for q in v1), [q["path"] for q in v1])
        self.assertTrue(all(q["path"].startswith("/v2/") for q in v2), [q["path"] for q in v2])
        self.assertIn("/v2/oauth/scancodemodel", [q["path"] for q in v2])

    def test_02_authorize_forms_store_issued_tokens(self):
        for api in ("v1", "v2"):
            with self.subTest(api=api):
                self.add_yly_profile("p" + api, api)
                # --machine-code + --qr-key
                mc = self.authorize_qr("p" + api)
                self.assertTokens(self.reveal(mc), SERVER.latest(mc))
                # --machine-code + --msign (a permanent key: only from stdin or a file, never argv)
                mc, msign = SERVER.add_printer()
                self.ok("authorize", "--profile", "p" + api, "--machine-code", mc, "--msign", "-", "--json",
                        stdin=msign + "\n")
                self.assertTokens(self.reveal(mc), SERVER.latest(mc))
                # The same key written on the command line: refused (exit 2) before anything is sent, never repeated.
                before = len(SERVER.requests)
                r = self.qa("authorize", "--profile", "p" + api, "--machine-code", mc, "--msign", msign, "--json")
                self.assertEqual(r.returncode, 2, redact(r.stderr[-2000:]))
                self.assertIn("--msign -", r.stderr)
                self.assertNotIn(msign, r.stdout + r.stderr)
                self.assertEqual(len(SERVER.requests), before)
                sent = [q["params"] for q in self.new_requests() if q["params"].get("machine_code") == mc]
                self.assertTrue(sent and "msign" in sent[0] and "qr_key" not in sent[0], sent)
                # --payload: JSON with camelCase keys (qr_key) and key=value pairs (msign)
                mc, _ = SERVER.add_printer()
                qk = SERVER.mint_qr_key(mc)
                self.ok("authorize", "--profile", "p" + api, "--payload",
                        json.dumps({"machineCode": mc, "qrKey": qk}), "--json")
                self.assertTokens(self.reveal(mc), SERVER.latest(mc))
                mc, msign = SERVER.add_printer()
                self.ok("authorize", "--profile", "p" + api, "--payload", "-", "--json",
                        stdin=f"machine_code={mc}&msign={msign}\n")
                self.assertTokens(self.reveal(mc), SERVER.latest(mc))
        scans = [q for q in self.new_requests() if q["path"].endswith("/oauth/scancodemodel")]
        self.assertEqual(len(scans), 8)
        self.assertTrue(all(q["params"].get("scope") == "all" for q in scans))

    def test_03_refresh_stores_new_pair(self):
        for api in ("v1", "v2"):
            with self.subTest(api=api):
                self.add_yly_profile("r" + api, api)
                mc = self.authorize_qr("r" + api)
                first = self.reveal(mc)
                for _ in range(2):
                    r = self.ok("refresh", mc, "--json")
                    out = json.loads(r.stdout)
                    self.assertEqual(out["id"], mc)
                    self.assertNotIn("access_token", out)
                    now = self.reveal(mc)
                    self.assertTokens(now, SERVER.latest(mc))
                    self.assertTrue(now != first, "refresh stored the old pair")
                refreshes = [q for q in self.new_requests() if q["path"].endswith("/oauth/oauth")
                             and q["params"].get("refresh_token") in dict(SERVER.issued[mc]).values()]
                self.assertEqual(len(refreshes), 2)
                for q in refreshes:
                    self.assertEqual(q["params"]["grant_type"], "refresh_token")
                    self.assertEqual(q["params"]["scope"], "all")

    def lose_every_refresh_reply(self, mc):
        """One `refresh` run during which the server processes every refresh but no reply arrives."""
        SERVER.add_fault("/oauth/oauth", "drop_reply", count=None)
        t0 = time.time()
        try:
            r = self.qa("refresh", mc, "--json")
        finally:
            SERVER.clear_faults()
        self.assertEqual(r.returncode, 1, "refresh with every reply lost must fail")
        self.assertLess(time.time() - t0, 40)
        rep = self.error_report(r.stderr)
        self.assertTrue(CJK.search(rep["message_zh"]) and re.search(r"[A-Za-z]{4,}", rep["message_en"]), redact(rep))
        return rep

    def test_04_lost_refresh_reply_recovered_by_next_refresh(self):
        """The server does the refresh but the reply never arrives (connection closed); the CLI must keep the old
        refresh token, and the next `quickauth refresh ID` must end with exactly the pair issued for the lost call."""
        for api in ("v1", "v2"):
            with self.subTest(api=api):
                self.add_yly_profile("l" + api, api)
                mc = self.authorize_qr("l" + api)
                old = self.reveal(mc)
                self.lose_every_refresh_reply(mc)
                lost = SERVER.latest(mc)
                self.assertTrue(lost != old)
                issued_count = len(SERVER.issued[mc])
                mark = len(SERVER.requests)
                self.ok("refresh", mc, "--json")
                self.assertTokens(self.reveal(mc), lost, "must end with the tokens issued for the lost refresh:")
                self.assertEqual(len(SERVER.issued[mc]), issued_count, "the recovery must replay, not grant anew")
                sent = [q for q in SERVER.requests[mark:] if q["path"].endswith("/oauth/oauth")]
                self.assertTrue(sent and all(q["params"]["refresh_token"] == old[1] for q in sent),
                                "recovery must send the old refresh token")
                self.assertTrue(sent[-1].get("replayed"))
                # and life goes on from the recovered pair
                self.ok("refresh", mc, "--json")
                self.assertTokens(self.reveal(mc), SERVER.latest(mc))
                self.assertEqual(len(SERVER.issued[mc]), issued_count + 1)

    def test_05_single_lost_reply_within_one_run(self):
        """One lost reply: whether the CLI retries by itself or fails and is re-run, it ends on the lost pair."""
        self.add_yly_profile("s1", "v1")
        mc = self.authorize_qr("s1")
        SERVER.add_fault("/oauth/oauth", "drop_reply", count=1)
        r = self.qa("refresh", mc, "--json")
        lost = SERVER.issued[mc][1]
        if r.returncode != 0:
            self.error_report(r.stderr)
            self.ok("refresh", mc, "--json")
        self.assertTokens(self.reveal(mc), lost)
        self.assertEqual(len(SERVER.issued[mc]), 2)

    def test_06_read_after_lost_reply_shows_old_or_lost_pair(self):
        """Between the lost reply and the next refresh, what the CLI shows is one of the two pairs the server knows."""
        self.add_yly_profile("s2", "v2")
        mc = self.authorize_qr("s2")
        old = self.reveal(mc)
        self.lose_every_refresh_reply(mc)
        lost = SERVER.latest(mc)
        got = self.reveal(mc)
        self.assertIn(tuple(got), (tuple(old), tuple(lost)), "stored pair is neither the old nor the lost one")
        self.ok("refresh", mc, "--json")
        self.assertTokens(self.reveal(mc), SERVER.latest(mc))

    def test_07_lost_reply_past_the_2h_replay_window(self):
        """Past 2 h the old refresh token is refused (20): a clear error telling to re-authorize, exit 1."""
        self.add_yly_profile("s3", "v1")
        mc = self.authorize_qr("s3")
        old = self.reveal(mc)
        self.lose_every_refresh_reply(mc)
        SERVER.age_refresh_use(old[1], 2 * 3600 + 60)
        r = self.qa("refresh", mc, "--json")
        self.assertEqual(r.returncode, 1)
        rep = self.error_report(r.stderr)
        self.assertTrue(rep.get("code") == 20 or rep.get("action") == "reauthorize", redact(rep))

    def test_10_error_30_expired_or_wrong_qr_key(self):
        self.add_yly_profile("e30", "v1")
        mc, _ = SERVER.add_printer()
        stale = SERVER.mint_qr_key(mc, age=301)  # older than 300 s
        self.assert_clear_error(["authorize", "--profile", "e30", "--machine-code", mc, "--qr-key", stale], 30,
                                ["300", "qr", "二维码", "扫"])
        self.assertNotIn(mc, SERVER.issued)

    def test_11_error_35_wrong_msign(self):
        self.add_yly_profile("e35", "v2")
        mc, msign = SERVER.add_printer()
        wrong = ("x" + msign)[:12]
        self.assert_clear_error(["authorize", "--profile", "e35", "--machine-code", mc, "--msign", "-"], 35,
                                ["msign", "label", "标签"], stdin=wrong + "\n")

    def test_12_error_41_daily_limit(self):
        self.add_yly_profile("e41", "v1")
        mc = self.authorize_qr("e41")
        before = self.reveal(mc)
        SERVER.set_grant_count(mc, 20)
        rep = self.assert_clear_error(["refresh", mc], 41, ["tomorrow", "明天", "00:00", "try again"])
        self.assertFalse(rep["retryable"], "41 must not be retried")
        self.assertTokens(self.reveal(mc), before)
        mc2, _ = SERVER.add_printer()
        SERVER.set_grant_count(mc2, 20)
        self.assert_clear_error(["authorize", "--profile", "e41", "--machine-code", mc2, "--qr-key",
                                 SERVER.mint_qr_key(mc2)], 41, ["tomorrow", "明天", "00:00", "try again"])

    def test_13_refresh_answered_41_is_not_retried(self):
        """41 means "not done, do not retry today": after a refresh answered with 41 nothing is pending, no later
        run re-sends it, and a second refresh the same day sends at most one request (it may refuse locally with a
        clear quota error instead)."""
        self.add_yly_profile("k41", "v2")
        mc = self.authorize_qr("k41")
        SERVER.set_grant_count(mc, 20)
        def refreshes():
            return len([q for q in SERVER.requests if q["path"].endswith("/oauth/oauth")
                        and q["params"].get("refresh_token") in [p[1] for p in SERVER.issued[mc]]])
        n0 = refreshes()
        r = self.qa("refresh", mc, "--json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.error_report(r.stderr).get("code"), 41, redact(r.stderr[-1500:]))
        n1 = refreshes()
        self.ok("list", "--json")
        n2 = refreshes()
        r = self.qa("refresh", mc, "--json")
        self.assertEqual(r.returncode, 1)
        rep = self.error_report(r.stderr)
        self.assertTrue(rep.get("code") == 41 or rep.get("type") == "quota_exhausted", redact(rep))
        self.assertTrue(CJK.search(rep["message_zh"]) and re.search(r"[A-Za-z]{4,}", rep["message_en"]))
        n3 = refreshes()
        self.assertEqual((n1 - n0, n2 - n1), (1, 0), "refresh requests per run (refresh, list) after a 41 answer")
        self.assertLessEqual(n3 - n2, 1, "a second refresh after 41 sends at most one request")
        self.assertTokens(self.reveal(mc), SERVER.latest(mc))  # the old pair is kept

    def test_14_error_11_wrong_secret(self):
        self.add_yly_profile("e11", "v2", secret_override="wrong" + "0" * 27)
        mc, _ = SERVER.add_printer()
        self.assert_clear_error(["authorize", "--profile", "e11", "--machine-code", mc, "--qr-key",
                                 SERVER.mint_qr_key(mc)], 11, ["secret", "密钥", "clock", "时间"])

    def test_15_error_18_access_token_rejected(self):
        self.add_yly_profile("e18", "v1")
        mc = self.authorize_qr("e18")
        SERVER.add_fault("/printer/getprintstatus", "error", code=18, count=None)
        # The CLI may refresh once on 18 and retry; when 18 persists it must end in a clear "re-authorize" error.
        r = self.qa("status", mc, "--json")
        self.assertEqual(r.returncode, 1)
        rep = self.error_report(r.stderr)
        self.assertTrue(rep.get("code") == 18 or rep.get("action") in ("reauthorize", "refresh_token"), redact(rep))
        self.assertTrue(CJK.search(rep["message_zh"]) and re.search(r"[A-Za-z]{4,}", rep["message_en"]))
        self.assertTokens(self.reveal(mc), SERVER.latest(mc))  # a refresh it did on the way is stored
        r = self.qa("status", mc)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(CJK.search(r.stderr) and re.search(r"authori[sz]|expired|refresh", r.stderr, re.I),
                        redact(r.stderr[-1500:]))

    def test_16_expired_access_token_status(self):
        """Access token expired at the server: status may refresh by itself; either way the stored pair is what the
        server issued last, and the outcome is a success or a clear code-18 error."""
        self.add_yly_profile("x18", "v2")
        mc = self.authorize_qr("x18")
        SERVER.expire_access_tokens(mc)
        r = self.qa("status", mc, "--json")
        if r.returncode == 0:
            self.assertTokens(self.reveal(mc), SERVER.latest(mc))
            self.assertEqual(len(SERVER.issued[mc]), 2)
        else:
            self.assertEqual(r.returncode, 1)
            self.assertEqual(self.error_report(r.stderr).get("code"), 18)

    def test_20_status_print_test_forget_remote(self):
        for api in ("v1", "v2"):
            with self.subTest(api=api):
                cid, _ = self.add_yly_profile("d" + api, api)
                mc = self.authorize_qr("d" + api)
                at, _ = self.reveal(mc)
                r = self.ok("status", mc)
                self.assertIn(mc, r.stdout)
                self.assertTrue(re.search(r"online|在线", r.stdout), r.stdout)
                r = self.ok("status", mc, "--json")
                json.loads(r.stdout)
                jobs = len(SERVER.print_jobs)
                self.ok("print-test", mc)
                self.assertEqual(len(SERVER.print_jobs), jobs + 1)
                self.assertEqual(SERVER.print_jobs[-1]["machine_code"], mc)
                self.assertTrue(SERVER.print_jobs[-1]["content"].strip())
                calls = [q for q in self.new_requests() if q["params"].get("machine_code") == mc
                         and ("/printer/" in q["path"] or q["path"].endswith("/print/index"))]
                self.assertTrue(calls)
                for q in calls:
                    self.assertEqual(q["params"]["access_token"], at)
                self.ok("forget", mc, "--remote")
                dele = [q for q in self.new_requests() if q["path"].endswith("/printer/deleteprinter")]
                self.assertTrue(dele and dele[-1]["params"]["access_token"] == at
                                and dele[-1]["params"]["machine_code"] == mc and dele[-1]["reply_code"] == 0)
                r = self.ok("list", "--json")
                self.assertNotIn(mc, [d["id"] for d in json.loads(r.stdout)])
                self.assertNotEqual(self.qa("token", mc, "--reveal", "--yes", "--json", reveal=True).returncode, 0)

    def test_30_lingju_httpapi_hardware_and_software(self):
        appkey, authcode = SERVER.add_lingju_app(with_authcode=True)
        self.ok("profile", "add", "ljh", "--provider", "lingju", "--endpoint", "httpapi", "--base-url",
                SERVER.base_url, "--json", stdin=f"{appkey}\n{authcode}\n")
        r = self.ok("authorize", "--profile", "ljh", "--userid", "a0:b1:C2:d3:e4:F5", "--json")
        uid = json.loads(r.stdout)["id"]
        q = [x for x in self.new_requests() if x["path"] == "/httpapi/authorize.do"][-1]
        self.assertEqual(q["params"].get("userid", "").lower(), "a0b1c2d3e4f5")
        self.assertTrue(q["params"].get("authcode") == authcode, "authcode not sent as given")
        self.assertEqual(q["reply_code"], 0)
        at, _ = self.reveal_lingju(uid)
        self.assertTokens([at], SERVER.lingju_tokens[q["params"]["userid"]][-1:])
        # software platform: no authcode line, none sent
        appkey2, _ = SERVER.add_lingju_app(with_authcode=False)
        self.ok("profile", "add", "ljs", "--provider", "lingju", "--endpoint", "httpapi", "--base-url",
                SERVER.base_url, "--json", stdin=f"{appkey2}\n")
        r = self.ok("authorize", "--profile", "ljs", "--userid", "SoftUser42", "--json")
        q = [x for x in self.new_requests() if x["path"] == "/httpapi/authorize.do"][-1]
        self.assertNotIn("authcode", q["params"])
        at, _ = self.reveal_lingju(json.loads(r.stdout)["id"])
        self.assertTokens([at], SERVER.lingju_tokens["SoftUser42"][-1:])

    def reveal_lingju(self, uid):
        r = self.ok("token", uid, "--reveal", "--yes", "--json", reveal=True)
        d = json.loads(r.stdout)
        REVEALED.append(d["access_token"])
        return d["access_token"], d.get("refresh_token")

    def test_31_lingju_bltapi_registered_and_not(self):
        appkey, _ = SERVER.add_lingju_app(with_authcode=False)
        SERVER.register_lingju_user(appkey, "BLT0001")
        self.ok("profile", "add", "ljb", "--provider", "lingju", "--endpoint", "bltapi", "--base-url",
                SERVER.base_url, "--json", stdin=f"{appkey}\n")
        r = self.ok("authorize", "--profile", "ljb", "--userid", "BLT0001", "--json")
        at, _ = self.reveal_lingju(json.loads(r.stdout)["id"])
        self.assertTokens([at], SERVER.lingju_tokens["BLT0001"][-1:])
        self.assertEqual([x["path"] for x in self.new_requests()][-1], "/bltapi/authorize.do")
        r = self.qa("authorize", "--profile", "ljb", "--userid", "BLT0002", "--json")
        self.assertEqual(r.returncode, 1)
        rep = self.error_report(r.stderr)
        self.assertEqual(rep.get("code"), 16, redact(rep))
        self.assertTrue(CJK.search(rep["message_zh"]) and rep["message_en"])

    def test_32_lingju_wrong_appkey(self):
        self.ok("profile", "add", "ljw", "--provider", "lingju", "--endpoint", "httpapi", "--base-url",
                SERVER.base_url, "--json", stdin="notanappkey0000000000000\nnotanauthcode00\n")
        SERVER.all_secrets.update({"notanappkey0000000000000", "notanauthcode00"})
        r = self.qa("authorize", "--profile", "ljw", "--userid", "DEV1", "--json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.error_report(r.stderr).get("code"), 6)

    def test_90_every_request_was_conformant(self):
        self.assertGreater(len(SERVER.requests), 30)
        self.assertEqual(len(SERVER.violations), 0, redact("\n".join(SERVER.violations)))
        ids = [q["params"]["id"] for q in SERVER.requests if "id" in q.get("params", {}) and not q.get("selftest")
               and q["path"] not in ("/httpapi/authorize.do", "/bltapi/authorize.do")]
        self.assertEqual(len(ids), len(set(ids)))

    def test_99_no_secret_in_files_or_output(self):
        values = {v for v in SERVER.all_secrets | set(REVEALED) if len(v) >= 8}
        self.assertGreater(len(values), 30)
        hits = []
        for label, text in CAPTURED:
            for v in values:
                if v in text:
                    hits.append(f"{label}: contains a secret/token ({len(v)} chars, starts {v[:3]}…)")
        # The scan must be able to fail: plant one value and require that it is found.
        canary_value = sorted(values)[0]
        canary = os.path.join(SUITE_DIR, "canary.bin")
        with open(canary, "wb") as f:
            f.write(b"x" + canary_value.encode() + b"x")
        file_hits, scanned = scan_files([os.environ["HOME"], SUITE_DIR], values)
        os.remove(canary)
        self.assertIn(canary, file_hits, "the scan did not find a planted value")
        del file_hits[canary]
        hits += [f"{p}: contains {n} secret/token value(s)" for p, n in file_hits.items()]
        self.assertGreater(scanned, 5)
        self.assertEqual(hits, [])


def scan_files(roots, values):
    """Every file under roots (once each) -> how many of values it contains, raw bytes."""
    needles = [v.encode() for v in values]
    seen, hits = set(), {}
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for fn in files:
                path = os.path.realpath(os.path.join(dirpath, fn))
                if path in seen or not os.path.isfile(path):
                    continue
                seen.add(path)
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                n = sum(1 for v in needles if v in data)
                if n:
                    hits[os.path.join(dirpath, fn)] = n
    return hits, len(seen)

if __name__ == "__main__":
    unittest.main(verbosity=2)
