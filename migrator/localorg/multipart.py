"""multipart/form-data bodies, parsed once for the routes that take them: the Bulk 2.0 create-with-data
(reference §1.3) and the REST blob insert (a JSON record part and the file's bytes)."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser


@dataclass(frozen=True)
class FormPart:
    name: str
    content: bytes
    content_type: str
    filename: str | None


def form_parts(content_type: str, raw: bytes) -> dict[str, FormPart]:
    """The named parts of a multipart body (empty when the body is not multipart)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1")
                                                         + b"\r\n\r\n" + raw)
    parts: dict[str, FormPart] = {}
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                filename = part.get_param("filename", header="content-disposition")
                parts[name] = FormPart(name, part.get_payload(decode=True) or b"", part.get_content_type(),
                                       filename if isinstance(filename, str) else None)
    return parts
