// Windows has no mode bits: a new folder inherits its parent's ACL, which under a profile is usually the
// user, SYSTEM and Administrators, but need not be (a state dir under C:\ProgramData or a shared drive).
// The state dir gets an explicit owner-only ACL at creation: inheritance removed, full control for the
// current user alone, inherited by what is created inside.
import { execFileSync } from "node:child_process";
import { logger } from "../log.js";
import { currentSid } from "./windowsPipe.js";

/** icacls arguments giving `sid` alone full control of `dir` and everything created in it. */
export function ownerOnlyAclArgs(dir: string, sid: string): string[] {
  return [dir, "/inheritance:r", "/grant:r", `*${sid}:(OI)(CI)F`];
}

/** Applies the owner-only ACL; a failure is logged, not fatal (the profile's inherited ACL still applies). */
export function applyOwnerOnlyAcl(dir: string, run: (args: string[]) => void = (args) => void execFileSync("icacls", args, { windowsHide: true, stdio: "ignore" }), sid?: () => string): void {
  try {
    run(ownerOnlyAclArgs(dir, (sid ?? currentSid)()));
  } catch (err) {
    logger("stateDir").warn(`could not restrict ${dir} to its owner with icacls: ${(err as Error).message}`);
  }
}
