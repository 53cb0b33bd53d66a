import { DEVELOPMENT_JWT_SECRET } from '../config/environment';
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hash,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

/*
 * The opaque strings the API hands out and takes back (the list cursor, the feed's sync token):
 * a JSON value encrypted and authenticated with AES-256-GCM under a server key. A client can
 * neither read one (a feed position holds PostgreSQL's transaction ids, which would tell how busy
 * the whole database is) nor edit or build one: anything but a string this service sealed, for
 * the same purpose, is refused before its value is looked at.
 *
 * Layout, base64url: key id (4 bytes) | nonce (12) | ciphertext | tag (16). The key id names the
 * key that sealed it, so keys can rotate: strings are sealed with the current key and opened with
 * it or any previous one still configured (docs/api.md says how long to keep those).
 */

const KEY_ID_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const OVERHEAD = KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface SealingKey {
  id: Buffer;
  /** A KeyObject, made once: given bytes, each cipher would import them again. */
  key: KeyObject;
}

/** Nonces drawn at a time from the system's CSPRNG: one call per seal was a fifth of sealing. */
const NONCES_PER_DRAW = 256;

/**
 * Random 96-bit nonces, each handed out once: a buffer of NONCES_PER_DRAW of them (3 KiB) from
 * `randomBytes`, refilled when used up, as Node's own `randomUUID` buffers its randomness.
 */
class Nonces {
  private pool = Buffer.alloc(0);
  private offset = 0;

  next(): Buffer {
    if (this.offset === this.pool.length) {
      this.pool = randomBytes(NONCE_BYTES * NONCES_PER_DRAW);
      this.offset = 0;
    }
    this.offset += NONCE_BYTES;
    return this.pool.subarray(this.offset - NONCE_BYTES, this.offset);
  }
}

/**
 * A configured secret (CURSOR_KEY, one of CURSOR_PREVIOUS_KEYS, or AUTH_JWT_SECRET when no cursor
 * key is set) becomes a key of its own by HKDF, so the key that seals cursors is never the one
 * that signs tokens, even when derived from the same secret.
 */
function sealingKey(secret: string): SealingKey {
  const key = Buffer.from(
    hkdfSync('sha256', secret, 'tasks-service', 'opaque strings: AES-256-GCM', 32),
  );
  return { id: hash('sha256', key, 'buffer').subarray(0, KEY_ID_BYTES), key: createSecretKey(key) };
}

/** The current key and the previous ones still accepted. */
export class Keyring {
  private readonly current: SealingKey;
  private readonly byId: Map<string, SealingKey>;
  private readonly nonces = new Nonces();

  constructor(current: string, previous: readonly string[] = []) {
    this.current = sealingKey(current);
    const keys = [this.current, ...previous.map(sealingKey)];
    this.byId = new Map(keys.map((key) => [key.id.toString('hex'), key]));
  }

  seal(purpose: string, value: unknown): string {
    const nonce = this.nonces.next();
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
    cipher.setAAD(Buffer.from(purpose));
    const sealed = Buffer.concat([
      this.current.id,
      nonce,
      cipher.update(JSON.stringify(value), 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return sealed.toString('base64url');
  }

  /** The value sealed for `purpose`, or undefined for anything this keyring did not seal. */
  unseal(purpose: string, text: string, maxLength: number): unknown {
    if (text.length > maxLength || !BASE64URL.test(text)) return undefined;
    const bytes = Buffer.from(text, 'base64url');
    // Re-encoding catches what decoding forgives (stray padding bits).
    if (bytes.length <= OVERHEAD || bytes.toString('base64url') !== text) return undefined;
    const key = this.byId.get(bytes.subarray(0, KEY_ID_BYTES).toString('hex'));
    if (!key) return undefined;
    const nonce = bytes.subarray(KEY_ID_BYTES, KEY_ID_BYTES + NONCE_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, nonce);
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const json = Buffer.concat([
        decipher.update(bytes.subarray(KEY_ID_BYTES + NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      return JSON.parse(json) as unknown;
    } catch {
      return undefined;
    }
  }
}

// Until the app sets its keys: the development key, as the configuration gives it by default.
let keyring = new Keyring(DEVELOPMENT_JWT_SECRET);

/**
 * Sets the keys of the process: the app does so from its configuration when it is created
 * (cursors are sealed by helpers shared by every controller, which take no configuration).
 */
export function useSealingKeys(keys: Keyring): void {
  keyring = keys;
}

export const seal = (purpose: string, value: unknown): string => keyring.seal(purpose, value);

/** The value `seal` wrapped for `purpose`, or undefined for anything `seal` could not have written. */
export const unseal = (purpose: string, sealed: string, maxLength: number): unknown =>
  keyring.unseal(purpose, sealed, maxLength);
