"""A real SMTP server on loopback (aiosmtpd) that asks for AUTH, as the city's relay does, and keeps every
message it accepted as the bytes it received."""
from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

USER, PASSWORD = "user", "secretpw"
WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


class Mailbox:
    def __init__(self, port: int = 0) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        from tests.support import closed_port

        self.received: list[bytes] = []
        self.logins: list[str] = []
        received, logins = self.received, self.logins

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:
                received.append(envelope.original_content or envelope.content)
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
            if ok:
                logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        self.port = port or closed_port()
        # Plain SMTP on loopback: AUTH without TLS, which only a test may allow (aiosmtpd warns of it: WARNING).
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                      auth_required=True, auth_require_tls=False)
        self._controller.start()

    def url(self) -> str:
        return mailto(self.port)

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.received]

    def close(self) -> None:
        self._controller.stop()


def mailto(port: int) -> str:
    """Apprise's URL for plain SMTP on a port of its own (mode=insecure: no STARTTLS, no SMTPS)."""
    return (f"mailto://{USER}:{PASSWORD}@127.0.0.1:{port}?to=ops@example.jp&from=jisseki@example.jp"
            "&mode=insecure")


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text/plain and text/html parts, decoded by their charsets."""
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None, message.get_content_type()
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    return plain.get_content(), html.get_content()
