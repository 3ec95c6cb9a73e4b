// The browser command: $BROWSER first (its `%s`, its colon list), else the platform's opener; the URL is
// always one argument, never read by a shell.
import { test } from "node:test";
import assert from "node:assert/strict";
import { browserCommand } from "../../src/auth/browser.js";

const url = "http://127.0.0.1:9/authorize?a=1&b=$(touch /tmp/x);c=`id`";

test("$BROWSER: the first of a colon list, the URL appended or put at %s", () => {
  assert.deepEqual(browserCommand(url, { BROWSER: "firefox --new-tab:chromium" }, "linux"), { command: "firefox", args: ["--new-tab", url] });
  assert.deepEqual(browserCommand(url, { BROWSER: "w3m -o x=%s -dump" }, "linux"), { command: "w3m", args: ["-o", `x=${url}`, "-dump"] });
});

test("no $BROWSER: the platform's opener, with no shell in between", () => {
  assert.deepEqual(browserCommand(url, {}, "linux"), { command: "xdg-open", args: [url] });
  assert.deepEqual(browserCommand(url, {}, "darwin"), { command: "open", args: [url] });
  assert.deepEqual(browserCommand(url, { BROWSER: " " }, "win32"), { command: "rundll32", args: ["url.dll,FileProtocolHandler", url] });
});
