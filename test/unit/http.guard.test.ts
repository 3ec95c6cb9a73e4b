// The HTTP front door's checks: bearer tokens (kept, parsed, compared), listen addresses, Origin/Host.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointUrl, isLoopback, parseListenAddress } from "../../src/http/address.js";
import { checkRequest } from "../../src/http/guard.js";
import { bearerToken, ensureHttpToken, readTokenFile, tokenAccepted, tokensFromEnv } from "../../src/http/tokens.js";
import { isGatewayError } from "../../src/errors.js";

const TOKEN = "s3cret-token-0123456789";
const dir = () => mkdtempSync(join(tmpdir(), "cmg-http-"));

describe("the primary's token file", () => {
  test("made once: random, 0600, and the same token on the next start", () => {
    const file = join(dir(), "http.token");
    const first = ensureHttpToken(file);
    assert.match(first, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, "utf8"), `${first}\n`);
    assert.equal(ensureHttpToken(file), first);
    assert.notEqual(ensureHttpToken(join(dir(), "http.token")), first);
  });

  test("a token file others can read, or a symlink, is refused with a reason", () => {
    const d = dir();
    const file = join(d, "tokens");
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    assert.throws(() => readTokenFile(file), (e) => isGatewayError(e, "USAGE") && /chmod 600/.test(e.message));
    chmodSync(file, 0o600);
    symlinkSync(file, join(d, "link"));
    assert.throws(() => readTokenFile(join(d, "link")), /symbolic link/);
    assert.throws(() => readTokenFile(join(d, "none")), /ENOENT|no such file/);
  });

  test("several tokens a file: one a line, comments and blanks ignored", () => {
    const file = join(dir(), "tokens");
    writeFileSync(file, `# team\n${TOKEN}\n\n  ${TOKEN}-2  \r\n`, { mode: 0o600 });
    assert.deepEqual(readTokenFile(file), [TOKEN, `${TOKEN}-2`]);
  });
});

describe("tokens from the environment", () => {
  test("one or several, comma-separated, trimmed", () => {
    assert.deepEqual(tokensFromEnv(undefined), []);
    assert.deepEqual(tokensFromEnv(""), []);
    assert.deepEqual(tokensFromEnv(` ${TOKEN} ,${TOKEN}-b,`), [TOKEN, `${TOKEN}-b`]);
  });

  test("a short token, or one a header cannot carry, is refused", () => {
    assert.throws(() => tokensFromEnv("short"), /at least 16 characters/);
    assert.throws(() => tokensFromEnv("with a space inside it"), /visible ASCII/);
  });
});

describe("bearer tokens", () => {
  test("parsed from Authorization: Bearer, case-insensitive scheme", () => {
    assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(bearerToken(`bearer  ${TOKEN} `), TOKEN);
    assert.equal(bearerToken(`Basic ${TOKEN}`), undefined);
    assert.equal(bearerToken("Bearer"), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });

  test("accepted only when equal to one of the tokens", () => {
    assert.equal(tokenAccepted(TOKEN, [TOKEN]), true);
    assert.equal(tokenAccepted(TOKEN, ["another-token-000000", TOKEN]), true);
    assert.equal(tokenAccepted(TOKEN.slice(0, -1), [TOKEN]), false);
    assert.equal(tokenAccepted(`${TOKEN}x`, [TOKEN]), false);
    assert.equal(tokenAccepted(undefined, [TOKEN]), false);
    assert.equal(tokenAccepted("", []), false);
  });
});

describe("listen addresses", () => {
  test("[host:]port, IPv6 in brackets; no host means 127.0.0.1", () => {
    assert.deepEqual(parseListenAddress("8080"), { host: "127.0.0.1", port: 8080 });
    assert.deepEqual(parseListenAddress("0.0.0.0:0"), { host: "0.0.0.0", port: 0 });
    assert.deepEqual(parseListenAddress("[::1]:9000"), { host: "::1", port: 9000 });
    assert.deepEqual(parseListenAddress("localhost:1"), { host: "localhost", port: 1 });
    for (const bad of ["", "http", "70000", ":80", "::1:80", "host:-1", "host:8o"]) {
      assert.throws(() => parseListenAddress(bad), (e) => isGatewayError(e, "USAGE"), bad);
    }
  });

  test("loopback: 127/8, ::1, localhost, mapped IPv4; nothing else", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) assert.equal(isLoopback(h), true, h);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "128.0.0.1", "localhost.example.com"]) assert.equal(isLoopback(h), false, h);
  });

  test("the URL a client uses", () => {
    assert.equal(endpointUrl("127.0.0.1", 8080), "http://127.0.0.1:8080/mcp");
    assert.equal(endpointUrl("::1", 8080), "http://[::1]:8080/mcp");
    assert.equal(endpointUrl("0.0.0.0", 81), "http://127.0.0.1:81/mcp");
  });
});

describe("checkRequest", () => {
  const local = { tokens: [TOKEN], loopback: true };
  const auth = { authorization: `Bearer ${TOKEN}` };

  test("a local client with the token passes, with or without a local Origin", () => {
    assert.equal(checkRequest({ host: "127.0.0.1:3000", ...auth }, local), undefined);
    assert.equal(checkRequest({ host: "localhost:3000", origin: "http://localhost:5173", ...auth }, local), undefined);
    assert.equal(checkRequest({ host: "[::1]:3000", origin: "http://[::1]:3000", ...auth }, local), undefined);
  });

  test("no token or a wrong one: 401", () => {
    assert.equal(checkRequest({ host: "127.0.0.1:3000" }, local)?.status, 401);
    assert.match(checkRequest({ host: "127.0.0.1:3000" }, local)!.message, /required/);
    const wrong = checkRequest({ host: "127.0.0.1:3000", authorization: `Bearer ${TOKEN}0` }, local);
    assert.equal(wrong?.status, 401);
    assert.match(wrong!.message, /not accepted/);
  });

  test("a foreign Origin: 403 even with the token; an opaque one too", () => {
    assert.equal(checkRequest({ host: "127.0.0.1:3000", origin: "https://evil.example", ...auth }, local)?.status, 403);
    assert.equal(checkRequest({ host: "127.0.0.1:3000", origin: "null", ...auth }, local)?.status, 403);
  });

  test("DNS rebinding: a loopback listener refuses a Host that is not this machine (403)", () => {
    const r = checkRequest({ host: "evil.example:3000", origin: "http://evil.example:3000", ...auth }, local);
    assert.equal(r?.status, 403);
    assert.match(r!.message, /Host/);
    assert.equal(checkRequest({ ...auth }, local)?.status, 403);
  });

  test("a team server beyond loopback: any Host, Origin only its own host's, token always", () => {
    const team = { tokens: [TOKEN], loopback: false };
    assert.equal(checkRequest({ host: "mcp.team.example", ...auth }, team), undefined);
    assert.equal(checkRequest({ host: "mcp.team.example", origin: "https://mcp.team.example", ...auth }, team), undefined);
    assert.equal(checkRequest({ host: "mcp.team.example", origin: "https://evil.example", ...auth }, team)?.status, 403);
    assert.equal(checkRequest({ host: "mcp.team.example" }, team)?.status, 401);
  });

  test("no tokens configured (a loopback listener may run so): Origin and Host still checked", () => {
    const open = { tokens: [], loopback: true };
    assert.equal(checkRequest({ host: "127.0.0.1:1" }, open), undefined);
    assert.equal(checkRequest({ host: "127.0.0.1:1", origin: "https://evil.example" }, open)?.status, 403);
  });
});
