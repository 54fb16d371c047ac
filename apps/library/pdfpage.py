"""Render a PDF's first page to PNG: the PDF on standard input, the PNG on standard output.

Run by previews.render_first_page as `python -I pdfpage.py MAX_MEMORY WIDTH HEIGHT`, in a
process of its own: PDFium parses hostile bytes in C++ and is not thread-safe. The process
limits its own address space before PDFium is loaded, so a bomb ends it, not the worker.
The page is scaled to fit within WIDTH x HEIGHT. Exit codes: 0 rendered, 3 the PDF needs a
password, anything else could not render (the reason on standard error).
"""

import io
import resource
import sys

#: Exit code for a PDF that needs a password (previews.PDF_ENCRYPTED_EXIT).
ENCRYPTED = 3


def main(max_memory, width, height):
    resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
    import pypdfium2 as pdfium  # after the limit: PDFium's allocations are bounded too

    try:
        pdf = pdfium.PdfDocument(sys.stdin.buffer.read())
    except pdfium.PdfiumError as error:
        if error.err_code == pdfium.raw.FPDF_ERR_PASSWORD:
            return ENCRYPTED
        raise
    if len(pdf) == 0:
        raise ValueError("no pages")
    page = pdf[0]
    page_width, page_height = page.get_size()  # in points, the page's rotation applied
    scale = min(width / page_width, height / page_height)
    image = page.render(scale=scale).to_pil()
    output = io.BytesIO()
    image.save(output, "PNG")
    sys.stdout.buffer.write(output.getvalue())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*map(int, sys.argv[1:4])))
    except Exception as error:  # noqa: BLE001 - one line for the worker's log, exit 1
        sys.exit(f"{type(error).__name__}: {error}")
