// The official MCP TypeScript SDK's client as an application uses it, driven by mcp.rs over
// stdin/stdout (one JSON object a line): it connects to the MCP server named in argv[2],
// prints {"authorize": url} when the SDK sends the user to Portcullis, reads the URL the
// browser came back to, finishes the sign-in, lists and calls the tools, refreshes, calls
// again, and prints what it saw. Any failure is printed as {"error": ...} and exits 1.
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';

const serverUrl = new URL(process.argv[2]);
const redirectUrl = process.argv[3];
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');

// What an application keeps between runs, here in memory.
const kept = { client: undefined, tokens: undefined, verifier: undefined };
const provider = {
  get redirectUrl() { return redirectUrl; },
  // As MCP clients register in the field: no `scope` (the SDK asks the resource's scopes).
  get clientMetadata() {
    return {
      client_name: 'MCP TypeScript client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  clientInformation() { return kept.client; },
  saveClientInformation(info) { kept.client = info; },
  tokens() { return kept.tokens; },
  saveTokens(tokens) { kept.tokens = tokens; },
  redirectToAuthorization(url) { say({ authorize: url.toString() }); },
  saveCodeVerifier(verifier) { kept.verifier = verifier; },
  codeVerifier() { return kept.verifier; },
};

async function connect() {
  const client = new Client({ name: 'portcullis-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
  return client;
}

try {
  const first = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  try {
    await new Client({ name: 'portcullis-test', version: '1.0.0' }).connect(first);
    throw new Error('the MCP server let an unauthorized client in');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  const back = new URL((await lines.next()).value);
  await first.finishAuth(back.searchParams.get('code'));
  const client = await connect();
  const tools = await client.listTools();
  const called = await client.callTool({ name: 'whoami', arguments: {} });
  const firstToken = kept.tokens.access_token;
  // A refresh, as the SDK does it when a token runs out.
  const refreshed = await auth(provider, { serverUrl });
  const again = await client.callTool({ name: 'whoami', arguments: {} });
  await client.close();
  say({
    clientId: kept.client.client_id,
    scope: kept.tokens.scope,
    tools: tools.tools.map((t) => t.name),
    called: called.content[0].text,
    refreshed,
    newToken: kept.tokens.access_token !== firstToken,
    again: again.content[0].text,
  });
  process.exit(0);
} catch (e) {
  say({ error: String(e && e.stack ? e.stack : e) });
  process.exit(1);
}
