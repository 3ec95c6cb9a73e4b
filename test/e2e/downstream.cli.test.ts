// `tools` and `test` show what a client would be served, downstream servers included: asked of the running
// primary when there is one (its servers are not started twice), else served by the command itself.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { connectClient, expectNoProcessLeft, installBinary, run, stopGateway, tempHome, type Install } from "./harness.js";
import { SERVERS, downstreamStatus, waitForTools, writeConfig } from "./downstreamKit.js";

let install: Install;
before(() => {
  install = installBinary();
});
after(() => install.cleanup());

test("tools and test include downstream tools, with and without a running primary", async () => {
  const home = tempHome();
  writeConfig(home, { flaky: SERVERS.flaky(join(home, "mcp")) });

  // No primary: the command starts the server itself, lists, and stops it again.
  const local = run(install, home, ["tools"]);
  assert.equal(local.status, 0, local.stderr);
  const localNames = local.stdout.trimEnd().split("\n").map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(localNames.slice(0, 5), ["echo", "calculator", "system_info", "health_check", "document_summarizer"]);
  assert.ok(localNames.includes("flaky__pid"), localNames.join(" "));
  const localPid = run(install, home, ["test", "flaky__pid"]);
  assert.equal(localPid.status, 0, localPid.stderr);
  await expectNoProcessLeft(install.bin);

  // With a primary: the answer comes from its downstream process, the one every client shares.
  const { client } = await connectClient(install, home);
  await waitForTools(client, "flaky's tools", (names) => names.includes("flaky__pid"));
  const sharedPid = downstreamStatus(install, home).find((d) => d.name === "flaky")?.pid;
  const viaPrimary = run(install, home, ["test", "flaky__pid"]);
  assert.equal(viaPrimary.status, 0, viaPrimary.stderr);
  assert.equal(viaPrimary.stdout.trim(), String(sharedPid));
  assert.notEqual(viaPrimary.stdout.trim(), localPid.stdout.trim());
  const listed = run(install, home, ["tools", "--json"]);
  assert.ok((JSON.parse(listed.stdout) as Array<{ name: string }>).some((t) => t.name === "flaky__pid"));
  const unknown = run(install, home, ["test", "flaky__nope"]);
  assert.equal(unknown.status, 2);
  await client.close();
  stopGateway(install, home);
  await expectNoProcessLeft(install.bin);
});
