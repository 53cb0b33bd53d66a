import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function createSigningKey(kid: string, alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

/** An identity provider's JWKS endpoint on 127.0.0.1, counting the fetches it answers. */
export class JwksServer {
  fetches = 0;
  url = '';
  private readonly server = createServer((_request, response) => {
    this.fetches++;
    response.setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ keys: this.keys.map((key) => key.publicJwk) }));
  });

  private constructor(public keys: SigningKey[]) {}

  static async start(keys: SigningKey[]): Promise<JwksServer> {
    const jwks = new JwksServer(keys);
    await new Promise<void>((listening) => jwks.server.listen(0, '127.0.0.1', () => listening()));
    const { port } = jwks.server.address() as { port: number };
    jwks.url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    return jwks;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((closed) => this.server.close(() => closed()));
  }
}
