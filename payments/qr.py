"""QR codes drawn by the server: the shopper's phone scans what the gateway gave us, nothing else."""

import base64
from io import BytesIO

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_data_uri(content: str) -> str:
    """A PNG data URI of `content` as a QR code, sized to scan from a screen."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=2)
    code.add_data(content)
    code.make(fit=True)
    buffer = BytesIO()
    code.make_image().save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
