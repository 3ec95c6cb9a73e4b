import { spawn } from "node:child_process";

/** The command that opens `url`: `$BROWSER` when set, else the platform's opener. Never through a shell. */
export function browserCommand(url: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): { command: string; args: string[] } {
  // $BROWSER is a colon-separated list of commands by convention; the first is used, `%s` marks the URL.
  // The URL comes from the authorization server's metadata: it is passed as one argument, never parsed by a
  // shell, so no character in it can run anything.
  const first = env.BROWSER?.split(platform === "win32" ? ";" : ":")[0]?.trim();
  if (first) {
    const words = first.split(/\s+/);
    const args = words.slice(1);
    const at = args.findIndex((a) => a.includes("%s"));
    if (at >= 0) args[at] = args[at]!.replace("%s", url);
    else args.push(url);
    return { command: words[0]!, args };
  }
  if (platform === "darwin") return { command: "open", args: [url] };
  // rundll32 opens the URL with the default browser without cmd.exe, which would read `&` in the URL.
  if (platform === "win32") return { command: "rundll32", args: ["url.dll,FileProtocolHandler", url] };
  return { command: "xdg-open", args: [url] };
}

/** Starts the browser on `url` without waiting for it; resolves false when no browser could be started. */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const { command, args } = browserCommand(url, env);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { stdio: "ignore", detached: true, env });
    } catch {
      return resolve(false);
    }
    child.once("error", () => resolve(false));
    child.once("spawn", () => {
      child.unref();
      resolve(true);
    });
  });
}
