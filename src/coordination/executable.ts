// What a gateway program on disk says it is, asked the one way every version answers: `--version`. Used
// before anything is handed over to a program, so no primary is ever replaced by one that cannot start.
import { execFile } from "node:child_process";
import { accessSync, constants, statSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { GatewayError } from "../errors.js";
import { parseSemVer } from "./semver.js";

/** A gateway program: the executable and the arguments before the gateway's own (none for the binary). */
export interface Program {
  command: string;
  args: string[];
}

/** How long a program may take to print its version (a 100 MB binary's first start on a cold, busy disk). */
const VERSION_TIMEOUT_MS = 15_000;

/**
 * Runs `program --version` and returns the version it prints. Throws BAD_EXECUTABLE, saying why, when it
 * does not start, fails, hangs past the bound or prints something that is not a version.
 */
export function probeVersion(program: Program, timeoutMs = VERSION_TIMEOUT_MS): Promise<string> {
  const shown = [program.command, ...program.args].join(" ");
  return new Promise((done, fail) => {
    execFile(
      program.command,
      [...program.args, "--version"],
      // No client's cwd or stdin: the same conditions as the primary it would become.
      { cwd: homedir(), timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024, windowsHide: true, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number | null; signal?: string | null };
          const why =
            typeof e.code === "string"
              ? `it cannot be started (${e.code})`
              : e.killed
                ? `it did not answer --version within ${Math.round(timeoutMs / 1000)} s`
                : `--version failed (${e.signal ?? `exit code ${e.code}`})${stderr.trim() ? `: ${stderr.trim().split("\n")[0]}` : ""}`;
          fail(new GatewayError("BAD_EXECUTABLE", `${shown}: ${why}`));
          return;
        }
        const version = stdout.trim();
        if (!parseSemVer(version)) {
          const said = version ? `printed ${JSON.stringify(version.split("\n")[0]!.slice(0, 80))}` : "printed nothing";
          fail(new GatewayError("BAD_EXECUTABLE", `${shown}: --version ${said}, not a claude-mpm-gateway version`));
          return;
        }
        done(version);
      },
    );
  });
}

/**
 * Checks a path named on the command line (`restart --exec`) before anything is asked of the primary: it
 * exists, is a regular file we may execute, and answers `--version` with a version. Returns its absolute
 * path and that version; throws BAD_EXECUTABLE with the reason.
 */
export async function checkExecutable(path: string, cwd = process.cwd()): Promise<{ path: string; version: string }> {
  const abs = isAbsolute(path) ? path : resolve(cwd, path);
  let st: Stats;
  try {
    st = statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GatewayError("BAD_EXECUTABLE", `${abs}: ${code === "ENOENT" ? "no such file" : `cannot be read (${code})`}`);
  }
  if (!st.isFile()) throw new GatewayError("BAD_EXECUTABLE", `${abs}: not a file`);
  if (process.platform !== "win32") {
    // The mode bits too: access() lets root "execute" any file, and a shell would then run a text file.
    let ok = (st.mode & 0o111) !== 0;
    try {
      accessSync(abs, constants.X_OK);
    } catch {
      ok = false;
    }
    if (!ok) throw new GatewayError("BAD_EXECUTABLE", `${abs}: not executable (chmod +x it)`);
  }
  return { path: abs, version: await probeVersion({ command: abs, args: [] }) };
}
