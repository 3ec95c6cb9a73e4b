// Running the linux-arm64 binary on an x64 machine: qemu-user from Debian, the arm64 C and C++ runtimes it
// loads the binary against, and binfmt_misc so the kernel itself hands an arm64 file to qemu. The last one
// matters because a bridge starts its primary by exec'ing its own file (process.execPath, which qemu reports
// as the guest binary): without binfmt that exec fails and the primary "exits at start with code 2".
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const REGISTERED = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
const REGISTER = "/proc/sys/fs/binfmt_misc/register";
// qemu-user-binfmt's entry (argv[0] preserved through the "-binfmt-P" name, the file opened by the kernel).
const DEBIAN_ENTRY = "/usr/lib/binfmt.d/qemu-aarch64.conf";
/** Where libc6-arm64-cross puts the arm64 loader and libraries; qemu reads it from QEMU_LD_PREFIX. */
export const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
const PACKAGES = ["qemu-user", "qemu-user-binfmt", "libc6-arm64-cross", "libstdc++6-arm64-cross"];

/** How arm64 binaries run here: `binfmt` (exec works, so bridges start primaries), `qemu` (only as `qemu-aarch64 <file>`), or not at all. */
export type Arm64Emulation = { mode: "binfmt" | "qemu"; qemu: string; env: Record<string, string>; notes: string[] } | { mode: "none"; reason: string; notes: string[] };

const onPath = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim();
const isRoot = () => process.getuid?.() === 0;
const registered = () => existsSync(REGISTERED) && readFileSync(REGISTERED, "utf8").startsWith("enabled");

/**
 * Makes arm64 emulation available as far as this machine allows: installs Debian's packages and registers
 * qemu-aarch64 with binfmt_misc when running as root (as CI does), else uses whatever is already there.
 */
export function ensureArm64Emulation(): Arm64Emulation {
  const notes: string[] = [];
  if (process.platform !== "linux" || process.arch !== "x64") return { mode: "none", reason: "arm64 emulation is set up for linux-x64 hosts only", notes };
  let qemu = onPath("qemu-aarch64");
  if ((!qemu || !existsSync(ARM64_SYSROOT) || !existsSync(DEBIAN_ENTRY)) && isRoot() && onPath("apt-get")) {
    notes.push(`installing ${PACKAGES.join(" ")}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    try {
      execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore", env, timeout: 300_000 });
      execFileSync("apt-get", ["install", "-y", "-qq", ...PACKAGES], { stdio: "ignore", env, timeout: 600_000 });
    } catch (err) {
      notes.push(`apt-get failed: ${(err as Error).message.split("\n")[0]}`);
    }
    qemu = onPath("qemu-aarch64");
  }
  if (!qemu) return { mode: "none", reason: "qemu-aarch64 is not installed and cannot be (needs root and apt-get)", notes };
  if (!existsSync(ARM64_SYSROOT)) return { mode: "none", reason: `${ARM64_SYSROOT} is missing (Debian package libc6-arm64-cross)`, notes };
  const env = { QEMU_LD_PREFIX: ARM64_SYSROOT };
  if (!registered() && isRoot() && existsSync(DEBIAN_ENTRY)) {
    try {
      // systemd-binfmt does this at boot; in a container with no systemd nobody has, so do it ourselves.
      if (!existsSync(REGISTER)) execFileSync("mount", ["-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], { stdio: "ignore" });
      if (existsSync(REGISTERED)) writeFileSync(REGISTERED, "1"); // registered, but switched off
      else writeFileSync(REGISTER, readFileSync(DEBIAN_ENTRY, "utf8").trim());
      notes.push("registered qemu-aarch64 with binfmt_misc");
    } catch (err) {
      notes.push(`binfmt_misc registration refused: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return registered() ? { mode: "binfmt", qemu, env, notes } : { mode: "qemu", qemu, env, notes };
}
