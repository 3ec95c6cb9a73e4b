// A downstream server's environment: the fixed base variables, then its own env; nothing else of the
// process that started the primary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { serverEnv } from "../../src/downstream/baseEnv.js";

test("POSIX: the base variables present, the server's env over them, nothing else", () => {
  const from = { PATH: "/usr/bin", HOME: "/home/me", LANG: "de_DE.UTF-8", TMPDIR: "/tmp/x", ANTHROPIC_API_KEY: "secret", BASH_FUNC_x: "() { :; }", SHELL: "() { evil; }" };
  assert.deepEqual(serverEnv({ HOME: "/srv", TOKEN: "t" }, from, "linux"), { PATH: "/usr/bin", HOME: "/srv", LANG: "de_DE.UTF-8", TMPDIR: "/tmp/x", TOKEN: "t" });
});

test("Windows: the essentials, matched whatever their case", () => {
  const from = { Path: "C:\\Windows", SYSTEMROOT: "C:\\Windows", ComSpec: "cmd.exe", PATHEXT: ".COM;.EXE;.CMD", APPDATA: "C:\\a", SECRET: "s" };
  assert.deepEqual(serverEnv({}, from, "win32"), { PATH: "C:\\Windows", SystemRoot: "C:\\Windows", ComSpec: "cmd.exe", PATHEXT: ".COM;.EXE;.CMD", APPDATA: "C:\\a" });
});
