"""PDFs rewritten without what could name their author or run on a reader's phone.

The pages (their content, resources and annotations' appearances) are kept; removed are
the document information dictionary (Author, Creator, Producer, dates…), every XMP
metadata stream, JavaScript, embedded files and file attachments, the document's and the
pages' actions (OpenAction, additional actions) and every annotation's and form field's
action. pikepdf (qpdf) writes only the objects still reachable, so nothing removed here
survives as an orphan object, and the file /ID is derived from the content.
"""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Array, Dictionary, Name

# Catalog entries dropped whole: metadata, actions, forms (their fields run scripts),
# private application data, and the tree holding JavaScript and embedded files.
ROOT_DROP = (
    "/Metadata",
    "/OpenAction",
    "/AA",
    "/AcroForm",
    "/PieceInfo",
    "/Names",
    "/Threads",
    "/SpiderInfo",
    "/Perms",
    "/Collection",
)
# Keys dropped from every dictionary and stream: XMP, actions, scripts, private data,
# embedded and associated files.
ANY_DROP = ("/Metadata", "/AA", "/JS", "/PieceInfo", "/EF", "/RF", "/AF")
# Annotations that carry files, sounds, films or scripts of their own: removed.
ANNOT_DROP = {
    "/FileAttachment",
    "/Sound",
    "/Movie",
    "/Screen",
    "/RichMedia",
    "/3D",
}


class NotAPdf(ValueError):
    pass


def _clean_object(obj: pikepdf.Object) -> None:
    for key in ANY_DROP:
        if key in obj:
            del obj[key]
    action = obj.get("/A")
    if action is not None:
        # A link or outline entry may keep an in-document jump; any other action goes.
        kind = action.get("/S") if isinstance(action, Dictionary) else None
        if kind != Name.GoTo:
            del obj["/A"]


def clean_pdf(data: bytes) -> bytes:
    """The PDF rewritten as described above; NotAPdf when it cannot be read."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise NotAPdf(str(exc)) from None
    with pdf:
        try:
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            root = pdf.Root
            for key in ROOT_DROP:
                if key in root:
                    del root[key]
            for page in pdf.pages:
                annots = page.obj.get("/Annots")
                if isinstance(annots, Array):
                    kept = [
                        a
                        for a in annots
                        if isinstance(a, Dictionary) and a.get("/Subtype") not in ANNOT_DROP
                    ]
                    page.obj["/Annots"] = Array(kept)
            for obj in pdf.objects:
                if isinstance(obj, (Dictionary, pikepdf.Stream)):
                    _clean_object(obj)
            for page in pdf.pages:
                _clean_object(page.obj)
            out = io.BytesIO()
            pdf.save(out, fix_metadata_version=False, deterministic_id=True)
        except (pikepdf.PdfError, ValueError, OSError, RecursionError) as exc:
            raise NotAPdf(str(exc)) from None
    return out.getvalue()
