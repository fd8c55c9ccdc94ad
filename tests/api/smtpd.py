"""An SMTP server for bulten's tests where smtp-sink falls short: STARTTLS or implicit TLS,
AUTH PLAIN/LOGIN with one account, and SMTPUTF8. Each accepted message is written to
DIR/<n>.eml, preceded by its envelope as "MAIL FROM" and "RCPT TO" lines.

usage: smtpd.py PORT DIR CERT KEY MODE USER PASSWORD     (MODE: starttls | tls)
"""
import asyncio
import logging
import os
import ssl
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
# aiosmtpd logs its own deprecations at WARNING on every login.
logging.getLogger("mail.log").setLevel(logging.ERROR)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, directory, cert, key, mode, user, password = sys.argv[1:8]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)


class Store:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(directory, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as out:
            out.write(f"MAIL FROM {envelope.mail_from}\n".encode())
            for rcpt in envelope.rcpt_tos:
                out.write(f"RCPT TO {rcpt}\n".encode())
            encrypted = server.transport.get_extra_info("ssl_object") is not None
            out.write(f"TLS {encrypted}\n".encode())
            out.write(f"AUTH {session.authenticated}\n".encode())
            out.write(f"SMTPUTF8 {'SMTPUTF8' in envelope.mail_options}\n\n".encode())
            content = envelope.original_content or envelope.content
            out.write(content if isinstance(content, bytes) else content.encode())
        os.rename(path + ".tmp", path)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
        and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


kwargs = dict(
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticate,
    auth_require_tls=True,
    enable_SMTPUTF8=True,
)
if mode == "starttls":
    kwargs.update(tls_context=context, require_starttls=True)
else:
    # Under implicit TLS aiosmtpd does not know the session is encrypted and would hide AUTH;
    # every byte is encrypted here anyway.
    kwargs.update(ssl_context=context, auth_require_tls=False)
controller = Controller(Store(), **kwargs)
controller.start()
print("ready", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
