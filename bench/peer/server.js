// Benchmark peer: node-oidc-provider with its in-memory adapter, serving the
// client credentials grant, introspection, revocation and the JWKS.
//
//   PORT                  listen port on 127.0.0.1 (default 4000)
//   PEER_CLIENT_ID        confidential client id (default bench-cc)
//   PEER_CLIENT_SECRET    its secret (default bench-secret-0123456789abcdef0123456789)
//   PEER_TOKEN_TTL        access token lifetime in seconds (default 3600)
//   PEER_VERBOSE=1        keep oidc-provider's own NOTICE/WARNING lines
//
// Tokens for the default resource (https://api.bench.example) are ES256 JWTs
// (typ at+jwt). node-oidc-provider never introspects or revokes a JWT, so a
// second resource, https://opaque.bench.example, hands out opaque tokens for
// that: add `resource=https://opaque.bench.example` to the token request.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

// oidc-provider prints its development notices through console.info and
// console.warn, once at import (runtime check, in-memory adapter) and once per
// default helper on first use. Drop those lines so nothing but our own output
// reaches the terminal; everything else passes through untouched.
if (process.env.PEER_VERBOSE !== '1') {
  for (const level of ['info', 'warn']) {
    const original = console[level].bind(console);
    console[level] = (first, ...rest) => {
      if (typeof first === 'string' && first.includes('oidc-provider ')) return;
      original(first, ...rest);
    };
  }
}

// Imported only after the console filter is in place.
const { default: Provider, errors } = await import('oidc-provider');

const port = Number.parseInt(process.env.PORT ?? '4000', 10);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`invalid PORT: ${process.env.PORT}`);
  process.exit(2);
}
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;

const clientId = process.env.PEER_CLIENT_ID || 'bench-cc';
const clientSecret = process.env.PEER_CLIENT_SECRET || 'bench-secret-0123456789abcdef0123456789';
const tokenTtl = Number.parseInt(process.env.PEER_TOKEN_TTL ?? '3600', 10);

const JWT_RESOURCE = 'https://api.bench.example';
const OPAQUE_RESOURCE = 'https://opaque.bench.example';
const SCOPE = 'read write';

// One fresh P-256 key on every start signs the access tokens, so /jwks
// publishes exactly one key. No RSA key: clientDefaults below moves the ID
// token algorithm (RS256 by default, which would demand an RSA key before any
// client can be loaded) to ES256 as well.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys = [{
  ...privateKey.export({ format: 'jwk' }),
  kid: `es256-${randomUUID()}`,
  alg: 'ES256',
  use: 'sig',
}];

const resourceServers = {
  [JWT_RESOURCE]: {
    scope: SCOPE,
    audience: JWT_RESOURCE,
    accessTokenTTL: tokenTtl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  },
  [OPAQUE_RESOURCE]: {
    scope: SCOPE,
    audience: OPAQUE_RESOURCE,
    accessTokenTTL: tokenTtl,
    accessTokenFormat: 'opaque',
  },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: SCOPE,
  }],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  scopes: SCOPE.split(' '),
  jwks: { keys },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // The caller authenticates as a confidential client; any such client may
    // introspect, and may revoke only its own tokens.
    introspection: {
      enabled: true,
      allowedPolicy: async () => true,
    },
    revocation: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => JWT_RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        const info = resourceServers[resourceIndicator];
        if (!info) throw new errors.InvalidTarget();
        return info;
      },
    },
  },
  ttl: {
    AccessToken: tokenTtl,
    ClientCredentials: tokenTtl,
  },
});
provider.proxy = false;

// Unexpected failures only (never a normal 4xx), so a broken run is visible.
provider.on('server_error', (ctx, err) => {
  console.error(`server_error ${ctx.method} ${ctx.path}: ${err?.stack ?? err}`);
});

const server = createServer(provider.callback());
// Keep wrk's persistent connections open for the whole run.
server.keepAliveTimeout = 75_000;
server.headersTimeout = 76_000;

server.listen(port, host, () => {
  console.log(`peer listening on ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
