"""A real SMTP server for Portcullis's mail tests (Debian's python3-aiosmtpd).

Usage: smtp_server.py FOLDER PORT [USER PASSWORD]

Listens on 127.0.0.1:PORT (0: any free port), prints the port on stdout, and stores each
message received as FOLDER/NNNNNN.eml (written to a hidden file, then renamed). Every MAIL
command is appended to FOLDER/commands.log, so a test can tell that a client never got as far
as sending a letter. With USER and PASSWORD, AUTH (PLAIN or LOGIN) with them is required, over
plain text (there is no TLS here). No STARTTLS is offered. Exits when stdin closes.
"""

import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    def _log(self, line):
        with open(os.path.join(self.folder, "commands.log"), "a") as f:
            f.write(line + "\n")

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self._log("MAIL " + address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%06d.eml" % self.count
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.folder, name))
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


async def main():
    folder, port = sys.argv[1], int(sys.argv[2])
    handler = Handler(folder)
    options = {}
    if len(sys.argv) == 5:
        options = dict(
            authenticator=authenticator(sys.argv[3], sys.argv[4]),
            auth_required=True,
            auth_require_tls=False,
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="test.smtp.local", **options), "127.0.0.1", port
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
