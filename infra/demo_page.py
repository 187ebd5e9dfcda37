"""The demo merchant: a page with the billing widget, and the tiny backend that signs its
visitor in. What a merchant does is exactly this: include
`<script src="<api>/v1/<tenant>/widget.js" defer>`, mint a visitor token on its own server
for the logged-in user, and hand it to `BillingWidget.identify(token)`.

    python infra/demo_page.py PORT API_URL TENANT USER   # IDENTITY_SECRET in the environment

`GET /` is the page; `GET /session` is the merchant backend's answer (a token for USER,
valid 1 hour). The identity secret never leaves this process."""
from __future__ import annotations

import html
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Cloud · Your account</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f6f8fa; color: #1a1f36; }}
header {{ background: #1a1f36; color: #fff; padding: 14px 24px; font-weight: 600; }}
main {{ max-width: 720px; margin: 24px auto; padding: 0 24px; }}
</style>
<script src="{api}/v1/{tenant}/widget.js" defer></script>
</head>
<body>
<header>Acme Cloud</header>
<main>
<h1>Your account</h1>
<p>Signed in as <strong>{user}</strong>. Your billing, answered by our assistant:</p>
<div id="billing-widget"></div>
</main>
<script>
// The merchant's own backend signs the visitor in; the widget never sees a secret.
window.addEventListener("DOMContentLoaded", function () {{
  fetch("/session").then(function (r) {{ return r.json(); }}).then(function (s) {{
    BillingWidget.identify(s.token);
  }});
}});
</script>
</body>
</html>
"""


def main() -> None:
    port, api, tenant, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    secret = os.environ["IDENTITY_SECRET"]
    page = PAGE.format(api=html.escape(api), tenant=html.escape(tenant), user=html.escape(user)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/":
                self.answer(200, "text/html; charset=utf-8", page)
            elif self.path == "/session":
                now = int(time.time())
                token = jwt.encode({"sub": user, "aud": tenant, "iat": now, "exp": now + 3600},
                                   secret, algorithm="HS256")
                self.answer(200, "application/json", json.dumps({"token": token}).encode())
            else:
                self.answer(404, "text/plain", b"not found")

        def answer(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("cache-control", "no-store")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
