"""The PDF's QR codes are drawn as vector squares: rasterised again, they scan as the ticket's payload."""
from PIL import Image, ImageDraw

from email_function.tickets_mail import draw_qr, qr_code, qr_png

PAYLOAD = "FF1.k1.VElDS0VULUNPREUtMTIzNHxWSVB8ZmVzdGZsb3c.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmUtb2YtdGhlbQ"


class RecordingCanvas:
    """Reads back the rectangles drawn: `x y w h re` operators under one scaling transform."""

    def __init__(self):
        self.rects, self.matrix = [], None

    def saveState(self):
        pass

    def restoreState(self):
        pass

    def transform(self, a, b, c, d, e, f):
        self.matrix = (a, e, f)

    def addLiteral(self, text):
        scale, dx, dy = self.matrix
        for line in text.splitlines():
            if line.endswith(" re"):
                x, y, w, h = (float(v) for v in line.split()[:4])
                self.rects.append((dx + x * scale, dy + y * scale, w * scale, h * scale))


def test_the_vector_qr_code_in_the_pdf_scans_as_the_payload():
    import zxingcpp

    canvas = RecordingCanvas()
    size = 400.0
    draw_qr(canvas, qr_code(PAYLOAD), 0, 0, size)
    image = Image.new("L", (int(size), int(size)), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in canvas.rects:  # PDF y grows upwards, the image's downwards
        draw.rectangle([round(x), round(size - y - h), round(x + w) - 1, round(size - y) - 1], fill=0)
    found = zxingcpp.read_barcodes(image)
    assert [code.text for code in found] == [PAYLOAD]
    dark = sum(1 for row in qr_code(PAYLOAD).matrix for module in row if module & 1)
    assert len(canvas.rects) < dark  # runs of dark modules are one rectangle each


def test_the_mails_png_scans_too():
    import io

    import zxingcpp

    image = Image.open(io.BytesIO(qr_png(qr_code(PAYLOAD))))
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [PAYLOAD]
