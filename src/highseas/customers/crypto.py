"""Personal data at rest: encryption, blind indexes and their keys (SPEC §13); the model
fields that use them are in ``customers.fields``.

Encryption: AES-256-GCM (``cryptography``'s ``AESGCM``), an authenticated cipher — a changed
byte fails the tag check instead of decrypting to something else. Chosen over Fernet for a
256-bit key, a smaller token (12-byte nonce + 16-byte tag, no IV block padding and no
timestamp) and associated data: the token's header (version and key id) is authenticated with
it, so a token cannot be relabelled with another key id. A stored value is text::

    hs1:<key id>:<urlsafe base64 of nonce ‖ ciphertext ‖ tag>

The key id is a fingerprint of the key (``fingerprint``), so keys given in the environment
need no stored state. A value without the ``hs1:`` header is read as it is: rows written
before encryption stay readable until the migration (or ``highseas rotatekeys``) encrypts
them. The empty string stays empty (it says only that there is no value).

Blind indexes: a duplicate key (normalized phone, e-mail, credit code) is stored as
HMAC-SHA256 under a key derived from the data key (HKDF, its own ``info``), truncated to 128
bits, hex. Equal normalized values give equal keys under one key, so exact lookups stay one
indexed equality; the values cannot be read back nor guessed without the key. While a
rotation runs, rows carry keys under the old and the new key, so lookups ask for every
readable key's index value (``blinds``).

Keys (``keyring``):

1. ``HIGHSEAS_DATA_KEY`` (base64 of 32 bytes) is the current key, and
   ``HIGHSEAS_DATA_OLD_KEYS`` (comma-separated) the keys still readable; or else
2. the file ``HIGHSEAS_DATA_KEY_FILE`` (``<data folder>/data_keys.json``, mode 0600),
   generated on first use: ``{"current": id, "keys": {id: base64}, "retired": {…}}``.
   ``highseas rotatekeys`` adds a new current key there and, when every row is re-encrypted,
   moves the old ones to ``retired`` (kept for old backups, never used).

A process re-reads the file when it changed (checked at most every ``RELOAD_SECONDS``), and
at once when it meets a key id it does not know.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "hs1"
PREFIX = VERSION + ":"
KEY_BYTES = 32
NONCE_BYTES = 12
BLIND_HEX = 32  # 128 bits of the HMAC
RELOAD_SECONDS = 2.0
BLIND_INFO = b"highseas blind index v1"


class DataKeyError(ImproperlyConfigured):
    """A missing, malformed or unknown data key."""


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"highseas data key id\0" + key).hexdigest()[:8]


def decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as error:
        raise DataKeyError("a data key must be base64") from error
    if len(key) != KEY_BYTES:
        raise DataKeyError(f"a data key must be {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def blind_key_of(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=BLIND_INFO).derive(key)


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]  # readable keys by id, the current one among them
    source: str  # "environment" or the file's path

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ciphers", {kid: AESGCM(key) for kid, key in self.keys.items()})
        object.__setattr__(
            self, "_blind", {kid: blind_key_of(key) for kid, key in self.keys.items()}
        )
        object.__setattr__(self, "_old", sorted(kid for kid in self.keys if kid != self.current))

    def cipher(self, kid: str) -> AESGCM:
        return self._ciphers[kid]  # type: ignore[attr-defined,no-any-return]

    def blind_key(self, kid: str) -> bytes:
        return self._blind[kid]  # type: ignore[attr-defined,no-any-return]

    @property
    def old(self) -> list[str]:
        return list(self._old)  # type: ignore[attr-defined]


# --- where the keys come from -------------------------------------------------------------


def key_file() -> Path:
    configured = getattr(settings, "HIGHSEAS_DATA_KEY_FILE", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "data_keys.json"


def _from_environment() -> Keyring | None:
    current = getattr(settings, "HIGHSEAS_DATA_KEY", "") or ""
    if not current:
        return None
    try:
        key = decode_key(current)
    except DataKeyError as error:
        raise DataKeyError(f"HIGHSEAS_DATA_KEY: {error}") from error
    keys = {fingerprint(key): key}
    for text in (getattr(settings, "HIGHSEAS_DATA_OLD_KEYS", "") or "").split(","):
        if text.strip():
            try:
                old = decode_key(text)
            except DataKeyError as error:
                raise DataKeyError(f"HIGHSEAS_DATA_OLD_KEYS: {error}") from error
            keys[fingerprint(old)] = old
    return Keyring(fingerprint(key), keys, "environment")


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write ``text`` to a file only its owner can read: a new file is created 0600 and
    renamed over the old one, so no reader ever sees half a key file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_key_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        key = new_key()
        first = {"current": fingerprint(key), "keys": {fingerprint(key): encode_key(key)}}
        with contextlib.suppress(FileExistsError):  # another process was first: read theirs
            write_private(path, json.dumps(first, indent=2), exclusive=True)
    os.chmod(path, 0o600)
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def write_key_file(path: Path, document: dict[str, Any]) -> None:
    write_private(path, json.dumps(document, indent=2))
    invalidate()


def _from_file(path: Path) -> Keyring:
    document = read_key_file(path)
    keys = {kid: decode_key(text) for kid, text in document["keys"].items()}
    for kid, key in keys.items():
        if fingerprint(key) != kid:
            raise DataKeyError(f"{path}: key {kid} does not match its id")
    if document["current"] not in keys:
        raise DataKeyError(f"{path}: the current key {document['current']} is missing")
    return Keyring(document["current"], keys, str(path))


_lock = threading.Lock()
_cached: tuple[Keyring, float, float] | None = None  # keyring, file mtime, checked at


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return -1.0


def keyring(*, fresh: bool = False) -> Keyring:
    global _cached
    cached = _cached
    now = time.monotonic()
    if cached is not None and not fresh:
        ring, mtime, checked = cached
        if ring.source == "environment" or now - checked < RELOAD_SECONDS:
            return ring
        if _mtime(Path(ring.source)) == mtime:
            _cached = (ring, mtime, now)
            return ring
    with _lock:
        ring_from_env = _from_environment()
        if ring_from_env is not None:
            _cached = (ring_from_env, 0.0, now)
            return ring_from_env
        path = key_file()
        ring = _from_file(path)
        _cached = (ring, _mtime(path), now)
        return ring


def invalidate() -> None:
    global _cached
    _cached = None


# --- rotation ------------------------------------------------------------------------------


def begin_rotation() -> Keyring:
    """Make a new key current in the key file, the old ones staying readable, unless a
    rotation is already under way (old keys present): then it goes on with its key. Keys
    from the environment are not changed here: the operator sets the new
    ``HIGHSEAS_DATA_KEY`` and lists the old ones in ``HIGHSEAS_DATA_OLD_KEYS``."""
    ring = keyring(fresh=True)
    if ring.source == "environment" or ring.old:
        return ring
    path = Path(ring.source)
    document = read_key_file(path)
    key = new_key()
    document["keys"][fingerprint(key)] = encode_key(key)
    document["current"] = fingerprint(key)
    write_key_file(path, document)
    return keyring(fresh=True)


def finish_rotation() -> list[str]:
    """Retire every key but the current one (once no row needs them): they move to
    ``retired`` in the key file, kept for old backups and never used. Returns their ids."""
    ring = keyring(fresh=True)
    if ring.source == "environment" or not ring.old:
        return ring.old
    path = Path(ring.source)
    document = read_key_file(path)
    retired = document.setdefault("retired", {})
    for kid in ring.old:
        retired[kid] = document["keys"].pop(kid)
    write_key_file(path, document)
    return ring.old


# --- encryption ----------------------------------------------------------------------------


def is_token(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(token: str) -> str | None:
    """The key id a stored value is encrypted under (``None``: not encrypted)."""
    if not is_token(token):
        return None
    return token.split(":", 2)[1]


def encrypt(plaintext: str, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    kid = ring.current
    header = f"{VERSION}:{kid}"
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = ring.cipher(kid).encrypt(nonce, plaintext.encode(), header.encode())
    return f"{header}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(value: str) -> str:
    """The plaintext of a stored value (a value that is no token is returned as it is)."""
    if not is_token(value):
        return value
    _version, kid, body = value.split(":", 2)
    ring = keyring()
    if kid not in ring.keys:
        ring = keyring(fresh=True)
        if kid not in ring.keys:
            raise DataKeyError(f"no data key {kid} to read this value with")
    raw = base64.urlsafe_b64decode(body)
    try:
        plain = ring.cipher(kid).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"hs1:{kid}".encode()
        )
    except InvalidTag as error:
        raise DataKeyError(f"a value under key {kid} fails its integrity check") from error
    return plain.decode()


def encrypt_json(value: Any, ring: Keyring | None = None) -> str:
    return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")), ring)


def decrypt_json(value: Any) -> Any:
    return json.loads(decrypt(value)) if is_token(value) else value


# --- blind indexes -------------------------------------------------------------------------


def blind(kind: str, value: str, ring: Keyring | None = None, kid: str | None = None) -> str:
    """The index value of a normalized ``value`` of ``kind`` (``phone``, ``email``,
    ``credit_code``) under the current key (or ``kid``)."""
    ring = ring or keyring()
    key = ring.blind_key(kid or ring.current)
    # one-shot HMAC-SHA256 in C (``hmac.new`` builds two hash objects in Python per call)
    return hmac.digest(key, f"{kind}\0{value}".encode(), "sha256").hex()[:BLIND_HEX]


def blinds(kind: str, value: str) -> list[str]:
    """The index values under every readable key, the current key's first: what a lookup
    asks for while a rotation has rows under both."""
    ring = keyring()
    return [blind(kind, value, ring, kid) for kid in (ring.current, *ring.old)]
