"""What container the first bytes of an upload announce, before a byte is stored (a pure rule).

The sniff only decides the key's extension and turns away what is plainly not a video; the
probe of the stored object (libs/media/probe.py) has the last word.
"""

from __future__ import annotations

from libs.media.probe import CONTAINERS, NotAVideoError

SNIFF_BYTES = 64
_MP4 = CONTAINERS["mov,mp4,m4a,3gp,3g2,mj2"]
_MATROSKA = CONTAINERS["matroska,webm"]
_AVI = CONTAINERS["avi"]
# ISO base media files start with an atom: its type is at bytes 4..8 (ftyp first, usually).
_MP4_ATOMS = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_EBML = b"\x1a\x45\xdf\xa3"


def container_extensions(head: bytes) -> tuple[str, ...]:
    """The extensions a file starting with `head` may carry (first: the default)."""
    if head[4:8] in _MP4_ATOMS:
        return _MP4
    if head.startswith(_EBML):
        return ("webm", "mkv") if b"webm" in head[:SNIFF_BYTES] else _MATROSKA
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return _AVI
    raise NotAVideoError("its first bytes are not those of a video container cliptrail stores")


def sniff_extension(head: bytes, hint: str = "") -> str:
    """The key's extension: the filename's, when it names one of the sniffed container's."""
    extensions = container_extensions(head)
    return hint if hint in extensions else extensions[0]
